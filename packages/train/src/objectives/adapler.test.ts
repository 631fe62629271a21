/**
 * AdapLeR training on onnxruntime: the soft-removal graph at λ = 1e20 predicts what hard removal
 * does; its gradients (the model's pass: CE + γ·KL, the thresholds' pass: CE + φ·length) match
 * finite differences; saliency targets match finite differences of the gold logit and are cached;
 * a short joint run trains the predictors and keeps η inside [0.01, 1].
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type StateDict, toModelProto, WordPieceTokenizer } from '@lat/core';
import {
  type AdaplerSetting,
  adapler,
  adaplerReducer,
  buildTrainingGraph,
  createAnytimeModel,
  createRandomWeights,
  initialAdaplerWeights,
  taskLoss,
} from '@lat/layers';
import { adaplerTestWeights, tinyBertConfig } from '@lat/layers/testing';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { encodeExamples, padBatch } from '../batches.js';
import {
  buildSaliencyGraph,
  computeSaliency,
  dataFingerprint,
  modelsFingerprint,
  readSaliencyFile,
  saliencyTargets,
} from '../saliency.js';
import { generateSentimentTask, syntheticModelConfig } from '../synthetic.js';
import { Trainer } from '../trainer.js';
import {
  adaplerDevEvaluator,
  adaplerObjective,
  defaultAdaplerConfig,
  defaultLambdaSchedule,
  etaLearningRateFor,
  lambdaAt,
  lambdaScheduleFor,
  parseLambdaSchedule,
  referenceSteps,
} from './adapler.js';

const runtime = createNodeRuntime({ threads: 1 });
const c = tinyBertConfig(0);
const sentences = [
  [2, 7, 9, 4, 8, 11, 5, 3],
  [2, 6, 13, 3],
  [2, 13, 9, 14, 15, 4, 3],
];
const item = (ids: number[], label = 1) => ({ ids, typeIds: ids.map(() => 0), label });
const saliencyFor = (ids: number[]) => Float32Array.from(ids, (_, j) => 1 + ((j * 7) % 5));

/** A training session for the tiny model and a loss/gradient evaluator for one pass kind. */
async function trainingSession(batch: number[][]) {
  const t = buildTrainingGraph<AdaplerSetting>(c, adaplerTestWeights(c, 0.5), {
    task: 'classification',
    maxBatch: batch.length,
    maxSeq: 10,
    reducer: adaplerReducer,
  });
  const s = await runtime.createSession(toModelProto(t.graph));
  const x = padBatch(batch.map((ids, b) => item(ids, b % 2)));
  const saliency = new Float32Array(x.batch * x.seq);
  batch.forEach((ids, b) => saliency.set(saliencyFor(ids), b * x.seq));
  const run = async (weights: StateDict, lambda: number, lossWeights: Record<string, number>) =>
    s.run({
      ...t.feeds.batch(
        x,
        batch.map((_, b) => b % 2),
        weights,
      ),
      ...t.feeds.teacher(x),
      ...t.feeds.pass(x, {
        setting: { lambda, saliency },
        dropoutOffsets: new BigInt64Array(t.dropoutSites),
        lossWeights,
      }),
    });
  return { t, s, run };
}

function bumped(w: StateDict, name: string, i: number, delta: number): StateDict {
  const data = Float32Array.from(w.get(name)!.data);
  data[i]! += delta;
  return new Map(w).set(name, { dims: w.get(name)!.dims, data });
}

