/**
 * Trainable pooling on long inputs (REFERENCE.md §4): measured wall-clock and MACs of full
 * attention, blockwise attention, pooled once, a pyramid schedule and iterative-softmax top-k at
 * equal k, at 2048 and 4096 tokens; then accuracy of short trained runs on the generated
 * long-document task (`generateLongDocumentTask`). Bounded: minutes, not tens of minutes.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encoderMacs, WordPieceTokenizer } from '@lat/core';
import {
  createAnytimeModel,
  createRandomWeights,
  lastBlockwiseLayer,
  type ModelConfig,
  padBatch,
  parseModelConfig,
  poolingCounts,
} from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import { encodeExamples, evaluate, generateLongDocumentTask, syntheticVocab, Trainer } from '@lat/train';
import { fmt, type Report } from '../report.js';
import { numFlag, quick } from '../setup.js';

interface Variant {
  name: string;
  pooling?: ModelConfig['pooling'] extends infer P ? Omit<NonNullable<P>, 'inputLength'> : never;
}

/** k = 256 rows after pooling; blocks of 512 before it, as the paper's encoder. */
const variants = (n: number): Variant[] => [
  { name: 'full attention' },
  { name: 'blockwise (512)', pooling: { schedule: [], chunk: 512 } },
  { name: 'pooled once → 256', pooling: { schedule: [[0, 256]], chunk: 512 } },
  {
    name: `pyramid → ${n / 4} → 256`,
    pooling: {
      schedule: [
        [0, n / 4],
        [1, 256],
      ],
      chunk: 512,
    },
  },
  { name: 'iterative softmax → 256', pooling: { schedule: [[0, 256]], chunk: 512, operator: 'iterative' } },
];

function configOf(
  v: Variant,
  n: number,
  size: { layers: number; hidden: number; heads: number },
): ModelConfig {
  return parseModelConfig({
    model_type: 'bert',
    vocab_size: syntheticVocab.length,
    hidden_size: size.hidden,
    num_hidden_layers: size.layers,
    num_attention_heads: size.heads,
    intermediate_size: size.hidden * 4,
    max_position_embeddings: n,
    type_vocab_size: 2,
    id2label: { 0: 'negative', 1: 'positive' },
    ...(v.pooling ? { lat_pooling: { ...v.pooling, input_length: n } } : {}),
  });
}

/**
 * MACs of one n-token input: the LAT cost model over the rows each layer runs on, with
 * blockwise layers' attention at n·c instead of n², the scorers (n·d each) and the iterative
 * operator's k·n·d product. Successive halving's gathers and merges are O(n·d) and left out.
 */
export function poolingMacs(c: ModelConfig, n: number): number {
  const d = c.hiddenSize;
  const counts = poolingCounts(c, n);
  let macs = encoderMacs(c, n, counts);
  const p = c.pooling;
  if (!p) return macs;
  const until = lastBlockwiseLayer(c);
  let rows = n;
  for (let i = 0; i < c.numLayers; i++) {
    if (i <= until) macs -= 2 * rows * (rows - Math.min(rows, p.chunk!)) * d;
    const k = p.schedule.find(([l]) => l === i)?.[1];
    if (k !== undefined) macs += rows * d + (p.operator === 'iterative' ? k * rows * d : 0);
    rows = counts[i]!;
  }
  return macs;
}

async function medianMs(run: () => Promise<unknown>, runs: number): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

export async function poolingSpeed(report: Report): Promise<void> {
  const runtime = createNodeRuntime({ threads: 1 });
  const size = { layers: 4, hidden: 256, heads: 4 };
  const runs = quick ? 3 : numFlag('pooling-runs', 5);
  report.push(
    `\n### Trainable pooling on long inputs — inference, onnxruntime-node, 1 thread`,
    `\nBERT-like encoder, ${size.layers} layers × ${size.hidden} hidden, ${size.heads} heads, FFN ${size.hidden * 4}, random weights, batch 1, median of ${runs} runs. Blockwise: blocks of 512 up to the first pooling; k = 256 rows after pooling. Speed-up vs blockwise.`,
    '\n| tokens | variant | ms | speed-up vs blockwise | MMACs | MACs speed-up vs blockwise |',
    '|---:|---|---:|---:|---:|---:|',
  );
  for (const n of [2048, 4096]) {
    const rows: { name: string; ms: number; macs: number }[] = [];
    for (const v of variants(n)) {
      const c = configOf(v, n, size);
      const m = await createAnytimeModel(runtime, c, createRandomWeights(c, 1), {
        selection: false,
        keptPositions: false,
      });
      const ids = Array.from({ length: n }, (_, j) => (j === 0 ? 2 : j === n - 1 ? 3 : 5 + ((j * 7) % 80)));
      const x = padBatch([{ ids, typeIds: new Array<number>(n).fill(0) }]);
      const ms = await medianMs(() => m.run(x), runs);
      await m.release();
      rows.push({ name: v.name, ms, macs: poolingMacs(c, n) });
      console.log(`  ${n} tokens, ${v.name}: ${ms.toFixed(1)} ms`);
    }
    const base = rows[1]!;
    for (const r of rows)
      report.push(
        `| ${n} | ${r.name} | ${fmt(r.ms, 1)} | ${fmt(base.ms / r.ms)}× | ${fmt(r.macs / 1e6, 0)} | ${fmt(base.macs / r.macs)}× |`,
      );
  }
}

