/**
 * `pnpm bench`: lat against what users would run instead, measured side by side in one run on
 * this machine, printed as ratios and saved as markdown under bench/results/.
 *  - inference: the anytime graph at full length and at reduced lengths vs a plain BERT ONNX
 *    graph (same weights, no selection ops) and vs PyTorch eager; onnxruntime-web (wasm) too;
 *  - training: tokens/s and peak RSS of fwd+bwd+AdamW vs PyTorch (same shape, same threads);
 *  - one fwd+bwd of a 4-layer hidden-256 encoder vs PyTorch and vs a pure-TS lower bound.
 * Baselines that are not installed are skipped with a message.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  createRandomWeights,
  encoderMacs,
  type HostTensor,
  type ModelConfig,
  parseModelConfig,
  type Runtime,
  type StateDict,
  toModelProto,
  WordPieceTokenizer,
} from '@lat/core';
import { loadModelDir } from '@lat/core/node';
import { buildTrainingGraph, createAnytimeModel, type EncodedBatch, type LengthSpec } from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import { createWebRuntime } from '@lat/runtime-web';
import {
  type Encoded,
  encodeExamples,
  evaluate,
  generateRaveTask,
  generateSentimentTask,
  getTask,
  padBatch,
  Rng,
  readExamples,
  syntheticModelConfig,
  Trainer,
  type TrainOptions,
} from '@lat/train';
import type { TfjsJob } from './tfjs-bert.js';
import {
  benchTexts,
  benchVocab,
  createTransformersJsModel,
  loadTransformersJs,
  writeHfModelDir,
} from './transformers-js.js';

/** `--name=value` or `--name value`. */
function flag(name: string): string | undefined {
  const i = process.argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = process.argv[i]!;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : process.argv[i + 1];
}

/** A positive number flag (`whole`: an integer), or `fallback` when absent. */
function numFlag(name: string, fallback: number, whole = true): number {
  const v = flag(name);
  const n = v === undefined ? fallback : Number(v);
  if (!(n > 0) || (whole && !Number.isInteger(n)))
    throw new Error(`--${name} must be a positive ${whole ? 'whole ' : ''}number, got ${v}`);
  return n;
}

const threads = Number(process.env['LAT_BENCH_THREADS'] ?? 2);
const quick = process.argv.includes('--quick');
const repo = join(import.meta.dirname, '../../..');
const python = '/usr/bin/python3';

interface Size {
  name: string;
  layers: number;
  hidden: number;
  heads: number;
  ffn: number;
}
const sizes: Size[] = [
  { name: 'bert-tiny', layers: 2, hidden: 128, heads: 2, ffn: 512 },
  { name: 'bert-mini', layers: 4, hidden: 256, heads: 4, ffn: 1024 },
  { name: 'bert-base', layers: 12, hidden: 768, heads: 12, ffn: 3072 },
];
/** --sizes=bert-tiny,bert-mini limits the inference and training tables to those models. */
const chosenSizes = flag('sizes')?.split(',');
for (const name of chosenSizes ?? []) {
  if (!sizes.some((s) => s.name === name))
    throw new Error(`--sizes: unknown model ${name} (${sizes.map((s) => s.name).join(', ')})`);
}
const chosen = (s: Size) => !chosenSizes || chosenSizes.includes(s.name);

const configOf = (s: Size): ModelConfig =>
  parseModelConfig({
    model_type: 'bert',
    vocab_size: 30522,
    hidden_size: s.hidden,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    intermediate_size: s.ffn,
    max_position_embeddings: 512,
  });

