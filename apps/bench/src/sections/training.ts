import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { encoderFlops, encoderMacs, Graph, toModelProto } from '@lat/core';
import { createRandomWeights } from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import { type Encoded, Trainer } from '@lat/train';
import { fmt, type Report } from '../report.js';
import {
  chosen,
  configOf,
  cpuMs,
  flag,
  median,
  numFlag,
  python,
  quick,
  repo,
  type Size,
  sizes,
  threads,
  timeRuns,
  torchJob,
} from '../setup.js';
import type { TfjsJob } from '../tfjs-bert.js';

/** The workers run in their own process, started through the bench's entry point. */
const benchEntry = join(import.meta.dirname, '../index.js');

export interface TrainJob {
  size: Size;
  batch: number;
  seq: number;
  /** Steps the parent will ask for, after the warm-up step. */
  steps: number;
  lengthDrop: boolean;
}

/** The next line of stdin, read synchronously (the worker waits between steps inside the trainer's event). */
function readLineSync(): string {
  const byte = Buffer.alloc(1);
  let line = '';
  while (readSync(0, byte, 0, 1, null) === 1 && byte[0] !== 10) line += String.fromCharCode(byte[0]!);
  return line;
}

/**
 * lat's side of the training table: `Trainer` (fwd + bwd through ORT, gradient clipping, TS
 * AdamW) one step per `step` line on stdin, so the parent can alternate lat and PyTorch steps.
 * Prints `{"ready": true}` after the warm-up step (session creation and first-run costs), one
 * `{"ms", "cpuMs"}` per step, and `{"peakRssMB"}` on `exit`.
 */
export async function trainWorker(job: TrainJob) {
  const c = configOf(job.size);
  const data: Encoded[] = Array.from({ length: job.batch * (job.steps + 1) }, (_, i) => ({
    ids: Array.from({ length: job.seq }, (_, j) =>
      j === 0 ? 101 : j === job.seq - 1 ? 102 : 1000 + ((i * 31 + j * 7) % 28000),
    ),
    typeIds: new Array(job.seq).fill(0),
    label: i % 2,
  }));
  const reply = (x: object) => writeSync(1, `${JSON.stringify(x)}\n`);
  let started = 0;
  let cpu0 = 0;
  const trainer = new Trainer({
    runtime: createNodeRuntime({ threads }),
    config: c,
    weights: createRandomWeights(c, 1),
    train: data,
    metrics: ['accuracy'],
    outDir: join(repo, 'bench/results/.train-tmp'),
    options: {
      epochs: 1,
      batchSize: job.batch,
      learningRate: 1e-4,
      ...(job.lengthDrop ? {} : { lengthDrop: null, layerDrop: 0 }),
    },
    onEvent: (e) => {
      if (e.type !== 'step') return;
      reply(started ? { ms: performance.now() - started, cpuMs: cpuMs() - cpu0 } : { ready: true });
      if (readLineSync() !== 'step') {
        reply({ peakRssMB: process.resourceUsage().maxRSS / 1024 });
        process.exit(0);
      }
      started = performance.now();
      cpu0 = cpuMs();
    },
  });
  await trainer.train();
}

/** A worker process answering one JSON line per command line (lat's `trainWorker`, torch_bench.py's serve mode). */
class StepWorker {
  private readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private waiting?: (line: string | undefined) => void;
  private stderr = '';
  private closed = false;

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return; // tfjs-style banners
      if (this.waiting) this.waiting(line);
      else this.lines.push(line);
    });
    this.child.stderr!.on('data', (d) => {
      this.stderr = (this.stderr + String(d)).slice(-4000);
    });
    this.child.on('close', () => {
      this.closed = true;
      this.waiting?.(undefined);
    });
  }

  /** The next reply; throws with the worker's stderr when it died. */
  async next(): Promise<Record<string, number>> {
    const line =
      this.lines.shift() ??
      (this.closed
        ? undefined
        : await new Promise<string | undefined>((resolve) => {
            this.waiting = (l) => {
              this.waiting = undefined;
              resolve(l);
            };
          }));
    if (line === undefined)
      throw new Error(`training worker failed: ${this.stderr.trim().split('\n').at(-1)}`);
    return JSON.parse(line);
  }

  send(command: string): Promise<Record<string, number>> {
    this.child.stdin!.write(`${command}\n`);
    return this.next();
  }
}

/**
 * onnxruntime's MatMul of [m, k] × [k, n] (the FFN's shape) at one thread, timed in process CPU
 * time: GFLOP per CPU-second, the per-core peak a training step's MatMuls could reach. CPU time
 * barely moves with other processes' load, where wall time on a shared machine does.
 */
