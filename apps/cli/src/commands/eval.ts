import { LatError } from '@lat/core';
import type { LengthSpec } from '@lat/layers';
import { averageMacs, loadDev, openModel, scoreConfig } from '../evaluation.js';
import { type LengthFlags, lengthsFromFlags, pointSpec } from '../lengths.js';
import { loadCliModel, loadFrontier, resolveTask } from '../model.js';
import { type Output, table } from '../output.js';

export interface EvalFlags extends LengthFlags {
  model: string;
  dev: string;
  task?: string;
  frontier?: string;
  /** Evaluate every point of the frontier. */
  all?: boolean;
  threads?: number;
}

export async function evalCommand(f: EvalFlags, out: Output) {
  const model = await loadCliModel(f.model);
  const task = resolveTask(model, f.task);
  const frontier = loadFrontier(model, f.frontier);
  const dev = loadDev(model, task, f.dev);
  const m = await openModel(model, f.threads);
  const fullMacs = averageMacs(model, dev.data);
  try {
    const specs: { label: string; spec?: LengthSpec }[] = [];
    if (f.all) {
      if (!frontier)
        throw new LatError('NOT_FOUND', 'no frontier to evaluate; run `lat search` first', '--all');
      for (const p of frontier.points) {
        const spec = pointSpec(frontier, p.lengths);
        specs.push({ label: p.lengths.map((l) => l.toFixed(2)).join(' '), spec });
      }
    } else {
      const { spec } = lengthsFromFlags(f, model.config, frontier);
      specs.push({
        label: spec ? (spec.form === 'ratio' ? spec.ratios : spec.lengths).join(' ') : 'full',
        ...(spec ? { spec } : {}),
      });
    }
    const results: {
      configuration: string;
      lengths: LengthSpec | null;
      metrics: Record<string, number>;
      macs: number;
      macsRatio: number;
    }[] = [];
    for (const s of specs) {
      const r = await scoreConfig(m, dev, s.spec);
      const macs = averageMacs(model, dev.data, s.spec);
      results.push({
        configuration: s.label,
        lengths: s.spec ?? null,
        metrics: r.metrics,
        macs,
        macsRatio: macs / fullMacs,
      });
    }
    out.result({ command: 'eval', task: task.name, examples: dev.data.length, fullMacs, results }, () => {
      const names = task.metrics;
      out.info(
        `${task.name} dev: ${dev.data.length} examples, full model ${(fullMacs / 1e6).toFixed(2)} MMACs per example`,
      );
      out.info(
        table(
          results.map((r) => [
            r.configuration,
            ...names.map((n) => r.metrics[n]!.toFixed(4)),
            `${(r.macsRatio * 100).toFixed(1)}%`,
          ]),
          ['configuration', ...names, 'MACs'],
        ),
      );
    });
    return results;
  } finally {
    await m.release();
  }
}
