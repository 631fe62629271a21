import { LatError, type LengthSpec } from '@lat/core';
import { pointLengths } from '@lat/pipeline';
import { averageMacs, devScorer, paddedMacs } from '../evaluation.js';
import { type LengthFlags, lengthOptionsFromFlags } from '../lengths.js';
import { openModelView, paddedLengthOf } from '../model.js';
import { type Output, table } from '../output.js';
import { adaplerEval } from './adapler.js';
import { adaplerModelDir } from './adapler-sweep.js';

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
  const adapler = adaplerModelDir(f, out);
  if (adapler) return adaplerEval({ ...f, model: adapler }, out);
  // A model directory, or a bundle (lat.json + model.onnx): its frontier is the one in lat.json.
  const { model, pipeline: p } = await openModelView(f.model, {
    threads: f.threads,
    ...(f.frontier ? { frontier: f.frontier } : {}),
    ...(f.dtype ? { dtype: f.dtype } : {}),
  });
  try {
    // AdapLeR directories went to adaplerEval above; its bundles keep their own lengths per input.
    if (p.adapler)
      throw new LatError(
        'UNSUPPORTED',
        'this is an AdapLeR bundle: lat eval reads AdapLeR models from their directory (the one lat export read)',
        '--model',
      );
    const frontier = p.frontier;
    const options = lengthOptionsFromFlags(f, model.config, frontier !== undefined, paddedLengthOf(model));
    const dev = devScorer(model, p, f.dev, f.task);
    const fullMacs = averageMacs(model, dev.items);
    const padded = paddedLengthOf(model);
    const fullPadded = paddedMacs(model, padded);
    const specs: { label: string; spec?: LengthSpec }[] = [];
    if (f.all) {
      if (!frontier)
        throw new LatError('NOT_FOUND', 'no frontier to evaluate; run `lat search` first', '--all');
      for (const point of frontier.points) {
        const spec = pointLengths(frontier, point);
        specs.push({ label: point.lengths.map((l) => l.toFixed(2)).join(' '), spec });
      }
    } else {
      const { spec } = p.lengthsFor(options);
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
      /** MACs of one input padded to `paddedLength`, the paper's way of counting. */
      paddedMacs: number;
      paddedMacsRatio: number;
    }[] = [];
    for (const s of specs) {
      const metrics = await dev.score(s.spec);
      const macs = averageMacs(model, dev.items, s.spec);
      results.push({
        configuration: s.label,
        lengths: s.spec ?? null,
        metrics,
        macs,
        macsRatio: macs / fullMacs,
        paddedMacs: paddedMacs(model, padded, s.spec),
        paddedMacsRatio: paddedMacs(model, padded, s.spec) / fullPadded,
      });
    }
    const summary = {
      command: 'eval',
      task: dev.task,
      dtype: p.dtype,
      examples: dev.items.length,
      fullMacs,
      paddedLength: padded,
      training: model.info?.recipe ?? null,
      results,
    };
    out.result(summary, () => {
      const names = dev.metricNames;
      out.info(
        `${dev.task} dev (${p.dtype}): ${dev.items.length} examples, full model ${(fullMacs / 1e6).toFixed(2)} MMACs per example`,
      );
      out.info(
        table(
          results.map((r) => [
            r.configuration,
            ...names.map((n) => r.metrics[n]!.toFixed(4)),
            `${(r.macsRatio * 100).toFixed(1)}%`,
            `${(r.paddedMacsRatio * 100).toFixed(1)}%`,
          ]),
          ['configuration', ...names, 'MACs', `padded MACs (${padded})`],
        ),
      );
    });
    return results;
  } finally {
    await p.dispose();
  }
}
