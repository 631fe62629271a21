/** Flags, model sizes, timing and the PyTorch baseline runner shared by every bench section. */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LatError, type LengthSpec, Rng, type Runtime, type StateDict } from '@lat/core';
import { createAnytimeModel, type EncodedBatch, type ModelConfig, parseModelConfig } from '@lat/layers';

/** `--name=value` or `--name value`. */
export function flag(name: string): string | undefined {
  const i = process.argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = process.argv[i]!;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : process.argv[i + 1];
}

/** A positive number flag (`whole`: an integer), or `fallback` when absent. */
export function numFlag(name: string, fallback: number, whole = true): number {
  const v = flag(name);
  const n = v === undefined ? fallback : Number(v);
  if (!(n > 0) || (whole && !Number.isInteger(n)))
    throw new LatError(
      'BAD_INPUT',
      `must be a positive ${whole ? 'whole ' : ''}number, got ${v}`,
      `--${name}`,
    );
  return n;
}

export const threads = Number(process.env['LAT_BENCH_THREADS'] ?? 2);
export const quick = process.argv.includes('--quick');
export const repo = join(import.meta.dirname, '../../..');
export const python = '/usr/bin/python3';

export interface Size {
  name: string;
  layers: number;
  hidden: number;
  heads: number;
  ffn: number;
}
export const sizes: Size[] = [
  { name: 'bert-tiny', layers: 2, hidden: 128, heads: 2, ffn: 512 },
  { name: 'bert-mini', layers: 4, hidden: 256, heads: 4, ffn: 1024 },
  { name: 'bert-base', layers: 12, hidden: 768, heads: 12, ffn: 3072 },
];
/** --sizes=bert-tiny,bert-mini limits the inference and training tables to those models. */
export const chosenSizes = flag('sizes')?.split(',');
for (const name of chosenSizes ?? []) {
  if (!sizes.some((s) => s.name === name))
    throw new LatError(
      'BAD_INPUT',
      `unknown model ${name} (${sizes.map((s) => s.name).join(', ')})`,
      '--sizes',
    );
}
export const chosen = (s: Size) => !chosenSizes || chosenSizes.includes(s.name);

export const configOf = (s: Size): ModelConfig =>
  parseModelConfig({
    model_type: 'bert',
    vocab_size: 30522,
    hidden_size: s.hidden,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    intermediate_size: s.ffn,
    max_position_embeddings: 512,
  });

export function batchOf(batch: number, seq: number): EncodedBatch {
  const n = batch * seq;
  const ids = BigInt64Array.from({ length: n }, (_, i) =>
    BigInt(i % seq === 0 ? 101 : i % seq === seq - 1 ? 102 : 1000 + ((i * 7919) % 28000)),
  );
  return {
    inputIds: ids,
    attentionMask: new BigInt64Array(n).fill(1n),
    tokenTypeIds: new BigInt64Array(n),
    batch,
  };
}

/**
 * Keep ratios the reduced-length columns time: the smallest is LengthDrop's ratio bound (0.4), the
 * smallest configuration it trains.
 */
export const keepRatios = [0.8, 0.6, 0.4];

/** Every layer keeping `r` of its tokens. */
export const everyLayer = (c: ModelConfig, r: number): LengthSpec => ({
  form: 'ratio',
  ratios: new Array(c.numLayers).fill(r),
});

/** The plain graph (no selection ops) and lat's anytime model of the same weights, bench threads. */
export async function plainAndLat(runtime: Runtime, c: ModelConfig, w: StateDict) {
  const session = { threads };
  return {
    plain: await createAnytimeModel(runtime, c, w, { selection: false, keptPositions: false, session }),
    lat: await createAnytimeModel(runtime, c, w, { keptPositions: false, session }),
  };
}

/** Median ms over runs, after warm-up; stops early once ~2 s were spent. */
export async function time(run: () => Promise<unknown>, maxRuns = quick ? 5 : 20): Promise<number> {
  return (await timeRuns(run, maxRuns)).median;
}

/**
 * Median and fastest ms over runs, after warm-up; stops early once ~2 s were spent. On a shared,
 * loaded machine the fastest run is the one least disturbed by other processes.
 */
export async function timeRuns(
  run: () => Promise<unknown>,
  maxRuns = quick ? 5 : 20,
  clock: () => number = () => performance.now(),
): Promise<{ median: number; min: number }> {
  await run();
  await run();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < maxRuns && (times.length < 3 || performance.now() - start < 2000)) {
    const t = clock();
    await run();
    times.push(clock() - t);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, min: times[0]! };
}

/** A PyTorch job for torch_bench.py: the same architecture as `size`. */
export function torchJob(
  name: string,
  kind: 'infer' | 'train',
  size: Size,
  batch: number,
  seq: number,
  runs: number,
) {
  return {
    name,
    kind,
    hidden: size.hidden,
    layers: size.layers,
    heads: size.heads,
    ffn: size.ffn,
    batch,
    seq,
    runs,
  };
}

