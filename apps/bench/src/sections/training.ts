import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { encoderMacs } from '@lat/core';
import { createRandomWeights } from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import { type Encoded, Trainer } from '@lat/train';
import { fmt, type Report } from '../report.js';
import { chosen, configOf, quick, repo, type Size, sizes, threads, torch, torchJob } from '../setup.js';
import type { TfjsJob } from '../tfjs-bert.js';

/** The workers run in their own process, started through the bench's entry point. */
const benchEntry = join(import.meta.dirname, '../index.js');

export async function trainWorker(job: {
  size: Size;
  batch: number;
  seq: number;
  steps: number;
  lengthDrop: boolean;
}) {
  const c = configOf(job.size);
  const data: Encoded[] = Array.from({ length: job.batch * job.steps }, (_, i) => ({
    ids: Array.from({ length: job.seq }, (_, j) =>
      j === 0 ? 101 : j === job.seq - 1 ? 102 : 1000 + ((i * 31 + j * 7) % 28000),
    ),
    typeIds: new Array(job.seq).fill(0),
    label: i % 2,
  }));
  const stamps: number[] = [];
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
      if (e.type === 'step') stamps.push(performance.now());
    },
  });
  await trainer.train();
  const secs = (stamps.at(-1)! - stamps[0]!) / 1000;
  const tokensPerSec = ((stamps.length - 1) * job.batch * job.seq) / secs;
  process.stdout.write(JSON.stringify({ tokensPerSec, peakRssMB: process.resourceUsage().maxRSS / 1024 }));
}

export function runTrainWorker(job: Parameters<typeof trainWorker>[0]): {
  tokensPerSec: number;
  peakRssMB: number;
} {
  const r = spawnSync(process.execPath, [benchEntry, '--train-worker', JSON.stringify(job)], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`training worker failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
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

export async function training(report: Report) {
  // tfjs: the wasm backend (the pure-JS cpu backend trained ~4.5× slower here), one thread as
  // tfjs-backend-wasm has no threads in Node; a small batch, as its steps take seconds.
  const tfjsBatch = 8;
  report.heading(
    `Training, seq 128, ${threads} threads (fwd + bwd + AdamW; tfjs: Adam, wasm backend, 1 thread)`,
  );
  report.push(
    `| model | batch | lat tokens/s | PyTorch tokens/s | lat/PyTorch | tfjs tokens/s (batch ${tfjsBatch}) | lat/tfjs | lat peak RSS MB | PyTorch peak RSS MB | RSS ratio | lat LengthDrop step tokens/s (4 passes) |`,
  );
  report.push('|---|---|---|---|---|---|---|---|---|---|---|');
  const jobs: [Size, number, number][] = [
    [sizes[1]!, 32, quick ? 4 : 8],
    [sizes[2]!, 8, quick ? 2 : 4],
  ];
  const notes: string[] = [];
  const tfjsJob = (size: Size): TfjsJob => ({
    backend: 'wasm',
    hidden: size.hidden,
    layers: size.layers,
    heads: size.heads,
    ffn: size.ffn,
    batch: tfjsBatch,
    seq: 128,
    steps: quick ? 1 : 2,
  });
  let tfjsMini: { tokensPerSec: number } | string | undefined;
  const tfjsMiniRate = () => (tfjsMini ??= runTfjsWorker(tfjsJob(sizes[1]!)));
  for (const [size, batch, steps] of jobs.filter(([size]) => chosen(size))) {
    const lat = runTrainWorker({ size, batch, seq: 128, steps, lengthDrop: false });
    const ld = runTrainWorker({ size, batch, seq: 128, steps: Math.max(2, steps / 2), lengthDrop: true });
    const pt = torch([torchJob('t', 'train', size, batch, 128, steps)]);
    let tf: { tokensPerSec: number } | string;
    if (size === sizes[1]) tf = tfjsMiniRate();
    else {
      // Larger models: bert-mini's tfjs rate scaled by MACs per token says whether a step fits in ~1 min.
      const mini = tfjsMiniRate();
      const macs = (x: Size) => encoderMacs(configOf(x), 128);
      const secs =
        typeof mini === 'string' ? 0 : (tfjsBatch * 128 * macs(size)) / macs(sizes[1]!) / mini.tokensPerSec;
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
    const line = `| ${size.name} | ${batch} | ${fmt(lat.tokensPerSec, 0)} | ${fmt(pt?.['t']?.tokensPerSec, 0)} | ${pt ? (lat.tokensPerSec / pt['t']!.tokensPerSec!).toFixed(2) : '–'} | ${fmt(tfRate, 0)} | ${tfRate ? (lat.tokensPerSec / tfRate).toFixed(1) : '–'} | ${fmt(lat.peakRssMB, 0)} | ${fmt(pt?.peakRssMB, 0)} | ${pt ? (lat.peakRssMB / pt.peakRssMB!).toFixed(2) : '–'} | ${fmt(ld.tokensPerSec, 0)} |`;
    report.push(line);
    console.log(line);
  }
  if (notes.length) report.push(`\n${notes.join('. ')}.`);
}
