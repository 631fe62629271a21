import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { encoderMacs, LatError, type LengthSpec, lengthDefaults } from '@lat/core';
import { writeFileAtomic } from '@lat/core/node';
import { dtypeFingerprint, type ModelDtype, pooledLatLayers } from '@lat/layers';
import {
  evolutionarySearch,
  type FrontierFile,
  latencyObjective,
  type SearchState,
  toFrontierFile,
} from '@lat/search';
import { selectionMetric } from '@lat/train';
import { deviceFor } from '../device.js';
import { averageMacs, devScorer } from '../evaluation.js';
import { type LatencyDevice, latencyTableFor } from '../latency.js';
import {
  type CliModel,
  frontierFileFor,
  loadCliModel,
  openPipeline,
  paddedLengthOf,
  writeJson,
} from '../model.js';
import { type Output, table } from '../output.js';
import { frontierSvg } from '../plot.js';

export interface SearchFlags {
  model: string;
  dev: string;
  task?: string;
  out?: string;
  /**
   * macs: MACs over each input's real length (ours); padded-macs: MACs of an input padded to
   * --max-length (the reference's); latency: a per-layer latency table measured on this machine.
   */
  objective: 'macs' | 'padded-macs' | 'latency';
  /** ratio: fractions of each input's real length; absolute: keep counts over --max-length (the reference's form). */
  form?: 'ratio' | 'absolute';
  /** The padded length absolute lengths and padded MACs refer to (default: the training max length, else 128). */
  maxLength?: number;
  iterations: number;
  population: number;
  mutations: number;
  crossovers: number;
  seed: number;
  /** Ratio form: genes per layer are 2..scale; a point's ratio is gene / scale. */
  scale: number;
  plot?: string;
  threads?: number;
  /** Measure the latency table again even when the model has one for this machine. */
  remeasure?: boolean;
  /** The device a latency objective is measured on: onnxruntime-node (CPU) or onnxruntime-web's wasm. */
  device?: LatencyDevice;
  /** Search below the sub-models LengthDrop trained (default: the trained bound). */
  ratioBound?: number;
  /** q8: search the int8 graph; its frontier is its own (default file frontier-q8.json). */
  dtype?: ModelDtype;
}

