/**
 * `lat compare` through the built binary on a tiny generated task: every method from one
 * checkpoint; determinism (same inputs and seed → the same compare.json but for timings), a killed
 * run resuming to the same report (mid-training and mid-search), the plain fine-tune shared by the
 * methods built on it, and bad input refused in one line before any training.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@lat/core/node';
import { createRandomWeights, toHfConfig, toHfNames } from '@lat/layers';
import { parseCompareReport, type SearchState } from '@lat/search';
import { syntheticModelConfig } from '@lat/train';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliBin, cliRoot, ensureBuilt, sentimentTraining, writeSentimentFixture } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-compare-'));
const base = join(dir, 'base');

interface Run {
  code: number | null;
  out: string;
  err: string;
  events: Record<string, unknown>[];
}

/** Runs `lat compare` (one onnxruntime thread); `killWhen` may send it `signal` on a JSON event. */
function compare(
  args: string[],
  killWhen?: (e: Record<string, unknown>) => boolean,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<Run> & { child: ChildProcess } {
  const child = spawn(process.execPath, [cliBin, 'compare', ...args, '--threads', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const events: Record<string, unknown>[] = [];
  let killed = false;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const lines = out.split('\n');
    for (const line of lines.slice(events.length, -1)) {
      const e = JSON.parse(line) as Record<string, unknown>;
      events.push(e);
      // Once: a second Ctrl-C is the user's "stop now" and kills the process without a checkpoint.
      if (!killed && killWhen?.(e)) killed = child.kill(signal);
    }
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const done = new Promise<Run>((resolve) =>
    child.on('close', (code) => resolve({ code, out, err, events })),
  );
  return Object.assign(done, { child });
}

const args = (out: string, extra: string[] = []) => [
  ...sentimentTraining(dir, base),
  '--dev',
  join(dir, 'dev.tsv'),
  '--methods',
  'plain,lat',
  '--budget-grid',
  '0.5,0.7',
  '--epochs',
  '2',
  '--lr',
  '2e-3',
  '--max-length',
  '48',
  '--iterations',
  '1',
  '--runs',
  '1',
  '--checkpoint-every',
  '5',
  '--out',
  out,
  '--json',
  ...extra,
];

/** A 1-layer BERT with the fixture's vocabulary: too short for pooling's schedules. */
function oneLayer(): string {
  const model = join(dir, 'one-layer');
  if (existsSync(model)) return model;
  mkdirSync(model);
  const config = syntheticModelConfig({ layers: 1, hidden: 32, heads: 2 });
  writeFileSync(join(model, 'config.json'), JSON.stringify(toHfConfig(config)));
  copyFileSync(join(base, 'vocab.txt'), join(model, 'vocab.txt'));
  writeSafetensors(join(model, 'model.safetensors'), toHfNames(createRandomWeights(config, 1), config));
  return model;
}

/** The methods that trained something in a run, in order (from their progress events). */
function trainedBy(r: Run): string[] {
  const names = r.events
    .filter((e) => e['event'] === 'progress' && e['phase'] === 'train (steps)')
    .map((e) => String(e['method']).replace(/ \(\d+\/\d+\)$/, ''));
  return [...new Set(names)];
}

/** The report without what a clock measured. */
function untimed(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'), (k, v) => (k === 'timing' ? undefined : v));
}

beforeAll(() => {
  ensureBuilt(cliRoot);
  writeSentimentFixture(dir, base, { seed: 3, train: 320, dev: 64, hidden: 64, heads: 4 });
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

let first: Promise<Run> | undefined;
/** The uninterrupted run the others are compared with. */
const reference = () => {
  first ??= compare(args(join(dir, 'a')));
  return first;
};

describe('lat compare', () => {
  it('writes a valid report: every method, every budget, the table, the plot', async () => {
    const r = await reference();
    expect(r.code, r.err).toBe(0);
    const report = parseCompareReport(JSON.parse(readFileSync(join(dir, 'a/compare.json'), 'utf8')));
    expect(report.methods.map((m) => m.name)).toEqual(['plain', 'lat']);
    expect(report.budgets).toEqual([0.5, 0.7, 1]);
    const [plain, lat] = report.methods;
    // plain runs at full length only: nothing fits under 50% or 70%, the full model under 100%.
    expect(plain!.configurations.map((c) => c.label)).toEqual(['full']);
    expect(plain!.configurations[0]!.macsRatio).toBeCloseTo(1, 12);
    expect(plain!.best.map((b) => b.configuration)).toEqual([null, null, 0]);
    // lat: one configuration per frontier point, each best within its budget.
    const frontier = JSON.parse(readFileSync(join(dir, 'a/lat/model/frontier.json'), 'utf8'));
    expect(lat!.configurations.map((c) => c.metric)).toEqual(
      frontier.points.map((p: { metric: number }) => p.metric),
    );
    for (const [i, b] of lat!.best.entries()) {
      const within = lat!.configurations.filter((c) => c.macsRatio <= report.budgets[i]! + 1e-9);
      if (b.configuration === null) expect(within).toEqual([]);
      else
        expect(lat!.configurations[b.configuration]!.metric).toBe(Math.max(...within.map((c) => c.metric)));
    }
    // What each layer keeps of each dev input: none dropped by plain; lat's ratios, rounded up per input.
    expect(plain!.configurations[0]!.kept).toBeUndefined();
    for (const c of lat!.configurations) {
      const ratios = (c.settings as { ratios: number[] }).ratios;
      expect(c.kept).toHaveLength(2);
      c.kept!.forEach((k, l) => {
        expect(k.p10).toBeLessThanOrEqual(k.p50);
        expect(k.p50).toBeLessThanOrEqual(k.p90);
        expect(k.p10).toBeGreaterThanOrEqual(ratios[l]! - 1e-9);
      });
    }
    for (const m of report.methods) {
      expect(m.params).toBe(report.model.params);
      for (const c of m.configurations) expect(c.timing.batch32Ms).toBeGreaterThan(0);
    }
    // Kept tokens of a few dev inputs, per method, at each budget's best configuration.
    const example = report.examples[0]!;
    expect(example.tokens[0]).toBe('[CLS]');
    const full = example.kept.find((k) => k.method === 'plain' && k.budget === 1)!;
    expect(full.layers).toEqual([0, 1].map(() => example.tokens.map((_, i) => i)));
    for (const k of example.kept.filter((k) => k.method === 'lat')) {
      expect(k.layers[0]).toContain(0); // [CLS] is always kept
      expect(k.layers[1]!.length).toBeLessThanOrEqual(k.layers[0]!.length);
    }
    // Validated on read: a field at fault is named.
    expect(() => parseCompareReport({ ...report, schemaVersion: 2 })).toThrow(
      /schemaVersion: this version reads schema 1/,
    );
    const broken = structuredClone(report);
    broken.methods[1]!.best[0]!.configuration = 99;
    expect(() => parseCompareReport(broken)).toThrow(/methods\[1\]\.best\[0\]\.configuration/);
    expect(readFileSync(join(dir, 'a/compare.svg'), 'utf8')).toContain('<svg');
    expect(readFileSync(join(dir, 'a/compare.md'), 'utf8')).toContain('| budget | plain | lat |');
    // Progress with an ETA, per method and phase, before the result.
    const phases = r.events
      .filter((e) => e['event'] === 'progress')
      .map((e) => `${e['method']} ${e['phase']}`);
    expect(new Set(phases)).toEqual(
      new Set([
        'plain (1/2) train (steps)',
        'plain (1/2) evaluate',
        'plain (1/2) latency',
        'lat (2/2) train (steps)',
        'lat (2/2) search (iterations)',
        'lat (2/2) evaluate',
        'lat (2/2) latency',
      ]),
    );
    expect(r.events.at(-1)).toMatchObject({ command: 'compare' });
  }, 120_000);

  it('gives the same compare.json for the same inputs and seed, but for timings', async () => {
    const again = await compare(args(join(dir, 'b')));
    expect(again.code, again.err).toBe(0);
    expect((await reference()).code).toBe(0);
    expect(untimed(join(dir, 'b/compare.json'))).toEqual(untimed(join(dir, 'a/compare.json')));
  }, 120_000);

  it('resumes a killed run: finished methods are reused, training continues from its checkpoint, the search from its state', async () => {
    const out = join(dir, 'killed');
    const killed = await compare(
      args(out),
      (e) =>
        e['event'] === 'progress' &&
        e['phase'] === 'train (steps)' &&
        String(e['method']).startsWith('lat') &&
        (e['done'] as number) >= 8,
    );
    expect(killed.code).toBe(null); // SIGKILL: no chance to save anything on the way out
    expect(existsSync(join(out, 'compare.json'))).toBe(false);
    expect(readdirSync(join(out, 'lat/model'))).toContain('checkpoint');
    // Run again and SIGKILL once the search has scored part of its first iteration.
    const state = join(out, 'lat/model/frontier.search-state.json');
    const resuming = compare(args(out));
    const poll = setInterval(() => {
      if (!existsSync(state)) return;
      const s = JSON.parse(readFileSync(state, 'utf8')).state as SearchState;
      if (s.rounds === 1 && s.pending.length > 0) resuming.child.kill('SIGKILL');
    }, 5);
    const resumed = await resuming;
    clearInterval(poll);
    expect(resumed.code).toBe(null);
    expect(existsSync(state)).toBe(true);
    const progress = resumed.events.filter((e) => e['event'] === 'progress');
    // plain was finished: neither trained nor scored again (only timed, in this run).
    expect(progress.filter((e) => String(e['method']).startsWith('plain')).map((e) => e['phase'])).toEqual(
      expect.arrayContaining(['latency']),
    );
    expect(progress.some((e) => String(e['method']).startsWith('plain') && e['phase'] !== 'latency')).toBe(
      false,
    );
    // lat continued from its last checkpoint (every 5 steps), not from the start.
    const latTrain = progress.filter(
      (e) => String(e['method']).startsWith('lat') && e['phase'] === 'train (steps)',
    );
    const from = latTrain[0]!['done'] as number;
    expect(from).toBeGreaterThan(1);
    expect((from - 1) % 5).toBe(0);
    // The third run continues the search from its state: nothing is trained again.
    const finished = await compare(args(out));
    expect(finished.code, finished.err).toBe(0);
    expect(trainedBy(finished)).toEqual([]);
    expect(existsSync(state)).toBe(false);
    expect((await reference()).code).toBe(0);
    expect(untimed(join(out, 'compare.json'))).toEqual(untimed(join(dir, 'a/compare.json')));
  }, 120_000);

  it('stops cleanly on Ctrl-C: the training checkpoint is saved and the error says how to go on', async () => {
    const out = join(dir, 'interrupted');
    const r = await compare(
      args(out),
      (e) => e['event'] === 'progress' && e['phase'] === 'train (steps)',
      'SIGINT',
    );
    expect(r.code).toBe(130);
    expect(r.err.trim().split('\n')).toEqual([
      `lat: ${join(out, 'plain')}: plain stopped; run the same lat compare again to continue`,
    ]);
    expect(readdirSync(join(out, 'plain/model'))).toContain('checkpoint');
    expect(existsSync(join(out, 'compare.json'))).toBe(false);
  }, 60_000);

  it('compares adapler: one configuration per φ, each with the spread of what each input keeps', async () => {
    const out = join(dir, 'adapler');
    // Enough epochs for this tiny model's predictors to learn to drop tokens.
    const r = await compare(
      args(out, ['--methods', 'plain,adapler', '--adapler-phi', '0.0005,0.05', '--epochs', '6']),
    );
    expect(r.code, r.err).toBe(0);
    const report = parseCompareReport(JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')));
    expect(report.settings.options['adaplerPhi']).toEqual([0.0005, 0.05]);
    const adapler = report.methods.find((m) => m.name === 'adapler')!;
    // Its saliency model is the plain method's fine-tune, trained once for both.
    expect(existsSync(join(out, 'adapler/saliency'))).toBe(false);
    expect(adapler.recipe['saliency']).toEqual(report.methods[0]!.recipe['training']);
    expect(trainedBy(r)).toEqual(['plain', 'adapler']); // adapler trains only its φ models
    expect(adapler.configurations.map((c) => c.settings)).toEqual([{ phi: 0.0005 }, { phi: 0.05 }]);
    for (const [i, c] of adapler.configurations.entries()) {
      // Its score is `lat eval`'s of the model trained with that φ.
      const model = join(out, `adapler/phi-${c.settings['phi']}`);
      const ev = spawnSync(
        process.execPath,
        [cliBin, 'eval', '--model', model, '--dev', join(dir, 'dev.tsv'), '--json', '--threads', '1'],
        { encoding: 'utf8' },
      );
      expect(ev.status, ev.stderr).toBe(0);
      const evaluated = JSON.parse(ev.stdout.trim().split('\n').at(-1)!);
      expect(c.metrics).toEqual(evaluated.metrics);
      // Realised MACs per input, predictors included: `lat eval`'s total over the dev inputs.
      expect(c.macs * evaluated.lengths.inputs).toBeCloseTo(evaluated.lengths.realisedMacs, 0);
      expect(c.paddedMacs).toBeGreaterThanOrEqual(c.macs);
      expect(c.kept, `configuration ${i}`).toHaveLength(2);
      for (const k of c.kept!) {
        expect(k.p10).toBeLessThanOrEqual(k.p50);
        expect(k.p50).toBeLessThanOrEqual(k.p90);
        expect(k.p10).toBeGreaterThan(0); // [CLS] always stays
        expect(k.p90).toBeLessThanOrEqual(1);
        expect(k.mean).toBeGreaterThan(0);
        expect(k.mean).toBeLessThanOrEqual(1);
      }
    }
    // Inputs keep different fractions: the spread is per input, and φ 0.05 saves MACs.
    const strong = adapler.configurations[1]!;
    expect(strong.kept!.some((k) => k.p10 < k.p90)).toBe(true);
    expect(strong.macsRatio).toBeLessThan(1);
    // The report shows the tokens adapler keeps of a few dev inputs, [CLS] first.
    for (const k of report.examples[0]!.kept.filter((k) => k.method === 'adapler')) {
      expect(k.layers).toHaveLength(2);
      expect(k.layers[0]).toContain(0);
    }
  }, 120_000);

  // The selection split holds out at least 500 examples: the axformer tests' own, bigger training file.
  const data = join(dir, 'axformer-data');
  const axformerArgs = (out: string, methods: string) => {
    if (!existsSync(data)) {
      mkdirSync(data);
      writeSentimentFixture(data, join(data, 'base'), { seed: 3, train: 560, dev: 64, hidden: 32, heads: 4 });
    }
    return [
      ...args(out, ['--methods', methods, '--epsilon', '0.01']),
      ...['--model', join(data, 'base'), '--train', join(data, 'train.tsv'), '--dev', join(data, 'dev.tsv')],
    ];
  };

  it('compares axformer and axformer+lat: pruned on a selection split of --train with --epsilon, fewer params', async () => {
    const out = join(dir, 'axformer');
    const r = await compare(axformerArgs(out, 'plain,axformer,axformer+lat'));
    expect(r.code, r.err).toBe(0);
    const report = parseCompareReport(JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')));
    const [plain, axformer, both] = report.methods;
    expect(axformer!.name).toBe('axformer');
    // axformer prunes the plain method's model (no fine-tune of its own); axformer+lat, without lat
    // in the report, fine-tunes with LengthDrop itself.
    expect(existsSync(join(out, 'axformer/fine-tuned'))).toBe(false);
    expect(existsSync(join(out, 'axformer+lat/fine-tuned/model.safetensors'))).toBe(true);
    expect(trainedBy(r)).toEqual(['plain', 'axformer+lat']);
    expect(axformer!.configurations.map((c) => c.label)).toEqual(['pruned']);
    // The harness measures the pruned model, which `lat axformer` wrote from the fine-tuned one.
    const summary = JSON.parse(readFileSync(join(out, 'axformer/pruned/lat_axformer.json'), 'utf8'));
    expect(summary.selection).toMatchObject({ examples: 500, onDev: false });
    // --epsilon reaches both pruning runs and is recorded in compare.json.
    expect(report.settings.options['epsilon']).toBe(0.01);
    expect(summary.epsilon).toBe(0.01);
    for (const m of [axformer!, both!]) expect(m.recipe['pruning']).toMatchObject({ epsilon: 0.01 });
    expect(summary.accepted.length).toBeGreaterThan(0);
    expect(axformer!.params).toBe(summary.parameters.after);
    expect(axformer!.params).toBeLessThan(plain!.params);
    expect(axformer!.bytes).toBe(summary.bytes.after);
    const pruned = axformer!.configurations[0]!;
    expect(pruned.macsRatio).toBeLessThan(1);
    expect(pruned.paddedMacs).toBeCloseTo(summary.macs.after, 0);
    // Its score is `lat eval`'s of the pruned model.
    const ev = spawnSync(
      process.execPath,
      [
        cliBin,
        'eval',
        '--model',
        join(out, 'axformer/pruned'),
        '--dev',
        join(data, 'dev.tsv'),
        '--json',
        '--threads',
        '1',
      ],
      { encoding: 'utf8' },
    );
    expect(ev.status, ev.stderr).toBe(0);
    expect(pruned.metrics).toEqual(JSON.parse(ev.stdout.trim().split('\n').at(-1)!).results[0].metrics);
    // axformer+lat: the LengthDrop-trained model pruned, one configuration per point of the frontier
    // `lat search` found on the pruned model.
    const lat = JSON.parse(readFileSync(join(out, 'axformer+lat/pruned/lat_axformer.json'), 'utf8'));
    expect(both!.params).toBe(lat.parameters.after);
    expect(both!.params).toBeLessThan(plain!.params);
    const frontier = JSON.parse(readFileSync(join(out, 'axformer+lat/pruned/frontier.json'), 'utf8'));
    expect(both!.configurations.map((c) => c.metric)).toEqual(
      frontier.points.map((p: { metric: number }) => p.metric),
    );
  }, 120_000);

  it('resumes a killed axformer search from its log to the same report', async () => {
    const out = join(dir, 'axformer-killed');
    const log = join(out, 'axformer/pruned/lat_axformer_log.json');
    // SIGKILL as soon as the search has logged its first evaluation.
    const child = spawn(
      process.execPath,
      [cliBin, 'compare', ...axformerArgs(out, 'axformer'), '--threads', '1'],
      {
        stdio: 'ignore',
      },
    );
    const poll = setInterval(() => existsSync(log) && child.kill('SIGKILL'), 5);
    const code = await new Promise((resolve) => child.on('close', resolve));
    clearInterval(poll);
    expect(code).toBe(null);
    expect(existsSync(join(out, 'axformer/pruned/lat_axformer.json'))).toBe(false);
    const r = await compare(axformerArgs(out, 'axformer'));
    expect(r.code, r.err).toBe(0);
    const method = (path: string) =>
      (untimed(path) as { methods: { name: string }[] }).methods.find((m) => m.name === 'axformer');
    // Fine-tuned here (no plain method in this report) and pruned to what the shared plain model gave.
    expect(existsSync(join(out, 'axformer/fine-tuned/model.safetensors'))).toBe(true);
    expect(method(join(out, 'compare.json'))).toEqual(method(join(dir, 'axformer/compare.json')));
    // A pruning made with another ε is not reused.
    const other = await compare([...axformerArgs(out, 'axformer'), '--epsilon', '0']);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/this method was made with another options; use another --out/);
  }, 120_000);

  it('shares the plain model an earlier run left in the report directory', async () => {
    const out = join(dir, 'axformer');
    expect(existsSync(join(out, 'plain/model/model.safetensors'))).toBe(true);
    const before = readFileSync(join(out, 'compare.json'), 'utf8');
    rmSync(join(out, 'axformer'), { recursive: true });
    const r = await compare(axformerArgs(out, 'axformer'));
    expect(r.code, r.err).toBe(0);
    expect(trainedBy(r)).toEqual([]);
    expect(existsSync(join(out, 'axformer/fine-tuned'))).toBe(false);
    const method = (json: string) =>
      (
        JSON.parse(json, (k, v) => (k === 'timing' ? undefined : v)) as { methods: { name: string }[] }
      ).methods.find((m) => m.name === 'axformer');
    expect(method(readFileSync(join(out, 'compare.json'), 'utf8'))).toEqual(method(before));
  }, 120_000);

  it('compares pooling: one model per schedule, pooled to --max-length / 4 and / 8 after layer ⌊L/3⌋', async () => {
    const out = join(dir, 'pooling');
    const r = await compare(args(out, ['--methods', 'plain,pooling']));
    expect(r.code, r.err).toBe(0);
    const report = parseCompareReport(JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')));
    const [plain, pooling] = report.methods;
    expect(pooling!.name).toBe('pooling');
    // --max-length 48, 2 layers: pooled after layer 0 to 12 and to 6 rows, each its own trained model.
    expect(pooling!.configurations.map((c) => c.settings)).toEqual([
      { schedule: [[0, 12]], inputLength: 48 },
      { schedule: [[0, 6]], inputLength: 48 },
    ]);
    expect(pooling!.configurations.map((c) => c.label)).toEqual(['0:12', '0:6']);
    expect(pooling!.recipe['training']).toEqual([
      expect.objectContaining({ method: 'pooling' }),
      expect.objectContaining({ method: 'pooling' }),
    ]);
    // The scorer (hidden weights and a bias) is all it adds.
    expect(pooling!.params).toBe(plain!.params + 64 + 1);
    const [wide, narrow] = pooling!.configurations;
    expect(narrow!.macsRatio).toBeLessThan(wide!.macsRatio);
    expect(wide!.macsRatio).toBeLessThan(1);
    for (const [i, c] of pooling!.configurations.entries()) {
      const model = join(out, `pooling/width-${[12, 6][i]}`);
      const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
      expect(config.lat_pooling).toEqual({ schedule: [[0, [12, 6][i]]], input_length: 48 });
      // Its score and MACs are `lat eval`'s of that model.
      const ev = spawnSync(
        process.execPath,
        [cliBin, 'eval', '--model', model, '--dev', join(dir, 'dev.tsv'), '--json', '--threads', '1'],
        { encoding: 'utf8' },
      );
      expect(ev.status, ev.stderr).toBe(0);
      const evaluated = JSON.parse(ev.stdout.trim().split('\n').at(-1)!).results[0];
      expect(c.metrics).toEqual(evaluated.metrics);
      expect(c.macs).toBeCloseTo(evaluated.macs, 0);
      // Layer 0's feed-forward and layer 1 run on at most the width: what each input keeps.
      expect(c.kept).toHaveLength(2);
      expect(c.kept![0]).toEqual(c.kept![1]);
      expect(c.kept![0]!.p10).toBeLessThanOrEqual(c.kept![0]!.p90);
      expect(c.kept![0]!.p90).toBeLessThanOrEqual(1);
    }
    expect(narrow!.kept![0]!.mean).toBeLessThan(wide!.kept![0]!.mean);
    for (const k of report.examples[0]!.kept.filter((k) => k.method === 'pooling')) {
      expect(k.layers[0]).toContain(0); // [CLS] stays row 0
      expect(k.layers[1]!.length).toBeLessThanOrEqual(12);
    }
  }, 120_000);

  it('refuses bad input in one line before any training', async () => {
    // Usage errors exit 2, a missing file 1.
    const cases: [string[], RegExp, number][] = [
      [
        ['--methods', 'plain,axolotl'],
        /unknown method 'axolotl'; available: plain, lat, adapler, axformer, axformer\+lat, pooling/,
        2,
      ],
      [
        ['--methods', 'axformer'],
        /axformer cannot apply here: --train: has 320 examples: too few to hold out/,
        2,
      ],
      [
        ['--methods', 'axformer+lat', '--epsilon', '-0.1'],
        /axformer\+lat cannot apply here: --epsilon -0.1 is not a tolerated drop ≥ 0/,
        2,
      ],
      [['--methods', 'adapler', '--adapler-phi', '0.1,-1'], /adapler cannot apply here: --adapler-phi -1/, 2],
      [
        ['--methods', 'lat', '--max-length', '3'],
        /lat cannot apply here: --max-length 3 leaves no token to drop/,
        2,
      ],
      [
        ['--methods', 'plain,pooling', '--max-length', '20'],
        /pooling cannot apply here: --max-length 20 is too short for its schedules .* a multiple of 8 and at least 16/,
        2,
      ],
      [
        ['--methods', 'pooling', '--model', oneLayer()],
        /pooling cannot apply here: the model has 1 layer; pooling after layer 0 leaves no later layer/,
        2,
      ],
      [['--budget-grid', '0.5,1.5'], /'1.5' is not a fraction in \(0, 1\]/, 2],
      [['--length-drop-ratio', '1.2'], /lat cannot apply here: --length-drop-ratio 1.2 is not a fraction/, 2],
      [['--dev', join(dir, 'missing.tsv')], /missing.tsv: cannot read data file/, 1],
    ];
    for (const [i, [extra, message, code]] of cases.entries()) {
      const out = join(dir, `bad-${i}`);
      const r = await compare(args(out, extra));
      expect(r.code, r.err).toBe(code);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.out).toBe('');
      expect(existsSync(out)).toBe(false);
    }
    // A method made with other settings is not mixed into a report.
    expect((await reference()).code).toBe(0);
    const r = await compare(args(join(dir, 'a'), ['--seed', '7']));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/this method was made with another seed; use another --out/);
  }, 120_000);
});
