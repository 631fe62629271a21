/**
 * Trainable pooling on long inputs (REFERENCE.md §4): measured wall-clock and MACs of full
 * attention, blockwise attention, pooled once, a pyramid schedule and iterative-softmax top-k at
 * equal k, at 2048 and 4096 tokens; then accuracy of short trained runs on the generated
 * long-document task (`generateLongDocumentTask`). Bounded: minutes, not tens of minutes.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encoderMacs, type StateDict, WordPieceTokenizer } from '@lat/core';
import {
  createAnytimeModel,
  createRandomWeights,
  extendPositions,
  lastBlockwiseLayer,
  type ModelConfig,
  padBatch,
  parseModelConfig,
  poolingCounts,
} from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import {
  type Encoded,
  encodeExamples,
  evaluate,
  generateLongDocumentTask,
  syntheticVocab,
  Trainer,
  type TrainOptions,
} from '@lat/train';
import { fmt, type Report } from '../report.js';
import { numFlag, quick } from '../setup.js';

interface Variant {
  name: string;
  pooling?: ModelConfig['pooling'] extends infer P ? Omit<NonNullable<P>, 'inputLength'> : never;
}

/** k rows after pooling (default 256); blocks of 512 before it, as the paper's encoder. */
const variants = (n: number, k = 256, chunk = 512): Variant[] => [
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

/** The variants at n tokens scaled as at 4096 tokens with k = 256 and blocks of 512. */
const scaledVariants = (n: number) => variants(n, n / 16, n / 8);

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

const describeVariant = (v: Variant) =>
  v.pooling
    ? [
        v.pooling.chunk ? `blocks of ${v.pooling.chunk}` : '',
        ...v.pooling.schedule.map(([l, k]) => `layer ${l} → ${k}`),
      ]
        .filter(Boolean)
        .join(', ')
    : 'n² in every layer';

/**
 * Trained accuracy at 2048 and 4096 tokens, with MACs and measured wall-clock, on the generated
 * long-document task. Training from scratch on 4k-token documents does not fit minutes on this
 * machine, so every variant follows one length curriculum: `epochs` epochs on short documents
 * (`pooling-tokens`, default 256, widths scaled as at 4096), then one epoch on
 * `pooling-long-train` documents of 2048 tokens, then one of 4096 (position embeddings extended
 * by copying, `extendPositions`). Full attention is only trained on the short documents and
 * evaluated at 2048 and 4096.
 */
export async function poolingAccuracy(report: Report): Promise<void> {
  const short = numFlag('pooling-tokens', quick ? 64 : 256);
  const epochs = numFlag('pooling-epochs', quick ? 1 : 8);
  const longTrain = numFlag('pooling-long-train', quick ? 4 : 64);
  const longDev = numFlag('pooling-long-dev', quick ? 4 : 96);
  const shortLr = numFlag('pooling-lr', 1e-3, false);
  const lengths = quick ? [512, 1024] : [2048, 4096];
  const k = quick ? 32 : 256;
  const chunk = quick ? 64 : 512;
  // Depth decides the speed-up: every layer of the blockwise model attends over all n rows, the
  // pooled one only its first (2 layers bound the ratio at ≈ 2×).
  const size = { layers: numFlag('pooling-layers', 4), hidden: 64, heads: 2 };
  const runtime = createNodeRuntime({ threads: 1 });
  const tok = new WordPieceTokenizer(syntheticVocab);
  const data = (n: number, seed: number, train: number, dev: number) => {
    const task = generateLongDocumentTask({ seed, train, dev, minWords: n / 2, maxWords: n - 3 });
    return { train: encodeExamples(task.train, tok, n), dev: encodeExamples(task.dev, tok, n) };
  };
  const fit = async (c: ModelConfig, weights: StateDict, train: Encoded[], o: Partial<TrainOptions>) =>
    (
      await new Trainer({
        runtime,
        config: c,
        weights,
        train,
        metrics: ['accuracy'],
        outDir: mkdtempSync(join(tmpdir(), 'lat-bench-pooling-')),
        options: { lengthDrop: null, seed: 1, evalBatchSize: 8, ...o },
      }).train()
    ).weights;
  const score = async (c: ModelConfig, weights: StateDict, dev: Encoded[]) => {
    const model = await createAnytimeModel(runtime, c, weights, { selection: false, keptPositions: false });
    const t0 = performance.now();
    const acc = (await evaluate(model, dev, ['accuracy'], undefined, { batchSize: 8 })).metrics['accuracy']!;
    const msPerDoc = (performance.now() - t0) / dev.length;
    await model.release();
    return { acc, msPerDoc };
  };

  const first = data(short, 3, numFlag('pooling-train', quick ? 16 : 600), 200);
  const long = lengths.map((n) => ({ n, ...data(n, n, longTrain, longDev) }));
  const rows: {
    n: number;
    name: string;
    what: string;
    acc: number;
    ms: number;
    macs: number;
    tuned: boolean;
  }[] = [];
  const shortRows: { name: string; acc: number; trainS: number }[] = [];
  for (let vi = 0; vi < scaledVariants(short).length; vi++) {
    const v0 = scaledVariants(short)[vi]!;
    let c = configOf(v0, short, size);
    const t0 = performance.now();
    let w = await fit(c, createRandomWeights(c, 1), first.train, {
      epochs,
      batchSize: 8,
      learningRate: shortLr,
    });
    const s = await score(c, w, first.dev);
    shortRows.push({ name: v0.name, acc: s.acc, trainS: (performance.now() - t0) / 1000 });
    console.log(`  ${short} tokens, ${v0.name}: accuracy ${s.acc.toFixed(3)}`);
    for (const { n, train, dev } of long) {
      const v = variants(n, k, chunk)[vi]!;
      const next = configOf(v, n, size);
      w = extendPositions(c, w, n).weights;
      c = next;
      // Full attention is trained on short documents only: its n² training step at 2–4k tokens
      // is the cost the other variants remove (at 2048 tokens it took 3× blockwise's here).
      const tuned = v.pooling !== undefined;
      const t1 = performance.now();
      if (tuned) w = await fit(c, w, train, { epochs: 1, batchSize: 4, learningRate: 1e-3 });
      const trainS = (performance.now() - t1) / 1000;
      const r = await score(c, w, dev);
      rows.push({
        n,
        name: v.name,
        what: describeVariant(v),
        acc: r.acc,
        ms: r.msPerDoc,
        macs: poolingMacs(c, n),
        tuned,
      });
      console.log(
        `  ${n} tokens, ${v.name}: accuracy ${r.acc.toFixed(3)}, ${r.msPerDoc.toFixed(1)} ms/doc, fine-tune ${trainS.toFixed(0)} s`,
      );
    }
  }
  report.push(
    `\n### Trainable pooling — trained accuracy at ${lengths.join(' and ')} tokens (generated long-document task)`,
    `\n${size.layers} layers × ${size.hidden} hidden, ${size.heads} heads, FFN ${size.hidden * 4}, from scratch, seed 1, 1 thread. Length curriculum for every variant (full attention: the first stage only): ${epochs} epochs on ${first.train.length} documents of ${short / 2}–${short - 3} words (${short} tokens, widths scaled as at 4096: blocks ${short / 8}, k = ${short / 16}; batch 8, lr ${shortLr}), then 1 epoch on ${longTrain} documents at ${lengths[0]} tokens, then 1 epoch on ${longTrain} at ${lengths[1]} (batch 4, lr 1e-3; positions extended by copying). Dev: ${longDev} documents per length (n/2 to n − 3 words), batch 8; ms per document measured over the whole dev run. Same variants as the speed table: blocks of ${chunk} before the first pooling, k = ${k}.`,
    '\n| tokens | variant | layout | dev accuracy | Δ vs blockwise (points) | ms / doc | speed-up vs blockwise | MMACs / doc |',
    '|---:|---|---|---:|---:|---:|---:|---:|',
  );
  for (const n of lengths) {
    const at = rows.filter((r) => r.n === n);
    const base = at[1]!;
    for (const r of at)
      report.push(
        `| ${n} | ${r.name}${r.tuned ? '' : ' †'} | ${r.what} | ${fmt(r.acc * 100, 1)}% | ${fmt((r.acc - base.acc) * 100, 1)} | ${fmt(r.ms, 1)} | ${fmt(base.ms / r.ms)}× | ${fmt(r.macs / 1e6, 0)} |`,
      );
  }
  report.push(
    `\n† trained on the ${short}-token documents only (positions extended by copying), not fine-tuned at 2048/4096.`,
    `\nAfter the ${short}-token stage (${first.dev.length} dev documents): ${shortRows.map((r) => `${r.name} ${fmt(r.acc * 100, 1)}% (${fmt(r.trainS, 0)} s)`).join(', ')}.`,
  );
}
