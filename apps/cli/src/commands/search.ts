import { join } from 'node:path';
import { writeFileAtomic } from '@lat/core/node';
import { defaultLengthDrop } from '@lat/layers';
import { evolutionarySearch, type FrontierFile, latencyObjective, toFrontierFile } from '@lat/search';
import { averageMacs, devScorer } from '../evaluation.js';
import { frontierFile, loadCliModel, openPipeline, writeJson } from '../model.js';
import { type Output, table } from '../output.js';
import { frontierSvg } from '../plot.js';
import { measureLatencyTable } from './bench.js';

export interface SearchFlags {
  model: string;
  dev: string;
  task?: string;
  out?: string;
  objective: 'macs' | 'latency';
  iterations: number;
  population: number;
  mutations: number;
  crossovers: number;
  seed: number;
  /** Genes per layer are 1..scale; a point's ratio is gene / scale. */
  scale: number;
  plot?: string;
  threads?: number;
}

/** Searches ratio-form configurations (fractions of each input's real length) on the dev set. */
export async function searchCommand(f: SearchFlags, out: Output): Promise<FrontierFile> {
  const model = await loadCliModel(f.model);
  const p = await openPipeline(model, { threads: f.threads });
  const toSpec = (genes: readonly number[]) => ({
    form: 'ratio' as const,
    ratios: genes.map((g) => g / f.scale),
  });
  try {
    const dev = devScorer(model, p, f.dev, f.task);
    const metricName = dev.metricNames[0]!;
    const meanLen = Math.round(dev.items.reduce((a, e) => a + e.ids.length, 0) / dev.items.length);
    const latency =
      f.objective === 'latency'
        ? latencyObjective(await measureLatencyTable(p.model, model.config, meanLen))
        : undefined;
    const cost = latency
      ? (genes: readonly number[]) =>
          latency(genes.map((g) => Math.max(1, Math.ceil((g / f.scale) * meanLen))))
      : (genes: readonly number[]) => averageMacs(model, dev.items, toSpec(genes));
    const result = await evolutionarySearch({
      numLayers: model.config.numLayers,
      maxLength: f.scale,
      minLength: 1,
      // The smallest sub-model LengthDrop trained bounds the cost from below.
      ratioBound: trainedRatioBound(model.info?.lengthDrop) ?? defaultLengthDrop.ratioBound,
      iterations: f.iterations,
      populationSize: f.population,
      mutations: f.mutations,
      crossovers: f.crossovers,
      seed: f.seed,
      cost,
      evaluate: async (genes) => (await dev.score(toSpec(genes)))[metricName]!,
      onProgress: (p) => {
        out.event({ event: 'iteration', ...p });
        out.info(
          `iteration ${p.iteration}/${p.iterations}: ${p.evaluated} evaluated, frontier ${p.frontierSize}, best ${metricName} ${p.best.metric.toFixed(4)}`,
        );
      },
    });
    const file = toFrontierFile(result, {
      model: { name: model.name, fingerprint: model.fingerprint, numLayers: model.config.numLayers },
      dataset: f.dev,
      metricName,
      lengthForm: 'ratio',
      costUnit: latency ? 'ms' : 'MACs',
      ...(latency
        ? {
            latencyMs: (genes: readonly number[]) =>
              result.frontier.find((p) => p.lengths === genes)?.cost ?? 0,
          }
        : {}),
    });
    const target = f.out ?? join(f.model, frontierFile);
    writeJson(target, file);
    if (f.plot) writeFileAtomic(f.plot, frontierSvg(file));
    out.result({ command: 'search', frontier: file, path: target }, () => {
      out.info(`\nfrontier (${file.points.length} points, area ${file.area.toFixed(4)}) → ${target}`);
      out.info(frontierTable(file));
    });
    return file;
  } finally {
    await p.dispose();
  }
}

function trainedRatioBound(lengthDrop: unknown): number | undefined {
  const r = (lengthDrop as { ratioBound?: unknown } | null | undefined)?.ratioBound;
  return typeof r === 'number' ? r : undefined;
}

export function frontierTable(file: FrontierFile): string {
  return table(
    file.points.map((p) => [
      `${(p.costRatio * 100).toFixed(1)}%`,
      `${(1 / p.costRatio).toFixed(2)}×`,
      p.metric.toFixed(4),
      p.lengths.map((l) => (file.lengthForm === 'ratio' ? l.toFixed(2) : String(l))).join(' '),
    ]),
    [
      'cost',
      'speed-up',
      file.metric.name,
      file.lengthForm === 'ratio' ? 'ratios per layer' : 'lengths per layer',
    ],
  );
}
