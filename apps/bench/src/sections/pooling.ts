/**
 * Trainable pooling on long inputs (REFERENCE.md §4): measured wall-clock and MACs of full
 * attention, blockwise attention, pooled once, a pyramid schedule and iterative-softmax top-k at
 * equal k, at 2048 and 4096 tokens; then accuracy of short trained runs on the generated
 * long-document task (`generateLongDocumentTask`). Bounded: minutes, not tens of minutes.
 */

import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LatError, type StateDict, WordPieceTokenizer } from '@lat/core';
import {
  createAnytimeModel,
  createRandomWeights,
  extendPositions,
  type ModelConfig,
  padBatch,
  parseModelConfig,
  poolingMacs,
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
import { fmt, mean, pm, type Report } from '../report.js';
import { flag, numFlag, quick } from '../setup.js';

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

/** A list-of-whole-numbers flag (`--name 1,2,3`, each ≤ `max`), or `fallback` when absent. */
function listFlag(name: string, fallback: number[], max = Number.MAX_SAFE_INTEGER): number[] {
  const v = flag(name);
  if (v === undefined) return fallback;
  const xs = v.split(',').map(Number);
  if (xs.some((x) => !Number.isInteger(x) || x < 0 || x > max))
    throw new LatError(
      'BAD_INPUT',
      `must be a comma-separated list of whole numbers${max < Number.MAX_SAFE_INTEGER ? ` from 0 to ${max}` : ''}, got ${v}`,
      `--${name}`,
    );
  return xs;
}

/**
 * Fine-tuning options at 2048/4096 tokens: an effective batch of 4 for every variant. Full
 * attention's training graph holds several B·H·n² maps per layer (scores, probabilities, dropout,
 * their gradients: 134 MB each at 4096 tokens, 2 heads, batch 1), so it runs `fullBatch`
 * documents per pass and accumulates gradients over 4 / `fullBatch` passes.
 */
export function lengthTuneOptions(full: boolean, fullBatch: number, epochs: number): Partial<TrainOptions> {
  if (!full) return { epochs, batchSize: 4, learningRate: 1e-3 };
  if (![1, 2, 4].includes(fullBatch))
    throw new LatError(
      'BAD_INPUT',
      `must divide the effective batch of 4, got ${fullBatch}`,
      '--pooling-full-batch',
    );
  return { epochs, batchSize: fullBatch, gradAccumulation: 4 / fullBatch, learningRate: 1e-3 };
}

/** One trained variant at one length and seed (`variant`: index into `variants`). */
export interface AccuracyRun {
  seed: number;
  n: number;
  variant: number;
  name: string;
  what: string;
  acc: number;
  ms: number;
  macs: number;
  tuneS: number;
  tuned: boolean;
}

/**
 * The accuracy table's rows at `n` tokens over every seed run: accuracy mean ± std (and each
 * seed's, in seed order), differences of the means against blockwise (variant 1) and full
 * attention (variant 0) when they ran, and speed from the mean ms per document.
 */
export function accuracyTableRows(runs: readonly AccuracyRun[], n: number): string[] {
  const at = runs.filter((r) => r.n === n);
  const byVariant = [...new Set(at.map((r) => r.variant))]
    .sort((a, b) => a - b)
    .map((v) => at.filter((r) => r.variant === v).sort((a, b) => a.seed - b.seed));
  const summary = (rs: AccuracyRun[] | undefined) =>
    rs && { acc: mean(rs.map((r) => r.acc)), ms: mean(rs.map((r) => r.ms)) };
  const blockwise = summary(byVariant.find((rs) => rs[0]!.variant === 1));
  const full = summary(byVariant.find((rs) => rs[0]!.variant === 0));
  const delta = (acc: number, base: { acc: number } | undefined) =>
    base ? fmt((acc - base.acc) * 100, 1) : '–';
  return byVariant.map((rs) => {
    const r = rs[0]!;
    const s = summary(rs)!;
    const accs = rs.map((x) => x.acc);
    return `| ${n} | ${r.name}${r.tuned ? '' : ' †'} | ${r.what} | ${pm(accs)}% | ${accs.map((a) => fmt(a * 100, 1)).join(' / ')} | ${delta(s.acc, blockwise)} | ${delta(s.acc, full)} | ${fmt(s.ms, 1)} | ${blockwise ? `${fmt(blockwise.ms / s.ms)}×` : '–'} | ${fmt(r.macs / 1e6, 0)} | ${r.tuned ? fmt(mean(rs.map((x) => x.tuneS)), 0) : '–'} |`;
  });
}

/**
 * Trained accuracy at 2048 and 4096 tokens, with MACs and measured wall-clock, on the generated
 * long-document task, over `--pooling-seeds` (default 1; a seed sets the weights' initialisation,
 * the batch order and dropout — the documents are the same for every seed). Training from
 * scratch on 4k-token documents does not fit minutes on this machine, so every variant follows
 * one length curriculum: `epochs` epochs on short documents (`pooling-tokens`, default 256,
 * widths scaled as at 4096), then `pooling-long-epochs` (default 1) epochs on
 * `pooling-long-train` documents of 2048 tokens, then the same at 4096 (position embeddings
 * extended by copying, `extendPositions`). Full attention is fine-tuned at length too, with
 * gradient accumulation (`lengthTuneOptions`) unless `--pooling-untuned-full` keeps it at the
 * short stage's weights. `--pooling-variants 0,2` runs only those variants (0 full attention,
 * 1 blockwise, 2 pooled once, 3 pyramid, 4 iterative softmax).
 */
export async function poolingAccuracy(report: Report): Promise<void> {
  const short = numFlag('pooling-tokens', quick ? 64 : 256);
  const epochs = numFlag('pooling-epochs', quick ? 1 : 8);
  const longTrain = numFlag('pooling-long-train', quick ? 4 : 64);
  const longDev = numFlag('pooling-long-dev', quick ? 4 : 96);
  const longEpochs = numFlag('pooling-long-epochs', 1);
  const fullBatch = numFlag('pooling-full-batch', 1);
  const tuneFull = !process.argv.includes('--pooling-untuned-full');
  const shortLr = numFlag('pooling-lr', 1e-3, false);
  const seeds = listFlag('pooling-seeds', [1]);
  const chosen = listFlag('pooling-variants', [0, 1, 2, 3, 4], 4);
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
  const fit = async (
    c: ModelConfig,
    weights: StateDict,
    train: Encoded[],
    seed: number,
    o: Partial<TrainOptions>,
  ) =>
    (
      await new Trainer({
        runtime,
        config: c,
        weights,
        train,
        metrics: ['accuracy'],
        outDir: mkdtempSync(join(tmpdir(), 'lat-bench-pooling-')),
        options: { lengthDrop: null, seed, evalBatchSize: 8, ...o },
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
  const peakRssGb = () => process.resourceUsage().maxRSS / 1024 ** 2;

  const first = data(short, 3, numFlag('pooling-train', quick ? 16 : 600), 200);
  const long = lengths.map((n) => ({ n, ...data(n, n, longTrain, longDev) }));
  const runs: AccuracyRun[] = [];
  const shortRuns: { variant: number; name: string; acc: number; trainS: number }[] = [];
  const loads: number[] = [];
  const started = performance.now();
  // --pooling-out keeps each finished (seed, variant) as a JSON line and reuses it on a re-run with
  // the same flags, so a long multi-seed run can be resumed or extended by seeds.
  const out = flag('pooling-out');
  const kept: { seed: number; variant: number; short: (typeof shortRuns)[number]; runs: AccuracyRun[] }[] =
    out && existsSync(out)
      ? readFileSync(out, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
  for (const seed of seeds)
    for (const vi of chosen) {
      const done = kept.find((x) => x.seed === seed && x.variant === vi);
      if (done) {
        shortRuns.push(done.short);
        runs.push(...done.runs);
        console.log(`  seed ${seed}, ${done.short.name}: kept from ${out}`);
        continue;
      }
      const before = runs.length;
      const v0 = scaledVariants(short)[vi]!;
      let c = configOf(v0, short, size);
      loads.push(loadavg()[0]!);
      const t0 = performance.now();
      let w = await fit(c, createRandomWeights(c, seed), first.train, seed, {
        epochs,
        batchSize: 8,
        learningRate: shortLr,
      });
      const s = await score(c, w, first.dev);
      shortRuns.push({ variant: vi, name: v0.name, acc: s.acc, trainS: (performance.now() - t0) / 1000 });
      console.log(`  seed ${seed}, ${short} tokens, ${v0.name}: accuracy ${s.acc.toFixed(3)}`);
      for (const { n, train, dev } of long) {
        const v = variants(n, k, chunk)[vi]!;
        const next = configOf(v, n, size);
        w = extendPositions(c, w, n).weights;
        c = next;
        const full = v.pooling === undefined;
        const tuned = tuneFull || !full;
        const t1 = performance.now();
        if (tuned) w = await fit(c, w, train, seed, lengthTuneOptions(full, fullBatch, longEpochs));
        const tuneS = (performance.now() - t1) / 1000;
        const r = await score(c, w, dev);
        runs.push({
          seed,
          n,
          variant: vi,
          name: v.name,
          what: describeVariant(v),
          acc: r.acc,
          ms: r.msPerDoc,
          macs: poolingMacs(c, n),
          tuneS,
          tuned,
        });
        console.log(
          `  seed ${seed}, ${n} tokens, ${v.name}: accuracy ${r.acc.toFixed(3)}, ${r.msPerDoc.toFixed(1)} ms/doc, fine-tune ${tuneS.toFixed(0)} s, peak RSS so far ${peakRssGb().toFixed(2)} GB, load ${loadavg()[0]!.toFixed(1)}`,
        );
      }
      if (out)
        appendFileSync(
          out,
          `${JSON.stringify({ seed, variant: vi, short: shortRuns.at(-1), runs: runs.slice(before) })}\n`,
        );
    }
  loads.push(loadavg()[0]!);
  const cpu = process.cpuUsage();
  const wallS = (performance.now() - started) / 1000;
  report.push(
    `\n### Trainable pooling — trained accuracy at ${lengths.join(' and ')} tokens (generated long-document task, ${seeds.length} seed${seeds.length > 1 ? 's' : ''})`,
    `\n${size.layers} layers × ${size.hidden} hidden, ${size.heads} heads, FFN ${size.hidden * 4}, from scratch, seeds ${seeds.join(', ')} (weights, batch order and dropout; the same documents for every seed), 1 thread. Length curriculum for every variant: ${epochs} epoch${epochs > 1 ? 's' : ''} on ${first.train.length} documents of ${short / 2}–${short - 3} words (${short} tokens, widths scaled as at 4096: blocks ${short / 8}, k = ${short / 16}; batch 8, lr ${shortLr}), then ${longEpochs} epoch${longEpochs > 1 ? 's' : ''} on ${longTrain} documents at ${lengths[0]} tokens, then ${longEpochs} at ${lengths[1]} (effective batch 4, lr 1e-3; positions extended by copying${tuneFull ? `; full attention at batch ${fullBatch} × ${4 / fullBatch} accumulated` : ''}). Dev: ${longDev} documents per length (n/2 to n − 3 words), batch 8; ms per document measured over the whole dev run. Same variants as the speed table: blocks of ${chunk} before the first pooling, k = ${k}. Accuracy: mean ± std over seeds (population std), then each seed's; Δ: difference of the means, in points.`,
    `\nThis invocation (runs kept from --pooling-out excluded): ${fmt(wallS / 60, 1)} min wall-clock, ${fmt((cpu.user + cpu.system) / 6e7, 1)} CPU-min, peak RSS ${fmt(peakRssGb(), 2)} GB, load average ${fmt(Math.min(...loads), 1)}–${fmt(Math.max(...loads), 1)}.`,
    '\n| tokens | variant | layout | dev accuracy | per seed | Δ vs blockwise | Δ vs full | ms / doc | speed-up vs blockwise | MMACs / doc | fine-tune s |',
    '|---:|---|---|---:|---|---:|---:|---:|---:|---:|---:|',
    ...lengths.flatMap((n) => accuracyTableRows(runs, n)),
  );
  if (!tuneFull)
    report.push(
      `\n† trained on the ${short}-token documents only (positions extended by copying), not fine-tuned at ${lengths.join('/')}.`,
    );
  report.push(
    `\nAfter the ${short}-token stage (${first.dev.length} dev documents, mean ± std over seeds): ${chosen
      .map((vi) => {
        const rs = shortRuns.filter((r) => r.variant === vi);
        return `${rs[0]!.name} ${pm(rs.map((r) => r.acc))}% (${fmt(mean(rs.map((r) => r.trainS)), 0)} s)`;
      })
      .join(', ')}.`,
  );
}
