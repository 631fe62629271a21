/**
 * The frontier file (JSON, versioned): the Pareto-optimal length configurations of one model on
 * one dataset, with cost, optional latency and metric, and how the search ran. Lengths are
 * absolute keep counts (out of `maxLength` tokens) or ratios of each input's real length.
 */
import { LatError } from '@lat/core';
import type { SearchResult } from './evolution.js';
import type { LatencyTable } from './latency.js';

/** One configuration on a frontier, with its cost relative to the full model and its metric. */
export interface FrontierPoint {
  lengths: number[];
  cost: number;
  /** cost / cost of the full model. */
  costRatio: number;
  latencyMs?: number;
  /**
   * MACs of one input padded to `paddedLength` at this configuration (how the LAT paper counts),
   * beside `cost` (MACs over each input's real length, when the cost unit is MACs).
   */
  paddedMacs?: number;
  paddedMacsRatio?: number;
  metric: number;
}

/** A frontier as saved (`frontier.json`): versioned, tied to a model by its fingerprint. */
export interface FrontierFile {
  schemaVersion: 1;
  kind: 'lat-frontier';
  model: { name: string; fingerprint: string; numLayers: number };
  dataset: string;
  metric: { name: string; higherIsBetter: true };
  lengthForm: 'absolute' | 'ratio';
  /** Absolute form: the padded sequence length the counts refer to. Ratio form: the gene scale. */
  maxLength: number;
  costUnit: 'MACs' | 'ms';
  /** What the cost measured: MACs over real lengths, MACs over the padded length, or latency. */
  objective?: 'macs' | 'padded-macs' | 'latency';
  fullCost: number;
  /** The padded length `paddedMacs` (and absolute lengths) refer to. */
  paddedLength?: number;
  /** The per-layer latency table a latency objective used (device, fixed cost, per-layer ms). */
  latencyTable?: LatencyTable;
  /** How the model was trained (its lat_training.json recipe), when known. */
  training?: unknown;
  points: FrontierPoint[];
  area: number;
  search: { seed: number; iterations: number; evaluated: number; params: Record<string, number> };
}

/** A search result as a frontier file, with costs relative to the full model and the frontier's area. */
export function toFrontierFile(
  r: SearchResult,
  o: {
    model: FrontierFile['model'];
    dataset: string;
    metricName: string;
    lengthForm: FrontierFile['lengthForm'];
    costUnit: FrontierFile['costUnit'];
    latencyMs?: (lengths: readonly number[]) => number;
    objective?: FrontierFile['objective'];
    /** MACs at the padded length, for genes as the search holds them. */
    paddedMacs?: { length: number; of: (genes: readonly number[]) => number };
    latencyTable?: LatencyTable;
    training?: unknown;
  },
): FrontierFile {
  const fullPadded = o.paddedMacs?.of(new Array<number>(r.params.numLayers).fill(r.params.maxLength));
  return {
    schemaVersion: 1,
    kind: 'lat-frontier',
    model: o.model,
    dataset: o.dataset,
    metric: { name: o.metricName, higherIsBetter: true },
    lengthForm: o.lengthForm,
    maxLength: r.params.maxLength,
    costUnit: o.costUnit,
    ...(o.objective ? { objective: o.objective } : {}),
    fullCost: r.upperCost,
    ...(o.paddedMacs ? { paddedLength: o.paddedMacs.length } : {}),
    ...(o.latencyTable ? { latencyTable: o.latencyTable } : {}),
    ...(o.training !== undefined ? { training: o.training } : {}),
    points: r.frontier.map((p) => ({
      lengths: o.lengthForm === 'ratio' ? p.lengths.map((l) => l / r.params.maxLength) : p.lengths,
      cost: p.cost,
      costRatio: p.cost / r.upperCost,
      ...(o.latencyMs ? { latencyMs: o.latencyMs(p.lengths) } : {}),
      ...(o.paddedMacs
        ? {
            paddedMacs: o.paddedMacs.of(p.lengths),
            paddedMacsRatio: o.paddedMacs.of(p.lengths) / fullPadded!,
          }
        : {}),
      metric: p.metric,
    })),
    area: r.area,
    search: {
      seed: r.params.seed,
      iterations: r.params.iterations,
      evaluated: r.evaluated.length,
      params: { ...r.params },
    },
  };
}

/** Validates a parsed frontier file; `expect` checks it was made for this model. */
export function parseFrontierFile(
  value: unknown,
  where = 'frontier.json',
  expect?: { numLayers?: number; fingerprint?: string },
): FrontierFile {
  const fail = (path: string, msg: string): never => {
    throw new LatError('BAD_FRONTIER', msg, `${where}#${path}`);
  };
  if (typeof value !== 'object' || value === null) return fail('', 'not a JSON object');
  const f = value as Record<string, unknown>;
  if (f['kind'] !== 'lat-frontier')
    fail('kind', `expected "lat-frontier"; is this a frontier file made by \`lat search\`?`);
  if (f['method'] === 'adapler')
    fail(
      'method',
      'this is an AdapLeR φ sweep, one model per point: give its directory as --model (with --budget) to lat eval, predict or bench',
    );
  if (f['schemaVersion'] !== 1)
    fail('schemaVersion', `this version reads schema 1, got ${JSON.stringify(f['schemaVersion'])}`);
  const model = f['model'] as Record<string, unknown> | undefined;
  if (!model || typeof model['numLayers'] !== 'number') return fail('model.numLayers', 'missing');
  if (f['lengthForm'] !== 'absolute' && f['lengthForm'] !== 'ratio')
    fail('lengthForm', 'must be "absolute" or "ratio"');
  if (typeof f['maxLength'] !== 'number' || f['maxLength'] < 1)
    fail('maxLength', 'must be a positive number');
  const points = f['points'];
  if (!Array.isArray(points) || points.length === 0) return fail('points', 'must be a non-empty array');
  const layers = model['numLayers'] as number;
  points.forEach((p: Record<string, unknown>, i) => {
    const l = p?.['lengths'];
    if (!Array.isArray(l) || l.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
      fail(`points[${i}].lengths`, 'must be an array of numbers');
    }
    if ((l as number[]).length !== layers) {
      fail(`points[${i}].lengths`, `has ${(l as number[]).length} values but model.numLayers is ${layers}`);
    }
    for (const k of ['cost', 'costRatio', 'metric']) {
      if (typeof p[k] !== 'number' || !Number.isFinite(p[k] as number))
        fail(`points[${i}].${k}`, 'must be a number');
    }
  });
  if (expect?.numLayers !== undefined && expect.numLayers !== layers) {
    fail(
      'model.numLayers',
      `the frontier was made for a ${layers}-layer model, this model has ${expect.numLayers}; re-run \`lat search\` for it`,
    );
  }
  if (expect?.fingerprint !== undefined && model['fingerprint'] !== expect.fingerprint) {
    fail(
      'model.fingerprint',
      `the frontier was made for other weights (${String(model['fingerprint'])}); re-run \`lat search\` for this model`,
    );
  }
  return value as FrontierFile;
}
