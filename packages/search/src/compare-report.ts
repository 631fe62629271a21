/**
 * The `lat compare` report (`compare.json`, versioned, validated on read): every method trained
 * from one checkpoint, its configurations with dev metrics, MACs and measured latency, and the
 * best configuration of each method under each budget. Written by the CLI, read by the
 * playground. Everything measured with a clock sits under a key named `timing`: the rest is
 * determined by the checkpoint, the data and the settings (same inputs and seed → same bytes).
 */
import { LatError } from '@lat/core';

export const compareSchemaVersion = 1;

/** One layer: the fraction of each input's tokens it keeps — mean and percentiles over the dev set. */
export interface KeptSpread {
  mean: number;
  p10: number;
  p50: number;
  p90: number;
}

export interface ConfigurationReport {
  label: string;
  /** Exactly what runs (the method's own JSON, e.g. `{ form: 'ratio', ratios: [...] }`). */
  settings: Record<string, unknown>;
  metrics: Record<string, number>;
  /** The selection metric (`report.metric`). */
  metric: number;
  /** Average MACs per dev example over real lengths, and its ratio to the starting checkpoint's. */
  macs: number;
  macsRatio: number;
  /** MACs of one input padded to `settings.maxLength`, and the ratio. */
  paddedMacs: number;
  paddedMacsRatio: number;
  /** Per layer, how much of each dev input is kept (methods that drop tokens). */
  kept?: KeptSpread[];
  timing: {
    /** Mean ms per input, inputs run one at a time; and the reference's, measured alternately. */
    batch1Ms: number;
    batch1Speedup: number;
    /** ms of one batch of dev inputs; and the speed-up over the reference on the same batch. */
    batch32Ms: number;
    batch32Speedup: number;
  };
}

export interface MethodReport {
  name: string;
  summary: string;
  /** How it was trained/derived. */
  recipe: Record<string, unknown>;
  params: number;
  /** Bytes of the weights file a user ships. */
  bytes: number;
  configurations: ConfigurationReport[];
  /** Per budget of the grid: the index of the best configuration within it, or null. */
  best: { budget: number; configuration: number | null }[];
}

export interface CompareExample {
  tokens: string[];
  /** Methods that drop tokens: the positions each layer keeps at the budget's best configuration. */
  kept: { method: string; budget: number; configuration: number; layers: number[][] }[];
}

export interface CompareReport {
  schemaVersion: typeof compareSchemaVersion;
  kind: 'lat-compare';
  model: {
    dir: string;
    fingerprint: string;
    numLayers: number;
    hidden: number;
    params: number;
    bytes: number;
  };
  task: string;
  /** The metric configurations are judged by. */
  metric: string;
  data: { train: string; dev: string; trainSha256: string; devSha256: string; devExamples: number };
  settings: {
    seed: number;
    epochs: number;
    batchSize: number;
    lr: number;
    maxLength: number;
    options: Record<string, number | number[]>;
    latency: { batch1Inputs: number; batch32Inputs: number; runs: number };
  };
  /** Budgets: fractions of the starting checkpoint's real-length MACs (1 is always included). */
  budgets: number[];
  /** The starting checkpoint at full length: what ratios and speed-ups are relative to. */
  reference: { macs: number; paddedMacs: number };
  methods: MethodReport[];
  /** A few dev inputs: their tokens and what each method's best configuration per budget keeps. */
  examples: CompareExample[];
  timing: {
    date: string;
    seconds: number;
    machine: { cpu: string; cores: number; threads: number | null; node: string };
    referenceBatch1Ms: number;
    referenceBatch32Ms: number;
  };
}

