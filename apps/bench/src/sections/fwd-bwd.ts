import { encoderMacs, toModelProto } from '@lat/core';
import { buildTrainingGraph, createRandomWeights, taskLoss } from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import { fmt, type Report } from '../report.js';
import { batchOf, configOf, type Size, sizes, threads, time, torch, torchJob } from '../setup.js';

/** Naive pure-TS matmul speed on this machine: the best a pure-TS training step could do. */
export function pureTsGflops(): number {
  const n = 256;
  const a = new Float32Array(n * n).fill(0.5);
  const b = new Float32Array(n * n).fill(0.25);
  const c = new Float32Array(n * n);
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      for (let j = 0; j < n; j++) c[i * n + j]! += aik * b[k * n + j]!;
    }
  }
  return (2 * n ** 3) / ((performance.now() - t) / 1000) / 1e9;
}

/** One forward + backward pass of the training graph (no optimizer), timed on its own. */
export async function latFwdBwdMs(size: Size, batch: number, seq: number): Promise<number> {
  const c = configOf(size);
  const w = createRandomWeights(c, 1);
  const t = buildTrainingGraph(c, w, { task: 'classification', maxBatch: batch, maxSeq: seq });
  const session = await createNodeRuntime({ threads }).createSession(toModelProto(t.graph));
  const x = batchOf(batch, seq);
  const feeds = {
    ...t.feeds.batch(x, new Array<number>(batch).fill(0), w),
    ...t.feeds.teacher(x),
    ...t.feeds.pass(x, {
      setting: undefined, // full length
      dropoutOffsets: BigInt64Array.from({ length: t.dropoutSites }, (_, i) => BigInt(i * 7919)),
      lossWeights: { [taskLoss]: 1 },
    }),
  };
  const ms = await time(() => session.run(feeds), 5);
  await session.release();
  return ms;
}

export async function fwdBwd(report: Report) {
  const size = sizes[1]!;
  const batch = 32;
  const seq = 128;
  const pt = torch([torchJob('t', 'train', size, batch, seq, 5)]);
  const latMs = await latFwdBwdMs(size, batch, seq);
  // Forward + backward ≈ 3× the forward MACs (two matmuls per weight in the backward pass).
  const flops = 3 * 2 * encoderMacs(configOf(size), seq) * batch;
  const tsMs = (flops / (pureTsGflops() * 1e9)) * 1000;
  report.heading(
    'One forward + backward pass, 4 layers × 256 hidden, batch 32 × seq 128 (no optimizer step)',
  );
  report.push('| lat (ORT) ms | PyTorch ms | PyTorch/lat | pure-TS lower bound ms | pure-TS/lat |');
  report.push('|---|---|---|---|---|');
  const ptMs = pt?.['t']?.fwdBwdMs;
  const line = `| ${fmt(latMs, 0)} | ${fmt(ptMs, 0)} | ${ptMs ? (ptMs / latMs).toFixed(2) : '–'} | ${fmt(tsMs, 0)} | ${(tsMs / latMs).toFixed(1)} |`;
  report.push(line);
  console.log(line);
}