function batchOf(batch: number, seq: number): EncodedBatch {
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

/** Median ms over runs, after warm-up; stops early once ~2 s were spent. */
async function time(run: () => Promise<unknown>, maxRuns = quick ? 5 : 20): Promise<number> {
  await run();
  await run();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < maxRuns && (times.length < 3 || performance.now() - start < 2000)) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

/** A PyTorch job for torch_bench.py: the same architecture as `size`. */
function torchJob(
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

function torch(
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

const md: string[] = [];
const fmt = (x: number | undefined, d = 2) => (x === undefined ? '–' : x.toFixed(d));

/** Logits from transformers.js and lat's plain graph on the same text must agree: same weights run. */
function checkSameLogits(name: string, tjs: Float32Array, lat: Float32Array) {
  const diff = Math.max(...Array.from(tjs, (v, i) => Math.abs(v - lat[i]!)));
  console.log(`  ${name}: transformers.js vs plain graph logits, max |diff| ${diff.toExponential(2)}`);
  if (!(diff < 1e-3)) throw new Error(`transformers.js logits differ from lat's plain graph by ${diff}`);
}

async function inference(runtime: Runtime, runtimeName: string, which: Size[], shapes: [number, number][]) {
  // transformers.js runs on onnxruntime-node, so it is compared in the Node table only.
  const tjs = runtimeName.startsWith('onnxruntime-node') ? await loadTransformersJs() : undefined;
  const tjsRoot = typeof tjs === 'object' ? mkdtempSync(join(tmpdir(), 'lat-bench-tjs-')) : undefined;
  md.push(
    `\n### Inference (${runtimeName}; "from text" columns include tokenizing, the others start from token ids)\n`,
  );
  if (typeof tjs === 'string') {
    console.log(`  transformers.js skipped: ${tjs}`);
    md.push(`transformers.js: skipped — ${tjs}.\n`);
  } else if (tjs) {
    md.push(
      `transformers.js: @huggingface/transformers ${tjs.env.version}, offline, CPU, ${threads} threads, running the plain graph (same weights) from a local model directory; its logits are checked against lat's plain graph.\n`,
    );
  }
  md.push(
    '| model | batch × seq | plain ORT ms | lat full ms | lat/plain | PyTorch ms | lat full from text ms | transformers.js from text ms | lat full / transformers.js | r=0.8 | r=0.6 | r=0.4 |',
  );
  md.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of which.filter(chosen)) {
    const c = configOf(s);
    const w = createRandomWeights(c, 1);
    const tok = new WordPieceTokenizer(benchVocab(c.vocabSize));
    if (tjsRoot) writeHfModelDir(join(tjsRoot, s.name), c, w, tok);
    let checked = false;
    for (const [batch, seq] of shapes) {
      if (s.name === 'bert-base' && batch * seq > 1024 && quick) continue;
      const x = batchOf(batch, seq);
      const texts = benchTexts(batch, seq);
      // lat from text: lat's tokenizer, then the anytime graph at full length.
      const fromText = () =>
        padBatch(
          encodeExamples(
            texts.map((textA) => ({ textA, label: 0, source: '' })),
            tok,
            seq,
          ),
        );
      // PyTorch first, then one ORT session at a time: idle ORT thread pools spin and would
      // steal cycles from whatever runs next.
      const pt = runtimeName.startsWith('onnxruntime-node')
        ? torch([torchJob('x', 'infer', s, batch, seq, quick ? 3 : 10)])
        : undefined;
      const plain = await createAnytimeModel(runtime, c, w, {
        selection: false,
        keptPositions: false,
        session: { threads },
      });
      const tPlain = await time(() => plain.run(x));
      const plainLogits = tjsRoot && !checked ? (await plain.run(fromText())).logits! : undefined;
      await plain.release();
      const lat = await createAnytimeModel(runtime, c, w, { keptPositions: false, session: { threads } });
      const tFull = await time(() => lat.run(x));
      const tText = await time(() => lat.run(fromText()));
      const reduced: string[] = [];
      for (const r of [0.8, 0.6, 0.4]) {
        const spec: LengthSpec = { form: 'ratio', ratios: new Array(c.numLayers).fill(r) };
        const t = await time(() => lat.run(x, spec));
        const counts = new Array(c.numLayers).fill(Math.ceil(r * seq));
        const macsSpeedup = encoderMacs(c, seq) / encoderMacs(c, seq, counts);
        const speedup = tPlain / t;
        reduced.push(
          `${speedup.toFixed(2)}× (MACs ${macsSpeedup.toFixed(2)}×, ${((speedup / macsSpeedup) * 100).toFixed(0)}%)`,
        );
      }
      await lat.release();
      let tTjs: number | undefined;
      if (tjsRoot && typeof tjs === 'object') {
        const model = await createTransformersJsModel(tjs, tjsRoot, s.name, threads);
        if (plainLogits) {
          checkSameLogits(s.name, await model.run(texts, seq), plainLogits);
          checked = true;
        }
        tTjs = await time(() => model.run(texts, seq));
        await model.release();
      }
      const line = `| ${s.name} | ${batch} × ${seq} | ${fmt(tPlain)} | ${fmt(tFull)} | ${(tFull / tPlain).toFixed(3)} | ${fmt(pt?.['x']?.ms)} | ${fmt(tText)} | ${fmt(tTjs)} | ${tTjs ? (tText / tTjs).toFixed(3) : '–'} | ${reduced.join(' | ')} |`;
      md.push(line);
      console.log(line);
    }
  }
  if (tjsRoot) rmSync(tjsRoot, { recursive: true, force: true });
}

async function trainWorker(job: {
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

function runTrainWorker(job: Parameters<typeof trainWorker>[0]): { tokensPerSec: number; peakRssMB: number } {
  const r = spawnSync(process.execPath, [import.meta.filename, '--train-worker', JSON.stringify(job)], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`training worker failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The tfjs baseline in its own process (its backend and memory stay out of ORT's way); a string says why not. */
function runTfjsWorker(job: TfjsJob): { tokensPerSec: number } | string {
  const r = spawnSync(process.execPath, [import.meta.filename, '--tfjs-worker', JSON.stringify(job)], {
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  if (r.status !== 0) {
    const why = r.error?.message ?? r.stderr.split('\n').find((l) => /Error/.test(l)) ?? `exit ${r.status}`;
    return `tfjs (${job.backend}) failed: ${why.trim()}`;
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!); // tfjs prints a banner first
}

async function training() {
  // tfjs: the wasm backend (the pure-JS cpu backend trained ~4.5× slower here), one thread as
  // tfjs-backend-wasm has no threads in Node; a small batch, as its steps take seconds.
  const tfjsBatch = 8;
  md.push(
    `\n### Training, seq 128, ${threads} threads (fwd + bwd + AdamW; tfjs: Adam, wasm backend, 1 thread)\n`,
  );
  md.push(
    `| model | batch | lat tokens/s | PyTorch tokens/s | lat/PyTorch | tfjs tokens/s (batch ${tfjsBatch}) | lat/tfjs | lat peak RSS MB | PyTorch peak RSS MB | RSS ratio | lat LengthDrop step tokens/s (4 passes) |`,
  );
  md.push('|---|---|---|---|---|---|---|---|---|---|---|');
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
    md.push(line);
    console.log(line);
  }
  if (notes.length) md.push(`\n${notes.join('. ')}.`);
}

/** Naive pure-TS matmul speed on this machine: the best a pure-TS training step could do. */
function pureTsGflops(): number {
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
async function latFwdBwdMs(size: Size, batch: number, seq: number): Promise<number> {
  const c = configOf(size);
  const w = createRandomWeights(c, 1);
  const t = buildTrainingGraph(c, w, { task: 'classification', maxBatch: batch, maxSeq: seq });
  const session = await createNodeRuntime({ threads }).createSession(toModelProto(t.graph));
  const x = batchOf(batch, seq);
  const feeds: Record<string, HostTensor> = {
    input_ids: { type: 'int64', dims: [batch, seq], data: x.inputIds },
    attention_mask: { type: 'int64', dims: [batch, seq], data: x.attentionMask },
    token_type_ids: { type: 'int64', dims: [batch, seq], data: x.tokenTypeIds! },
    keep_counts: {
      type: 'int64',
      dims: [batch, c.numLayers],
      data: new BigInt64Array(batch * c.numLayers).fill(BigInt(seq)),
    },
    dropout_offsets: {
      type: 'int64',
      dims: [t.dropoutSites],
      data: BigInt64Array.from({ length: t.dropoutSites }, (_, i) => BigInt(i * 7919)),
    },
    loss_weights: { type: 'float32', dims: [2], data: Float32Array.of(1, 0) },
    labels: { type: 'int64', dims: [batch], data: new BigInt64Array(batch) },
    teacher_probs: { type: 'float32', dims: [batch, 2], data: new Float32Array(batch * 2) },
  };
  for (const [name, v] of w) feeds[name] = { type: 'float32', dims: v.dims, data: v.data };
  const ms = await time(() => session.run(feeds), 5);
  await session.release();
  return ms;
}

async function fwdBwd() {
  const size = sizes[1]!;
  const batch = 32;
  const seq = 128;
  const pt = torch([torchJob('t', 'train', size, batch, seq, 5)]);
  const latMs = await latFwdBwdMs(size, batch, seq);
  // Forward + backward ≈ 3× the forward MACs (two matmuls per weight in the backward pass).
  const flops = 3 * 2 * encoderMacs(configOf(size), seq) * batch;
  const tsMs = (flops / (pureTsGflops() * 1e9)) * 1000;
  md.push(
    `\n### One forward + backward pass, 4 layers × 256 hidden, batch 32 × seq 128 (no optimizer step)\n`,
  );
  md.push('| lat (ORT) ms | PyTorch ms | PyTorch/lat | pure-TS lower bound ms | pure-TS/lat |');
  md.push('|---|---|---|---|---|');
  const ptMs = pt?.['t']?.fwdBwdMs;
  const line = `| ${fmt(latMs, 0)} | ${fmt(ptMs, 0)} | ${ptMs ? (ptMs / latMs).toFixed(2) : '–'} | ${fmt(tsMs, 0)} | ${(tsMs / latMs).toFixed(1)} |`;
  md.push(line);
  console.log(line);
}

/**
 * The point of LengthDrop: accuracy against measured speed-up for the same model fine-tuned with
 * and without it, each layer keeping r of the input's tokens. Both runs start from `weights`.
 */
async function curve(
  title: string,
  o: {
    config: ModelConfig;
    weights: StateDict;
    train: Encoded[];
    dev: Encoded[];
    /** Timed at batch 1 for the speed-up row; its ids must be in the model's vocabulary. */
    speedInput: Encoded;
    options: Pick<TrainOptions, 'epochs' | 'batchSize' | 'learningRate'>;
    /** Add the reference's second stage: LengthDrop from the plain model, reverse KL, per-batch lengths. */
    referenceRecipe?: boolean;
  },
) {
  const runtime = createNodeRuntime({ threads });
  const ratios = [1, 0.8, 0.6, 0.4, 0.2, 0.1];
  md.push(`\n### ${title}\n`);
  md.push(`| training | ${ratios.map((r) => `r=${r}`).join(' | ')} |`);
  md.push(`|---|${ratios.map(() => '---').join('|')}|`);
  const speed: string[] = [];
  const devSpeed: string[] = [];
  const lengthDrop = { ratioBound: 0.4, minLength: 2, numSandwich: 2 };
  const variants: [string, Partial<TrainOptions>, boolean][] = [
    ['plain', { lengthDrop: null }, false],
    ['LengthDrop', { lengthDrop }, false],
  ];
  if (o.referenceRecipe)
    variants.push([
      'LengthDrop from plain, reverse KL, per-batch',
      { lengthDrop, kd: 'reverse', lengthSampling: 'per-batch' },
      true,
    ]);
  let plainWeights = o.weights;
  for (const [name, options, fromPlain] of variants) {
    const started = performance.now();
    const r = await new Trainer({
      runtime,
      config: o.config,
      weights: fromPlain ? plainWeights : o.weights,
      train: o.train,
      metrics: ['accuracy'],
      outDir: join(repo, 'bench/results/.train-tmp'),
      options: { seed: 42, ...o.options, ...options },
    }).train();
    console.log(`  ${name} fine-tuning: ${((performance.now() - started) / 1000).toFixed(0)} s`);
    if (name === 'plain') plainWeights = r.weights;
    const model = await createAnytimeModel(runtime, o.config, r.weights, { keptPositions: false });
    const x = padBatch([o.speedInput]);
    const full = await time(() => model.run(x));
    // The whole dev set in batches of 32 (padded per batch), as evaluation and serving run it.
    const devSet = (spec?: LengthSpec) => evaluate(model, o.dev, ['accuracy'], spec);
    const fullDev = name === 'plain' ? await time(() => devSet(), 5) : 0;
    const cells: string[] = [];
    for (const ratio of ratios) {
      const spec: LengthSpec | undefined =
        ratio === 1 ? undefined : { form: 'ratio', ratios: new Array(o.config.numLayers).fill(ratio) };
      cells.push((100 * (await devSet(spec)).metrics['accuracy']!).toFixed(1));
      if (name === 'plain') {
        speed.push(`${(full / (await time(() => model.run(x, spec)))).toFixed(2)}×`);
        devSpeed.push(`${(fullDev / (await time(() => devSet(spec), 5))).toFixed(2)}×`);
      }
    }
    await model.release();
    md.push(`| ${name} accuracy % | ${cells.join(' | ')} |`);
    console.log(name, cells.join(' '));
  }
  md.push(
    `| measured speed-up (batch 1, a ${o.speedInput.ids.length}-token dev sentence) | ${speed.join(' | ')} |`,
  );
  md.push(`| measured speed-up (the ${o.dev.length} dev inputs, batches of 32) | ${devSpeed.join(' | ')} |`);
  md.push(
    `\nRecipes (each ${o.options.epochs} epochs, batch ${o.options.batchSize}, lr ${o.options.learningRate}, AdamW weight decay 0.01, 10% warm-up, last epoch kept): plain — no LayerDrop; LengthDrop — ratio bound 0.4, 2 sandwich sub-models, LayerDrop 0.2 with lengths drawn over the layers that run, forward KL, lengths per example over real lengths${o.referenceRecipe ? "; the reference's second stage — the same LengthDrop started from the plain model's weights, reverse KL, lengths per batch over the padded length" : ''}.`,
  );
}

/**
 * The embedded tasks on a small random-initialised BERT, trained in seconds: sentiment (a few
 * words decide, so even a plain model keeps its accuracy) and rave reviews (counting, which a
 * plain model loses when tokens are dropped).
 */
async function accuracyCurve() {
  const tasks = [
    {
      name: 'embedded sentiment task',
      task: generateSentimentTask({ seed: 7, train: 2000, dev: 400 }),
      epochs: 6,
      lr: 2e-3,
    },
    {
      name: 'rave task (≥ 3 praise words)',
      task: generateRaveTask({ seed: 7, train: 2000, dev: 400 }),
      epochs: 10,
      lr: 1e-3,
    },
  ];
  for (const { name, task, epochs, lr } of tasks) {
    const tok = new WordPieceTokenizer(task.vocab);
    const config = syntheticModelConfig({ layers: 4, hidden: 64, heads: 4 });
    const dev = encodeExamples(task.dev, tok, 64);
    await curve(`Accuracy vs speed-up, ${name} (4 layers × 64), every layer keeps r of each input`, {
      config,
      weights: createRandomWeights(config, 1),
      train: encodeExamples(task.train, tok, 64),
      dev,
      speedInput: dev[0]!,
      options: { epochs, batchSize: 32, learningRate: lr },
    });
  }
}

/**
 * The same curve on real data: --model (a Hugging Face BERT checkpoint) fine-tuned on a seeded
 * subset of --sst2's train.tsv, scored on the whole dev.tsv. Loaded with the same package
 * functions `lat train` uses (loadModelDir, getTask, readExamples, encodeExamples).
 */
async function sst2Curve() {
  // `pnpm bench` runs in apps/bench: a relative path that is not there is taken from the repo root.
  const path = (p: string | undefined) => (p && !existsSync(p) ? resolve(repo, p) : p);
  const dataDir = path(flag('sst2'));
  const modelDir = path(flag('model'));
  if (!dataDir || !modelDir) {
    const why = `SST-2 curve skipped: pass --sst2 <GLUE SST-2 dir> and --model <Hugging Face BERT dir>`;
    console.log(`  ${why}`);
    md.push(`\n${why}.`);
    return;
  }
  const size = numFlag('sst2-train', 2000);
  const epochs = numFlag('sst2-epochs', 2);
  const learningRate = numFlag('sst2-lr', 1e-4, false);
  const maxLength = 128; // lat train's default
  const m = loadModelDir(modelDir);
  if (!m.vocab) throw new Error(`${modelDir} has no vocab.txt`);
  const task = getTask('sst2');
  if (m.config.numLabels !== task.labels.length)
    throw new Error(`${modelDir} has ${m.config.numLabels} labels, SST-2 has ${task.labels.length}`);
  const tok = new WordPieceTokenizer(m.vocab, { doLowerCase: m.doLowerCase });
  const all = readExamples(join(dataDir, 'train.tsv'), task).examples;
  const subset = new Rng(7)
    .permutation(all.length)
    .slice(0, size)
    .map((i) => all[i]!);
  const dev = encodeExamples(readExamples(join(dataDir, 'dev.tsv'), task).examples, tok, maxLength);
  const longest = dev.reduce((a, b) => (b.ids.length > a.ids.length ? b : a));
  const c = m.config;
  await curve(
    `Accuracy vs speed-up, SST-2 dev (${dev.length} sentences): ${m.dir.replace(/\/+$/, '').split('/').at(-1)} (${c.numLayers} layers × ${c.hiddenSize}) fine-tuned ${epochs} epochs on ${subset.length} train sentences, every layer keeps r of each input`,
    {
      config: c,
      weights: m.weights,
      train: encodeExamples(subset, tok, maxLength),
      dev,
      speedInput: longest,
      options: { epochs, batchSize: 32, learningRate },
      referenceRecipe: true,
    },
  );
}

async function main() {
  if (process.argv[2] === '--train-worker') return trainWorker(JSON.parse(process.argv[3]!));
  if (process.argv[2] === '--tfjs-worker') {
    const { tfjsTrain } = await import('./tfjs-bert.js'); // only here: tfjs loads its backends on import
    return console.log(JSON.stringify(await tfjsTrain(JSON.parse(process.argv[3]!))));
  }
  const started = new Date();
  console.log(`lat bench${quick ? ' (quick)' : ''}: ${threads} threads`);
  md.push(`## lat benchmarks — ${started.toISOString().slice(0, 10)}`);
  md.push(
    `\nMachine: ${(await import('node:os')).cpus()[0]?.model ?? 'unknown CPU'}, ${threads} threads, Node ${process.version}. Random weights, median latency.`,
  );
  md.push(
    'lat/plain: the anytime graph at full length vs the same BERT without selection ops. r: every layer keeps r × n tokens; speed-up vs plain, with the MACs speed-up and the share of it realised.',
  );
  const only = flag('sections')?.split(',');
  const sections: [string, string, () => Promise<void>][] = [
    [
      'inference',
      'inference, onnxruntime-node',
      () =>
        inference(createNodeRuntime({ threads }), `onnxruntime-node, ${threads} threads`, sizes, [
          [1, 128],
          [8, 128],
          [1, 384],
          [8, 384],
        ]),
    ],
    [
      'web',
      'inference, onnxruntime-web (wasm) in Node',
      () =>
        inference(
          createWebRuntime({ threads: 1 }),
          'onnxruntime-web wasm, 1 thread',
          [sizes[1]!],
          [[1, 128]],
        ),
    ],
    ['training', 'training', training],
    ['fwdbwd', 'fwd+bwd', fwdBwd],
    ['curve', 'accuracy vs speed-up', accuracyCurve],
    ['sst2', 'accuracy vs speed-up on SST-2', sst2Curve],
  ];
  mkdirSync(join(repo, 'bench/results'), { recursive: true });
  const file = join(repo, only ? 'bench/results/partial.md' : 'bench/results/latest.md');
  for (const [key, title, run] of sections) {
    if (only && !only.includes(key)) continue;
    console.log(`\n${title}`);
    await run();
    writeFileSync(file, `${md.join('\n')}\n`); // after every section, so a failure keeps what was measured
  }
  console.log(`\nwritten ${file}`);
}

await main();