/** Searches length configurations on the dev set, in ratio or absolute (reference) form. */
export async function searchCommand(f: SearchFlags, out: Output): Promise<FrontierFile> {
  if (f.ratioBound !== undefined && !(f.ratioBound > 0 && f.ratioBound < 1))
    throw new LatError(
      'BAD_INPUT',
      `${f.ratioBound} is not a fraction in (0, 1) of a layer's tokens to drop`,
      '--ratio-bound',
    );
  const model = await loadCliModel(f.model);
  if (model.adapler)
    throw new LatError(
      'UNSUPPORTED',
      "lat search finds one length configuration per budget, but an AdapLeR model picks each input's lengths itself (its predictors and η); for other speed/accuracy trade-offs train AdapLeR at other φ (lat train --method adapler --phi …) and pick on the φ-sweep frontier",
      f.model,
    );
  const pooled = model.config.pooling ? pooledSearchSpace(model, f) : undefined;
  const dtype = f.dtype ?? 'fp32';
  if (dtype === 'q8' && f.objective === 'latency')
    throw new LatError(
      'UNSUPPORTED',
      'per-layer latency tables are measured on fp32 graphs; search the q8 graph with --objective macs or padded-macs',
      '--objective',
    );
  const p = await openPipeline(model, { threads: f.threads, dtype });
  const form = f.form ?? (pooled ? 'absolute' : 'ratio');
  const padded = f.maxLength ?? paddedLengthOf(model);
  const top = pooled ? pooled.width : form === 'absolute' ? padded : f.scale;
  /** A pooled model's genes are its LAT layers' lengths: the schedule's rows come first. */
  const lengthsOf = (genes: readonly number[]) => [...(pooled?.fixed ?? []), ...genes];
  const toSpec = (genes: readonly number[]): LengthSpec =>
    form === 'absolute'
      ? { form: 'absolute', lengths: lengthsOf(genes), paddedLength: padded }
      : { form: 'ratio', ratios: genes.map((g) => g / f.scale) };
  /** Keep counts of one input of `n` tokens. */
  const countsFor = (genes: readonly number[], n: number) =>
    lengthsOf(genes).map((g) =>
      form === 'absolute' ? Math.min(g, n) : Math.max(1, Math.ceil((g / f.scale) * n - 1e-9)),
    );
  const paddedMacs = (genes: readonly number[]) =>
    encoderMacs(model.config, padded, countsFor(genes, padded), { qaHead: model.span });
  try {
    const dev = devScorer(model, p, f.dev, f.task);
    const select = selectionMetric(dev.metricNames);
    const meanLen = Math.round(dev.items.reduce((a, e) => a + e.ids.length, 0) / dev.items.length);
    const device = deviceFor(f.device ?? 'node', f.threads);
    const latency =
      f.objective === 'latency'
        ? await latencyTableFor(model, device.name, meanLen, device.open, { remeasure: f.remeasure ?? false })
        : undefined;
    if (latency)
      out.info(
        `${latency.reused ? 'reusing the' : 'measured a'} per-layer latency table for ${device.name} at ${meanLen} tokens (fixed ${latency.table.fixedMs.toFixed(2)} ms)`,
      );
    const latencyOf = latency ? latencyObjective(latency.table) : undefined;
    // The smallest sub-model LengthDrop trained bounds the cost from below.
    // A pooled model trained no sub-models: its LAT layers are searched down to minLength.
    const ratioBound =
      f.ratioBound ?? trainedRatioBound(model.info?.lengthDrop) ?? (pooled ? 1 : lengthDefaults.ratioBound);
    const target = f.out ?? join(f.model, frontierFileFor(dtype));
    // A killed search continues from its state file when everything it depends on is unchanged.
    const statePath = target.replace(/(\.json)?$/, '.search-state.json');
    const checkpoint = searchCheckpoint(statePath, {
      model: dtypeFingerprint(model.fingerprint, dtype),
      devSha256: createHash('sha256').update(readFileSync(f.dev)).digest('hex'),
      task: dev.task,
      objective: f.objective,
      form,
      padded,
      scale: f.scale,
      latencyTable: latency?.table ?? null,
      search: [f.iterations, f.population, f.mutations, f.crossovers, f.seed, ratioBound],
    });
    if (checkpoint.resume)
      out.info(
        `resuming the search from ${statePath} (${Math.max(0, checkpoint.resume.rounds - 1)} of ${f.iterations} iterations done)`,
      );
    const cost =
      f.objective === 'latency'
        ? (genes: readonly number[]) => latencyOf!(countsFor(genes, meanLen))
        : f.objective === 'padded-macs'
          ? paddedMacs
          : (genes: readonly number[]) => averageMacs(model, dev.items, toSpec(genes));
    const result = await evolutionarySearch({
      numLayers: model.config.numLayers - (pooled?.fixed.length ?? 0),
      maxLength: top,
      minLength: lengthDefaults.minLength,
      ratioBound,
      iterations: f.iterations,
      populationSize: f.population,
      mutations: f.mutations,
      crossovers: f.crossovers,
      seed: f.seed,
      cost,
      evaluate: async (genes) => select.of(await dev.score(toSpec(genes))),
      checkpoint,
      onProgress: (step) => {
        out.event({ event: 'iteration', ...step });
        out.info(
          `iteration ${step.iteration}/${step.iterations}: ${step.evaluated} evaluated (+${step.added.mutants} mutants, +${step.added.crossovers} crossovers), frontier ${step.frontierSize}, best ${select.name} ${step.best.metric.toFixed(4)}`,
        );
      },
    });
    const file = toFrontierFile(result, {
      model: {
        name: model.name,
        fingerprint: dtypeFingerprint(model.fingerprint, dtype),
        numLayers: model.config.numLayers,
      },
      dataset: f.dev,
      metricName: select.name,
      lengthForm: form,
      costUnit: latency ? 'ms' : 'MACs',
      objective: f.objective,
      paddedMacs: { length: padded, of: paddedMacs },
      ...(latency
        ? {
            latencyMs: (genes: readonly number[]) => latencyOf!(countsFor(genes, meanLen)),
            latencyTable: latency.table,
          }
        : {}),
      ...(model.info?.recipe ? { training: model.info.recipe } : {}),
    });
    if (pooled) file.points = file.points.map((p) => ({ ...p, lengths: lengthsOf(p.lengths) }));
    writeJson(target, file);
    rmSync(statePath, { force: true });
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

/**
 * A pooled model's search space: the lengths of the layers after its last pooling (at most the
 * pooled width), as absolute counts; MACs objectives only.
 */
function pooledSearchSpace(model: CliModel, f: SearchFlags) {
  const space = pooledLatLayers(model.config);
  if (!space)
    throw new LatError(
      'UNSUPPORTED',
      "no layer follows this model's last pooling, so it has no lengths to search (it runs at its pooling schedule)",
      f.model,
    );
  if (f.form === 'ratio')
    throw new LatError(
      'BAD_INPUT',
      'a pooled model searches keep counts: use --form absolute (the default for it)',
      '--form',
    );
  if (f.objective === 'latency')
    throw new LatError(
      'UNSUPPORTED',
      'per-layer latency tables are measured on unpooled models; search a pooled model with --objective macs or padded-macs',
      '--objective',
    );
  return space;
}

/**
 * The search's state file: read back when it was saved for the same `key` (model, dev data, cost),
 * rewritten atomically after every evaluation.
 */
function searchCheckpoint(path: string, key: Record<string, unknown>) {
  let resume: SearchState | undefined;
  if (existsSync(path)) {
    const saved = JSON.parse(readFileSync(path, 'utf8')) as { key?: unknown; state?: SearchState };
    if (JSON.stringify(saved.key) === JSON.stringify(key)) resume = saved.state;
  }
  return {
    ...(resume ? { resume } : {}),
    save: (state: SearchState) => writeFileAtomic(path, JSON.stringify({ key, state })),
  };
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
      p.paddedMacsRatio !== undefined ? `${(p.paddedMacsRatio * 100).toFixed(1)}%` : '',
      p.metric.toFixed(4),
      p.lengths.map((l) => (file.lengthForm === 'ratio' ? l.toFixed(2) : String(l))).join(' '),
    ]),
    [
      'cost',
      'speed-up',
      `padded MACs (${file.paddedLength ?? '-'})`,
      file.metric.name,
      file.lengthForm === 'ratio' ? 'ratios per layer' : 'lengths per layer',
    ],
  );
}