describe('AdapLeR training graph', () => {
  it('at λ = 1e20 predicts what hard removal does, input by input', async () => {
    const w = adaplerTestWeights(c, 0.9);
    const hard = await createAnytimeModel<AdaplerSetting>(runtime, c, w, { reducer: adaplerReducer });
    for (const ids of sentences) {
      const { t, s, run } = await trainingSession([ids]);
      const soft = await run(w, 1e20, { [taskLoss]: 1 });
      const alone = await hard.run(padBatch([item(ids)]));
      const kept = alone.keptPositions.map((l) => l[0]!.length);
      expect(kept[0]).toBeLessThan(ids.length); // tokens were removed
      // The soft length after each layer is the hard kept count.
      expect(Array.from(alone.logits!)).toEqual(
        Array.from(soft['logits']!.data as Float32Array).map((v) => expect.closeTo(v, 4)),
      );
      const length = t.feeds.loss(await run(w, 1e20, { [adapler.lengthLoss]: 1 }));
      expect(length).toBeCloseTo(
        kept.reduce((a, b) => a + b, 0),
        3,
      );
      await s.release();
    }
    await hard.release();
  });

  it("gives each group its own loss's gradient, matching finite differences", async () => {
    const w = adaplerTestWeights(c, 0.5);
    const { t, s, run } = await trainingSession(sentences);
    const lambda = 3; // a smooth removal function, away from the clip corners
    const fd = async (lossWeights: Record<string, number>, name: string, i: number, eps: number) => {
      const up = t.feeds.loss(await run(bumped(w, name, i, eps), lambda, lossWeights));
      const down = t.feeds.loss(await run(bumped(w, name, i, -eps), lambda, lossWeights));
      return (up - down) / (2 * eps);
    };
    const check = async (lossWeights: Record<string, number>, name: string, i: number, eps: number) => {
      const g = t.feeds.grads(await run(w, lambda, lossWeights))[name]![i]!;
      const numeric = await fd(lossWeights, name, i, eps);
      expect(Math.abs(g - numeric)).toBeLessThan(2e-3 + 0.03 * Math.abs(g));
      return g;
    };
    // The model's pass: CE + γ·KL (γ large so the KL term is visible in the check).
    const model = { [taskLoss]: 1, [adapler.klLoss]: 0.5 };
    const gCp = await check(model, `${adapler.predictor(0, 'hidden')}.weight`, 3, 1e-3);
    const gOut = await check(model, `${adapler.predictor(1, 'out')}.weight`, 5, 1e-3);
    await check(model, 'encoder.layer.0.attention.self.query.weight', 7, 1e-2);
    expect(Math.abs(gCp) + Math.abs(gOut)).toBeGreaterThan(1e-4);
    // The thresholds' pass: CE + φ·length.
    const thresholds = { [taskLoss]: 1, [adapler.lengthLoss]: 0.05 };
    const g0 = await check(thresholds, adapler.eta, 0, 1e-3);
    const g1 = await check(thresholds, adapler.eta, 1, 1e-3);
    expect(Math.abs(g0) + Math.abs(g1)).toBeGreaterThan(1e-3); // η moves lengths
    await s.release();
  });
});

describe('saliency targets', () => {
  it('are ‖∂logit_gold/∂H0 ⊙ H0‖ per token (finite differences), averaged, cached and checked', async () => {
    const w = createRandomWeights(c, 7, {}, 0.3);
    const data = sentences.map((ids, b) => item(ids, b % 2));
    const [first] = await computeSaliency(runtime, c, [w], data.slice(0, 1));
    // Finite differences of the gold logit along each token's own embedding: d/dε logit(H0 + ε·e_j⊙H0) = Σ_k G_jk·H0_jk.
    const s = await runtime.createSession(toModelProto(buildSaliencyGraph(c, w)));
    const x = padBatch(data.slice(0, 1));
    const d = c.hiddenSize;
    const feeds = (shift: Float32Array) => ({
      input_ids: { type: 'int64' as const, dims: [1, x.seq], data: x.inputIds },
      attention_mask: { type: 'int64' as const, dims: [1, x.seq], data: x.attentionMask },
      token_type_ids: { type: 'int64' as const, dims: [1, x.seq], data: new BigInt64Array(x.seq) },
      embeddings_shift: { type: 'float32' as const, dims: [1, x.seq, d], data: shift },
      labels: { type: 'int64' as const, dims: [1], data: BigInt64Array.of(0n) },
    });
    const base = await s.run(feeds(new Float32Array(x.seq * d)));
    const grads = base['grad.embeddings_shift']!.data as Float32Array;
    const h0 = base['embeddings']!.data as Float32Array;
    const logitAt = async (j: number, k: number, eps: number) => {
      const shift = new Float32Array(x.seq * d);
      shift[j * d + k] = eps;
      return Number((await s.run(feeds(shift)))['loss']!.data[0]);
    };
    for (const [j, k] of [
      [0, 1],
      [3, 5],
      [7, 12],
    ] as const) {
      const numeric = ((await logitAt(j, k, 1e-2)) - (await logitAt(j, k, -1e-2))) / 2e-2;
      expect(grads[j * d + k]).toBeCloseTo(numeric, 3);
    }
    let sq = 0;
    for (let k = 0; k < d; k++) sq += (grads[3 * d + k]! * h0[3 * d + k]!) ** 2;
    expect(first![3]).toBeCloseTo(Math.sqrt(sq), 5);
    await s.release();

    // Two models average; a batch equals one example at a time.
    const w2 = createRandomWeights(c, 8, {}, 0.3);
    const avg = await computeSaliency(runtime, c, [w, w2], data, { batchSize: 3 });
    const other = await computeSaliency(runtime, c, [w2], data.slice(0, 1));
    avg[0]!.forEach((v, j) => expect(v).toBeCloseTo((first![j]! + other[0]![j]!) / 2, 5));

    const cacheDir = mkdtempSync(join(tmpdir(), 'lat-saliency-'));
    const a = await saliencyTargets(runtime, c, [w], data, { cacheDir });
    const b = await saliencyTargets(runtime, c, [w], data, { cacheDir });
    expect([a.fromCache, b.fromCache]).toEqual([false, true]);
    expect(b.targets.map((t) => Array.from(t))).toEqual(a.targets.map((t) => Array.from(t)));
    expect(Array.from(b.targets[0]!)).toEqual(Array.from(first!).map((v) => expect.closeTo(v, 5)));
    const expectIds = { model: a.model, data: dataFingerprint(data) };
    expect(readSaliencyFile(a.file, expectIds)).toHaveLength(3);
    expect(() => readSaliencyFile(a.file, { ...expectIds, data: dataFingerprint(data.slice(1)) })).toThrow(
      /saliency\..*\.bin: these saliency targets were computed for another data file/,
    );
    expect(() => readSaliencyFile(a.file, { ...expectIds, model: modelsFingerprint([w2]) })).toThrow(
      /computed for another model/,
    );
    const junk = join(cacheDir, 'junk.bin');
    writeFileSync(junk, 'not saliency');
    expect(() => readSaliencyFile(junk, expectIds)).toThrow(/junk\.bin: not a lat saliency-targets file/);
  });
});