export function torch(
  jobs: Record<string, unknown>[],
):
  | (Record<string, { ms?: number; tokensPerSec?: number; fwdBwdMs?: number }> & { peakRssMB?: number })
  | undefined {
  if (!existsSync(python)) return undefined;
  const r = spawnSync(
    python,
    [join(import.meta.dirname, '../torch_bench.py'), JSON.stringify({ threads, jobs })],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    console.log(`  (PyTorch baseline skipped: ${r.stderr.trim().split('\n').at(-1)})`);
    return undefined;
  }
  return JSON.parse(r.stdout);
}

/**
 * The process's CPU time in ms (user + system, every thread). With one intra-op thread and no
 * other thread pool busy it is the work a run does, which other processes' load barely changes:
 * the clock for fixed per-run costs on this shared machine.
 */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Median and fastest ms of each runner, per round. */
export type RoundTimes = Record<string, { median: number; min: number }[]>;

/** A run to time, alone or with its own clock (a device that times its runs itself, e.g. a browser page). */
export type Runner = (() => Promise<unknown>) | { run: () => Promise<unknown>; clock: () => number };

/**
 * The order of one round's runs: `steps` steps, each running every one of `configs`
 * configurations once in a fresh random order, and never a configuration twice in a row — a step
 * does not start with the one `after` (the run before this round's first) or the previous step
 * ended on. So every run follows another configuration's run, with each other configuration about
 * equally often: nothing a run leaves behind (warm caches, a thread pool) favours one configuration.
 */
export function turnOrder(rng: Rng, configs: number, steps: number, after = -1): number[] {
  const order: number[] = [];
  for (let i = 0; i < steps; i++) {
    const last = order.at(-1) ?? after;
    let step = rng.permutation(configs);
    while (configs > 1 && step[0] === last) step = rng.permutation(configs);
    order.push(...step);
  }
  return order;
}

/**
 * Times runners in turn, for differences of a few percent: each round runs every runner `runs`
 * times in the order {@link turnOrder} draws (seeded), and gives each runner's median and fastest
 * run in that round; load changes hit all runners alike, and the spread over rounds shows what
 * they did. A runner with its own clock (a device that times its runs itself, e.g. a browser page)
 * is timed on it; the others on `clock`. Open the sessions without spinning (`spinning: false`):
 * a pool still spinning after its run slows whichever session runs next.
 */
export async function alternating(
  runners: Record<string, Runner>,
  rounds: number,
  runs: number,
  clock: () => number = () => performance.now(),
  seed = 26,
): Promise<RoundTimes> {
  const rng = new Rng(seed);
  const names = Object.keys(runners);
  const timed = Object.values(runners).map((r) => (typeof r === 'function' ? { run: r, clock } : r));
  for (const { run } of timed) await run(); // warm-up
  const ms: RoundTimes = {};
  let last = names.length - 1; // the warm-up's last
  for (let r = 0; r < rounds; r++) {
    const times: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
    const order = turnOrder(rng, names.length, runs, last);
    for (const j of order) {
      const { run, clock } = timed[j]!;
      const t = clock();
      await run();
      times[names[j]!]!.push(clock() - t);
    }
    last = order.at(-1)!;
    for (const k of names) {
      const sorted = times[k]!.sort((a, b) => a - b);
      (ms[k] ??= []).push({ median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]! });
    }
  }
  return ms;
}

/** Rounds and steps per round of a section timed in turn ({@link alternating}): `--<name>-rounds`, `--<name>-runs`. */
export function turns(name: string, rounds = quick ? 2 : 3, runs = quick ? 2 : 3) {
  return { rounds: numFlag(`${name}-rounds`, rounds), runs: numFlag(`${name}-runs`, runs) };
}
export type Turns = ReturnType<typeof turns>;

/** The median of values (the upper one of an even count). */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median, min and max of values measured once per round: `m× (lo–hi)`, or `m% (lo–hi%)` with `pct`. */
export function spread(xs: number[], pct = false): string {
  const s = [...xs].sort((a, b) => a - b);
  if (pct) {
    const f = (x: number) => (x * 100).toFixed(0);
    return `${f(median(s))}% (${f(s[0]!)}–${f(s.at(-1)!)}%)`;
  }
  return `${median(s).toFixed(2)}× (${s[0]!.toFixed(2)}–${s.at(-1)!.toFixed(2)})`;
}

/** `a / b` per round, as the ratio of medians and then of fastest runs, each over the rounds. */
export function roundRatio(ms: RoundTimes, a: string, b: string): string {
  const per = (f: (t: { median: number; min: number }) => number) =>
    spread(ms[a]!.map((t, i) => f(t) / f(ms[b]![i]!)));
  return `${per((t) => t.median)}; ${per((t) => t.min)}`;
}

/** `k`'s median ms (median over rounds) and its fastest run. */
export function roundMs(ms: RoundTimes, k: string): string {
  const med = median(ms[k]!.map((t) => t.median));
  return `${med.toFixed(2)}, ${Math.min(...ms[k]!.map((t) => t.min)).toFixed(2)}`;
}
