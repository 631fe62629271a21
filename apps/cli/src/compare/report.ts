/**
 * `compare.json` (versioned, validated on read), its Markdown tables and the terminal table.
 * Everything measured with a clock sits under a key named `timing`: the rest of a report is
 * determined by the checkpoint, the data and the settings (same inputs and seed → same bytes).
 */
import { LatError } from '@lat/core';
import { table } from '../output.js';

export const compareSchemaVersion = 1;

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
    options: Record<string, number>;
    latency: { batch1Inputs: number; batch32Inputs: number; runs: number };
  };
  /** Budgets: fractions of the starting checkpoint's real-length MACs (1 is always included). */
  budgets: number[];
  /** The starting checkpoint at full length: what ratios and speed-ups are relative to. */
  reference: { macs: number; paddedMacs: number };
  methods: MethodReport[];
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
  return value as CompareReport;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const times = (x: number) => `${x.toFixed(2)}×`;

/** The best configuration of each method under each budget, as table rows. */
function budgetRows(r: CompareReport): string[][] {
  return r.budgets.map((b, i) => [
    pct(b),
    ...r.methods.map((m) => {
      const c = m.best[i]!.configuration;
      if (c === null) return '–';
      const conf = m.configurations[c]!;
      return `${conf.metric.toFixed(4)} @ ${pct(conf.macsRatio)} MACs, ${times(conf.timing.batch32Speedup)}`;
    }),
  ]);
}

/** The table `lat compare` prints. */
export function budgetTable(r: CompareReport): string {
  return [
    `best ${r.metric} under each budget (real-length MACs of the starting checkpoint; speed-up measured at batch 32)`,
    table(budgetRows(r), ['budget', ...r.methods.map((m) => m.name)]),
  ].join('\n');
}

/** compare.md: the settings, the budget table, every configuration of every method. */
export function compareMarkdown(r: CompareReport): string {
  const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const head = (cells: string[]) => [row(cells), row(cells.map(() => '---'))];
  const s = r.settings;
  const t = r.timing;
  const lines = [
    `# lat compare: ${r.task} on ${r.model.dir}`,
    '',
    `Every method starts from the same checkpoint (${r.model.numLayers} layers × ${r.model.hidden}, ${r.model.params.toLocaleString('en-US')} parameters, fingerprint \`${r.model.fingerprint}\`) and trains on the same data with the same seed and epochs.`,
    '',
    `- train: \`${r.data.train}\` (sha256 ${r.data.trainSha256.slice(0, 12)}…); dev: \`${r.data.dev}\` (${r.data.devExamples} examples, sha256 ${r.data.devSha256.slice(0, 12)}…)`,
    `- seed ${s.seed}, ${s.epochs} epochs, batch ${s.batchSize}, lr ${s.lr}, max length ${s.maxLength}; method options: ${Object.entries(
      s.options,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `- MACs: average per dev example over its real length, as a fraction of the starting checkpoint at full length (${(r.reference.macs / 1e6).toFixed(2)} MMACs); padded: one input padded to ${s.maxLength} tokens (${(r.reference.paddedMacs / 1e6).toFixed(2)} MMACs).`,
    `- Latency on this machine (${t.machine.cpu}, ${t.machine.cores} cores, onnxruntime threads ${t.machine.threads ?? 'all'}, Node ${t.machine.node}), ${t.date}: batch 1 = mean ms per input over ${s.latency.batch1Inputs} dev inputs run one at a time; batch 32 = one batch of ${s.latency.batch32Inputs} dev inputs; median of ${s.latency.runs} runs, each alternated with the starting checkpoint at full length (${t.referenceBatch1Ms.toFixed(2)} ms / ${t.referenceBatch32Ms.toFixed(2)} ms), which speed-ups are relative to.`,
    '',
    '![accuracy vs measured speed-up](compare.svg)',
    '',
    `## Best ${r.metric} under each budget`,
    '',
    'Budget: real-length MACs as a fraction of the starting checkpoint’s. Cell: metric @ MACs, measured batch-32 speed-up.',
    '',
    ...head(['budget', ...r.methods.map((m) => m.name)]),
    ...budgetRows(r).map(row),
  ];
  for (const m of r.methods) {
    lines.push(
      '',
      `## ${m.name}`,
      '',
      `${m.summary}. ${m.params.toLocaleString('en-US')} parameters, ${(m.bytes / 1e6).toFixed(2)} MB of weights.`,
      '',
      ...head([
        'configuration',
        r.metric,
        'MACs',
        `padded MACs (${s.maxLength})`,
        'batch 1 ms',
        'batch 1 speed-up',
        'batch 32 ms',
        'batch 32 speed-up',
      ]),
      ...m.configurations.map((c) =>
        row([
          c.label,
          c.metric.toFixed(4),
          pct(c.macsRatio),
          pct(c.paddedMacsRatio),
          c.timing.batch1Ms.toFixed(2),
          times(c.timing.batch1Speedup),
          c.timing.batch32Ms.toFixed(2),
          times(c.timing.batch32Speedup),
        ]),
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}