describe('AdapLeR objective', () => {
  it('parses and follows the λ schedule', () => {
    const s = parseLambdaSchedule('1000,10,10');
    expect([lambdaAt(s, 0, 0), lambdaAt(s, 1, 0), lambdaAt(s, 9, 2)]).toEqual([1000, 10, 1000]);
    expect(() => parseLambdaSchedule('1000,10')).toThrow(
      /--lambda-schedule: expected three positive numbers/,
    );
  });

  it('fine-tune → saliency → AdapLeR: trains jointly, η on its own inside [0.01, 1], removes tokens per input', async () => {
    const task = generateSentimentTask({ train: 600, dev: 200, seed: 11 });
    const tok = new WordPieceTokenizer(task.vocab);
    const train = encodeExamples(task.train, tok, 32);
    const dev = encodeExamples(task.dev, tok, 32);
    const config = syntheticModelConfig({ layers: 3, hidden: 32, heads: 2 });
    const options = { epochs: 4, batchSize: 32, learningRate: 2e-3, seed: 3, layerDrop: 0, lengthDrop: null };
    const outDir = mkdtempSync(join(tmpdir(), 'lat-adapler-'));
    const common = { runtime, config, train, dev, metrics: ['accuracy'] as const, outDir, options };
    const ft = await new Trainer({ ...common, weights: createRandomWeights(config, 1) }).train();
    const saliency = await computeSaliency(runtime, config, [ft.weights], train);
    const start = new Map([...ft.weights, ...initialAdaplerWeights(config, 2)]);
    const r = await new Trainer({
      ...common,
      weights: start,
      objective: adaplerObjective(
        { ...defaultAdaplerConfig, gamma: 0.5, phi: 0.05, etaLearningRate: 0.05 },
        saliency,
      ),
      evaluateDev: adaplerDevEvaluator(runtime, config, dev, ['accuracy']),
    }).train();
    expect(r.losses.every(Number.isFinite)).toBe(true);
    const eta = Array.from(r.weights.get(adapler.eta)!.data);
    expect(eta.every((v) => v >= 0.01 && v <= 1)).toBe(true);
    expect(eta.some((v) => Math.abs(v - 0.25) > 0.01)).toBe(true); // the length penalty moved η
    const cp = `${adapler.predictor(1, 'hidden')}.weight`;
    expect(r.weights.get(cp)!.data).not.toEqual(start.get(cp)!.data);
    expect(r.metrics!['macs_speedup']).toBeGreaterThan(1.2);
    expect(r.metrics!['accuracy']).toBeGreaterThan(ft.metrics!['accuracy']! - 0.1);
  }, 120_000);

  it('scales η’s learning rate to the run and anneals λ to ≈1e5 by the last epoch', () => {
    expect(referenceSteps).toBe(10_525); // 67,349 SST-2 rows / 32, 5 epochs
    expect(etaLearningRateFor(referenceSteps)).toBeCloseTo(5e-4, 12);
    expect(etaLearningRateFor(10 * referenceSteps)).toBeCloseTo(5e-4, 12); // never below the reference
    expect(etaLearningRateFor(375) * 375).toBeCloseTo(5e-4 * referenceSteps, 8); // same total travel
    expect(etaLearningRateFor(7)).toBe(0.05); // capped
    const last = (epochs: number) => lambdaAt(lambdaScheduleFor(epochs), 1, epochs - 1);
    expect(lambdaScheduleFor(5)).toEqual(defaultLambdaSchedule);
    expect(lambdaScheduleFor(3)).toEqual({ first: 1000, base: 50, growth: 50 }); // the reference's
    expect(lambdaScheduleFor(10)).toEqual({ first: 1000, base: 10, growth: 3 });
    for (const e of [2, 4, 5, 8]) expect(last(e)).toBeCloseTo(1e5, 4);
    expect(last(3)).toBe(125_000);
  });

  it('a short run with the reference’s φ and γ removes tokens at the scaled η learning rate, none at 5e-4', async () => {
    const task = generateSentimentTask({ train: 480, dev: 160, seed: 4 });
    const tok = new WordPieceTokenizer(task.vocab);
    const train = encodeExamples(task.train, tok, 32);
    const dev = encodeExamples(task.dev, tok, 32);
    const config = syntheticModelConfig({ layers: 2, hidden: 32, heads: 2 });
    const epochs = 3;
    const options = { epochs, batchSize: 32, learningRate: 2e-3, seed: 3, layerDrop: 0, lengthDrop: null };
    const outDir = mkdtempSync(join(tmpdir(), 'lat-adapler-short-'));
    const common = { runtime, config, train, dev, metrics: ['accuracy'] as const, outDir, options };
    const ft = await new Trainer({ ...common, weights: createRandomWeights(config, 1) }).train();
    const saliency = await computeSaliency(runtime, config, [ft.weights], train);
    const start = new Map([...ft.weights, ...initialAdaplerWeights(config, 2)]);
    const steps = Math.ceil(train.length / 32) * epochs;
    const run = async (etaLearningRate: number) => {
      const r = await new Trainer({
        ...common,
        weights: start,
        objective: adaplerObjective(
          { ...defaultAdaplerConfig, lambda: lambdaScheduleFor(epochs), etaLearningRate },
          saliency,
        ),
        evaluateDev: adaplerDevEvaluator(runtime, config, dev, ['accuracy']),
      }).train();
      return { eta: Array.from(r.weights.get(adapler.eta)!.data), speedup: r.metrics!['macs_speedup']! };
    };
    const reference = await run(defaultAdaplerConfig.etaLearningRate);
    const scaled = await run(etaLearningRateFor(steps));
    // Adam moves η ≈ 5e-4 per step: over 45 steps it stays near 0.25, and nothing is removed
    // (the predictors' cost makes the speed-up < 1). The scaled rate takes η to where it removes.
    expect(reference.eta.every((v) => Math.abs(v - 0.25) < 5e-4 * steps)).toBe(true);
    expect(reference.speedup).toBeLessThan(1.05);
    expect(scaled.speedup).toBeGreaterThan(1.3);
  }, 120_000);

  it('resumes exactly: predictors, η and η’s optimiser state survive a checkpoint', async () => {
    const task = generateSentimentTask({ seed: 2, train: 48, dev: 8 });
    const train = encodeExamples(task.train, new WordPieceTokenizer(task.vocab), 24);
    const config = syntheticModelConfig({ layers: 2, hidden: 16, heads: 2 });
    const weights = new Map([...createRandomWeights(config, 1), ...initialAdaplerWeights(config, 2)]);
    const saliency = train.map((e) => Float32Array.from(e.ids, (_, j) => Math.exp(-j / 3)));
    const objective = adaplerObjective(
      { ...defaultAdaplerConfig, phi: 0.05, etaLearningRate: 0.05 },
      saliency,
    );
    const options = { epochs: 2, batchSize: 16, learningRate: 1e-3, seed: 5, layerDrop: 0, lengthDrop: null };
    const setup = (outDir: string) => ({
      runtime,
      config,
      weights,
      train,
      metrics: ['accuracy'] as const,
      outDir,
      options,
      objective,
    });
    const whole = await new Trainer(setup(mkdtempSync(join(tmpdir(), 'lat-adapler-whole-')))).train();
    const dir = mkdtempSync(join(tmpdir(), 'lat-adapler-resume-'));
    const first: Trainer<AdaplerSetting> = new Trainer({
      ...setup(dir),
      onEvent: (e) => e.type === 'step' && e.step === 4 && first.stop(),
    });
    expect((await first.train()).stopped).toBe(true);
    const resumed = await new Trainer(setup(dir)).train(true);
    expect(resumed.losses).toEqual(whole.losses);
    for (const name of [adapler.eta, `${adapler.predictor(1, 'out')}.weight`])
      expect(Array.from(resumed.weights.get(name)!.data)).toEqual(Array.from(whole.weights.get(name)!.data));
    expect(Array.from(whole.weights.get(adapler.eta)!.data)).not.toEqual([0.25, 0.25]);
  }, 60_000);
});