async function ortMatMul(m: number, k: number, n: number) {
  const g = new Graph('matmul');
  g.output(g.matmul(g.input('a', 'float32', [m, k]), g.input('b', 'float32', [k, n])), 'y');
  const session = await createNodeRuntime({ threads: 1 }).createSession(toModelProto(g));
  const t = (dims: number[]) => ({
    type: 'float32' as const,
    dims,
    data: Float32Array.from({ length: dims[0]! * dims[1]! }, (_, i) => (i % 13) / 13),
  });
  const feeds = { a: t([m, k]), b: t([k, n]) };
  return {
    gflopsPerCpuSecond: async () =>
      (2 * m * k * n) / ((await timeRuns(() => session.run(feeds), 3, cpuMs)).min / 1000) / 1e9,
    release: () => session.release(),
  };
}

/** The tfjs baseline in its own process (its backend and memory stay out of ORT's way); a string says why not. */
export function runTfjsWorker(job: TfjsJob): { tokensPerSec: number } | string {
  const r = spawnSync(process.execPath, [benchEntry, '--tfjs-worker', JSON.stringify(job)], {
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  if (r.status !== 0) {
    const why = r.error?.message ?? r.stderr.split('\n').find((l) => /Error/.test(l)) ?? `exit ${r.status}`;
    return `tfjs (${job.backend}) failed: ${why.trim()}`;
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!); // tfjs prints a banner first
}

/** One model's alternating run: per-step ms of both, MatMul peaks, peak memory. */
interface PairedRun {
  lat: number[];
  torch: number[];
  /** CPU time per step (every thread, spin-waiting included): the work, less sensitive to other load. */
  latCpu: number[];
  torchCpu: number[];
  /** MatMul GFLOP per CPU-second at one thread, once per pair of steps. */
  ortGemm: number[];
  torchGemm: number[];
  latRssMB: number;
  torchRssMB?: number;
  /** Per-step ms and CPU ms of lat from another build (`--train-compare`), when given. */
  other: number[];
  otherCpu: number[];
  load: [number, number];
}

/**
 * lat's Trainer and PyTorch train the same model shape side by side, one step each in turn
 * (after a warm-up step each), so each lat/PyTorch ratio compares steps made under the same load;
 * after every pair both libraries time the FFN's MatMul shape, the peak a step could reach.
 */
async function pairedRun(size: Size, batch: number, seq: number, steps: number): Promise<PairedRun> {
  const job: TrainJob = { size, batch, seq, steps, lengthDrop: false };
  const load0 = loadavg()[0]!;
  const lat = new StepWorker(process.execPath, [benchEntry, '--train-worker', JSON.stringify(job)]);
  const pt = existsSync(python)
    ? new StepWorker(python, [
        join(import.meta.dirname, '../../torch_bench.py'),
        JSON.stringify({ threads, serve: true, jobs: [torchJob('t', 'train', size, batch, seq, steps)] }),
      ])
    : undefined;
  const otherEntry = flag('train-compare');
  const other = otherEntry
    ? new StepWorker(process.execPath, [otherEntry, '--train-worker', JSON.stringify(job)])
    : undefined;
  await lat.next();
  await pt?.next();
  await other?.next();
  const r: PairedRun = {
    other: [],
    otherCpu: [],
    lat: [],
    torch: [],
    latCpu: [],
    torchCpu: [],
    ortGemm: [],
    torchGemm: [],
    latRssMB: 0,
    load: [load0, 0],
  };
  const gemm = await ortMatMul(batch * seq, size.hidden, size.ffn);
  for (let i = 0; i < steps; i++) {
    const a = await lat.send('step');
    r.lat.push(a.ms!);
    r.latCpu.push(a.cpuMs!);
    if (pt) {
      const b = await pt.send('step');
      r.torch.push(b.ms!);
      r.torchCpu.push(b.cpuMs!);
    }
    if (other) {
      const o = await other.send('step');
      r.other.push(o.ms!);
      r.otherCpu.push(o.cpuMs!);
    }
    r.ortGemm.push(await gemm.gflopsPerCpuSecond());
    if (pt) r.torchGemm.push((await pt.send('gemm')).gflops!);
    console.log(
      `  ${size.name} step ${i + 1}/${steps}: lat ${r.lat.at(-1)!.toFixed(0)} ms${pt ? `, PyTorch ${r.torch.at(-1)!.toFixed(0)} ms` : ''}`,
    );
  }
  await gemm.release();
  r.latRssMB = (await lat.send('exit')).peakRssMB!;
  await other?.send('exit');
  if (pt) r.torchRssMB = (await pt.send('exit')).peakRssMB!;
  r.load[1] = loadavg()[0]!;
  return r;
}

export async function training(report: Report) {
  const seq = 128;
  const jobs: [Size, number][] = [
    [sizes[1]!, 32],
    [sizes[2]!, 8],
  ];
  const steps = numFlag('train-steps', quick ? 3 : 5);
  report.heading(
    `Training, seq ${seq}, ${threads} threads: lat and PyTorch ${existsSync(python) ? '' : '(not installed) '}steps in turn, ${steps} each after a warm-up step (fwd + bwd + AdamW)`,
  );
  report.table(
    'model | batch | lat ms/step | PyTorch ms/step | lat tokens/s | PyTorch tokens/s | lat/PyTorch (ratio of medians) | per-pair ratio median (min–max) | lat peak RSS MB | PyTorch peak RSS MB | RSS ratio | CPU s per step lat, PyTorch | load average (start → end)',
  );
  const runs: [Size, number, PairedRun][] = [];
  for (const [size, batch] of jobs.filter(([size]) => chosen(size))) {
    const r = await pairedRun(size, batch, seq, steps);
    runs.push([size, batch, r]);
    const tps = (ms: number[]) => (ms.length ? (batch * seq * 1000) / median(ms) : undefined);
    const pairs = r.torch.map((t, i) => t / r.lat[i]!).sort((a, b) => a - b);
    const line = `| ${size.name} | ${batch} | ${fmt(median(r.lat), 0)} | ${r.torch.length ? fmt(median(r.torch), 0) : '–'} | ${fmt(tps(r.lat), 0)} | ${fmt(tps(r.torch), 0)} | ${r.torch.length ? `**${(median(r.torch) / median(r.lat)).toFixed(2)}×**` : '–'} | ${pairs.length ? `${median(pairs).toFixed(2)}× (${pairs[0]!.toFixed(2)}–${pairs.at(-1)!.toFixed(2)})` : '–'} | ${fmt(r.latRssMB, 0)} | ${fmt(r.torchRssMB, 0)} | ${r.torchRssMB ? (r.latRssMB / r.torchRssMB).toFixed(2) : '–'} | ${(median(r.latCpu) / 1000).toFixed(1)}, ${r.torchCpu.length ? (median(r.torchCpu) / 1000).toFixed(1) : '–'} | ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)} |`;
    report.push(line);
    console.log(line);
  }
  const compared = runs.filter(([, , r]) => r.other.length);
  if (compared.length) {
    report.push(
      `\nThis build against the build at \`${flag('train-compare')}\` (\`--train-compare\`), its steps taken in the same turns:\n`,
    );
    report.table(
      'model | other build ms/step | this build ms/step | speed-up of this build | other build / PyTorch tokens/s | per-pair speed-up median (min–max) | CPU s per step other, this build',
    );
    for (const [size, , r] of compared) {
      const pairs = r.other.map((o, i) => o / r.lat[i]!).sort((a, b) => a - b);
      const line = `| ${size.name} | ${fmt(median(r.other), 0)} | ${fmt(median(r.lat), 0)} | ${(median(r.other) / median(r.lat)).toFixed(2)}× | ${r.torch.length ? `${(median(r.torch) / median(r.other)).toFixed(2)}×` : '–'} | ${median(pairs).toFixed(2)}× (${pairs[0]!.toFixed(2)}–${pairs.at(-1)!.toFixed(2)}) | ${(median(r.otherCpu) / 1000).toFixed(1)}, ${(median(r.latCpu) / 1000).toFixed(1)} |`;
      report.push(line);
      console.log(line);
    }
  }
  // Roofline: the step's nominal FLOPs (3 × the forward's: backward is two MatMuls per forward
  // one) per second and per CPU-second, against the MatMul peak per CPU-second (one thread).
  report.push(
    "\nRoofline: nominal training FLOPs per step (3 × the forward pass of the full model, what PyTorch computes) over the fastest step (wall) and over the median step's CPU time (every thread, spin-waiting included), against the MatMul of the FFN shape [batch·seq × hidden] · [hidden × ffn] at one thread in CPU time (best of each library, measured between the steps): a step can at most reach its MatMul peak per CPU-second.\n",
  );
  report.table(
    'model | GFLOP per step | lat GFLOP/s | PyTorch GFLOP/s | lat GFLOP per CPU-s | PyTorch GFLOP per CPU-s | MatMul GFLOP per CPU-s, 1 thread: ORT, PyTorch | lat / ORT MatMul | PyTorch / its MatMul',
  );
  for (const [size, batch, r] of runs) {
    const gflop = (3 * encoderFlops(configOf(size), seq) * batch) / 1e9;
    const wall = (ms: number[]) => (ms.length ? gflop / (Math.min(...ms) / 1000) : undefined);
    const perCpu = (ms: number[]) => (ms.length ? gflop / (median(ms) / 1000) : undefined);
    const peak = (xs: number[]) => (xs.length ? Math.max(...xs) : undefined);
    const share = (a?: number, b?: number) => (a && b ? `${((a / b) * 100).toFixed(0)}%` : '–');
    const line = `| ${size.name} | ${gflop.toFixed(1)} | ${fmt(wall(r.lat), 1)} | ${fmt(wall(r.torch), 1)} | ${fmt(perCpu(r.latCpu), 1)} | ${fmt(perCpu(r.torchCpu), 1)} | ${fmt(peak(r.ortGemm), 1)}, ${fmt(peak(r.torchGemm), 1)} | ${share(perCpu(r.latCpu), peak(r.ortGemm))} | ${share(perCpu(r.torchCpu), peak(r.torchGemm))} |`;
    report.push(line);
    console.log(line);
  }
}

/**
 * Rates measured after the paired runs, one library at a time: lat's LengthDrop step (4 passes)
 * and TensorFlow.js (wasm backend, 1 thread, Adam).
 */
export async function otherTrainingRates(report: Report) {
  const seq = 128;
  // tfjs: the wasm backend (the pure-JS cpu backend trained ~4.5× slower here), one thread as
  // tfjs-backend-wasm has no threads in Node; a small batch, as its steps take seconds.
  const tfjsBatch = 8;
  report.heading(
    `Other training rates, seq ${seq}, one library at a time: lat with LengthDrop (4 passes per step, ${threads} threads) and TensorFlow.js (Adam, wasm backend, 1 thread, batch ${tfjsBatch})`,
  );
  report.table('model | batch | lat LengthDrop tokens/s | tfjs tokens/s | lat/tfjs');
  const notes: string[] = [];
  const tfjsJob = (size: Size): TfjsJob => ({
    backend: 'wasm',
    hidden: size.hidden,
    layers: size.layers,
    heads: size.heads,
    ffn: size.ffn,
    batch: tfjsBatch,
    seq,
    steps: quick ? 1 : 2,
  });
  let tfjsMini: { tokensPerSec: number } | string | undefined;
  const tfjsMiniRate = () => (tfjsMini ??= runTfjsWorker(tfjsJob(sizes[1]!)));
  for (const [size, batch] of [
    [sizes[1]!, 32],
    [sizes[2]!, 8],
  ] as const) {
    if (!chosen(size)) continue;
    const ldSteps = 2;
    const ld = new StepWorker(process.execPath, [
      benchEntry,
      '--train-worker',
      JSON.stringify({ size, batch, seq, steps: ldSteps, lengthDrop: true } satisfies TrainJob),
    ]);
    await ld.next();
    const ldMs: number[] = [];
    for (let i = 0; i < ldSteps; i++) ldMs.push((await ld.send('step')).ms!);
    await ld.send('exit');
    const ldRate = (batch * seq * 1000) / median(ldMs);
    let tf: { tokensPerSec: number } | string;
    if (size === sizes[1]) tf = tfjsMiniRate();
    else {
      // Larger models: bert-mini's tfjs rate scaled by MACs per token says whether a step fits in ~1 min.
      const mini = tfjsMiniRate();
      const macs = (x: Size) => encoderMacs(configOf(x), seq);
      const secs =
        typeof mini === 'string' ? 0 : (tfjsBatch * seq * macs(size)) / macs(sizes[1]!) / mini.tokensPerSec;
      tf =
        typeof mini === 'string'
          ? mini
          : secs > 60
            ? `tfjs skipped for ${size.name}: about ${secs.toFixed(0)} s per step (bert-mini's rate scaled by MACs)`
            : runTfjsWorker(tfjsJob(size));
    }
    if (typeof tf === 'string') {
      console.log(`  ${tf}`);
      notes.push(tf.startsWith('tfjs skipped') ? tf : `${size.name}: ${tf}`);
    }
    const tfRate = typeof tf === 'string' ? undefined : tf.tokensPerSec;
    const line = `| ${size.name} | ${batch} | ${fmt(ldRate, 0)} | ${fmt(tfRate, 0)} | ${tfRate ? (ldRate / tfRate).toFixed(1) : '–'} |`;
    report.push(line);
    console.log(line);
  }
  if (notes.length) report.push(`\n${notes.join('. ')}.`);
}