/** Validates a parsed compare.json; errors name the field at fault. */
export function parseCompareReport(value: unknown, where = 'compare.json'): CompareReport {
  const fail = (path: string, msg: string): never => {
    throw new LatError('BAD_FILE', msg, `${where}#${path}`);
  };
  const obj = (v: unknown, path: string) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : fail(path, 'must be an object');
  const num = (v: unknown, path: string) =>
    typeof v === 'number' && Number.isFinite(v) ? v : fail(path, 'must be a finite number');
  const str = (v: unknown, path: string) => (typeof v === 'string' ? v : fail(path, 'must be a string'));
  const arr = (v: unknown, path: string) => (Array.isArray(v) ? v : fail(path, 'must be an array'));
  const r = obj(value, '');
  if (r['kind'] !== 'lat-compare')
    fail('kind', 'expected "lat-compare"; is this a report made by `lat compare`?');
  if (r['schemaVersion'] !== compareSchemaVersion)
    fail(
      'schemaVersion',
      `this version reads schema ${compareSchemaVersion}, got ${JSON.stringify(r['schemaVersion'])}`,
    );
  const model = obj(r['model'], 'model');
  for (const k of ['numLayers', 'hidden', 'params', 'bytes']) num(model[k], `model.${k}`);
  str(r['task'], 'task');
  str(r['metric'], 'metric');
  const budgets = arr(r['budgets'], 'budgets').map((b, i) => num(b, `budgets[${i}]`));
  const reference = obj(r['reference'], 'reference');
  num(reference['macs'], 'reference.macs');
  const timing = obj(r['timing'], 'timing');
  num(timing['referenceBatch32Ms'], 'timing.referenceBatch32Ms');
  arr(r['methods'], 'methods').forEach((m, i) => {
    const at = `methods[${i}]`;
    const method = obj(m, at);
    str(method['name'], `${at}.name`);
    for (const k of ['params', 'bytes']) num(method[k], `${at}.${k}`);
    const configurations = arr(method['configurations'], `${at}.configurations`);
    configurations.forEach((c, j) => {
      const cat = `${at}.configurations[${j}]`;
      const conf = obj(c, cat);
      str(conf['label'], `${cat}.label`);
      for (const k of ['metric', 'macs', 'macsRatio', 'paddedMacs', 'paddedMacsRatio'])
        num(conf[k], `${cat}.${k}`);
      if (conf['kept'] !== undefined)
        arr(conf['kept'], `${cat}.kept`).forEach((k, l) => {
          const layer = obj(k, `${cat}.kept[${l}]`);
          for (const q of ['mean', 'p10', 'p50', 'p90']) num(layer[q], `${cat}.kept[${l}].${q}`);
        });
      const t = obj(conf['timing'], `${cat}.timing`);
      for (const k of ['batch1Ms', 'batch1Speedup', 'batch32Ms', 'batch32Speedup'])
        num(t[k], `${cat}.timing.${k}`);
    });
    const best = arr(method['best'], `${at}.best`);
    if (best.length !== budgets.length)
      fail(`${at}.best`, `has ${best.length} entries for ${budgets.length} budgets`);
    best.forEach((b, j) => {
      const c = obj(b, `${at}.best[${j}]`)['configuration'];
      if (c !== null && !(Number.isInteger(c) && (c as number) >= 0 && (c as number) < configurations.length))
        fail(`${at}.best[${j}].configuration`, `must be null or an index below ${configurations.length}`);
    });
  });
  arr(r['examples'], 'examples').forEach((e, i) => {
    const ex = obj(e, `examples[${i}]`);
    const tokens = arr(ex['tokens'], `examples[${i}].tokens`).length;
    arr(ex['kept'], `examples[${i}].kept`).forEach((k, j) => {
      const at = `examples[${i}].kept[${j}]`;
      const layers = arr(obj(k, at)['layers'], `${at}.layers`);
      for (const [l, kept] of layers.entries())
        for (const p of arr(kept, `${at}.layers[${l}]`))
          if (!(Number.isInteger(p) && p >= 0 && p < tokens))
            fail(`${at}.layers[${l}]`, `positions must be whole numbers below the ${tokens} tokens`);
    });
  });
  return value as CompareReport;
}