/**
 * Short trained runs on the long-document task: the same small model, data, steps and seed for
 * every variant; accuracy on the dev split and measured dev-set wall-clock.
 */
export async function poolingAccuracy(report: Report): Promise<void> {
  const n = numFlag('pooling-tokens', 1024);
  const epochs = numFlag('pooling-epochs', quick ? 1 : 6);
  const size = { layers: 4, hidden: 64, heads: 4 };
  const task = generateLongDocumentTask({
    seed: 3,
    train: numFlag('pooling-train', 400),
    dev: 200,
    minWords: n / 2,
    maxWords: n - 3,
  });
  const tok = new WordPieceTokenizer(task.vocab);
  const train = encodeExamples(task.train, tok, n);
  const dev = encodeExamples(task.dev, tok, n);
  const runtime = createNodeRuntime({ threads: 1 });
  report.push(
    `\n### Trainable pooling — accuracy on the generated long-document task (${n} tokens)`,
    `\n\`generateLongDocumentTask({ seed: 3, train: ${train.length}, dev: ${dev.length}, minWords: ${n / 2}, maxWords: ${n - 3} })\`: one to three sentiment words among filler decide the label. ${size.layers} layers × ${size.hidden} hidden trained from scratch, ${epochs} epochs, batch 8, lr 1e-3, seed 1, 1 thread; the widths scale with ${n} as at 4096 (k = n/16). Dev wall-clock: the whole dev set, batch 8.`,
    '\n| variant | dev accuracy | train s | dev ms | dev speed-up vs blockwise |',
    '|---|---:|---:|---:|---:|',
  );
  const k = n / 16;
  const chunk = n / 8;
  const vs: Variant[] = [
    { name: 'full attention' },
    { name: `blockwise (${chunk})`, pooling: { schedule: [], chunk } },
    { name: `pooled once → ${k}`, pooling: { schedule: [[0, k]], chunk } },
    {
      name: `pyramid → ${n / 4} → ${k}`,
      pooling: {
        schedule: [
          [0, n / 4],
          [1, k],
        ],
        chunk,
      },
    },
    { name: `iterative softmax → ${k}`, pooling: { schedule: [[0, k]], chunk, operator: 'iterative' } },
  ];
  const rows: { name: string; acc: number; trainS: number; devMs: number }[] = [];
  for (const v of vs) {
    const c = configOf(v, n, size);
    const t0 = performance.now();
    const r = await new Trainer({
      runtime,
      config: c,
      weights: createRandomWeights(c, 1),
      train,
      metrics: ['accuracy'],
      outDir: mkdtempSync(join(tmpdir(), 'lat-bench-pooling-')),
      options: { epochs, batchSize: 8, learningRate: 1e-3, seed: 1, lengthDrop: null, evalBatchSize: 8 },
    }).train();
    const trainS = (performance.now() - t0) / 1000;
    const model = await createAnytimeModel(runtime, c, r.weights, { selection: false, keptPositions: false });
    const t1 = performance.now();
    const acc = (await evaluate(model, dev, ['accuracy'], undefined, { batchSize: 8 })).metrics['accuracy']!;
    const devMs = performance.now() - t1;
    await model.release();
    rows.push({ name: v.name, acc, trainS, devMs });
    console.log(
      `  ${v.name}: accuracy ${acc.toFixed(3)}, train ${trainS.toFixed(0)} s, dev ${devMs.toFixed(0)} ms`,
    );
  }
  const base = rows[1]!;
  for (const r of rows)
    report.push(
      `| ${r.name} | ${fmt(r.acc * 100, 1)}% | ${fmt(r.trainS, 0)} | ${fmt(r.devMs, 0)} | ${fmt(base.devMs / r.devMs)}× |`,
    );
}
