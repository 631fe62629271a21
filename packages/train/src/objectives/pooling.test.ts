/**
 * Trainable pooling end to end: a pooled config trains through the Trainer (task loss only, the
 * scorers learning through the merge weights), is scored pooled, and its saved model directory
 * loads back into the same pooled network. The scorer loss option: off (weight 0) is the graph
 * and loss pooling trained with before; bad weights are refused.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LengthSpec, toModelProto, WordPieceTokenizer } from '@lat/core';
import {
  buildTrainingGraph,
  createAnytimeModel,
  createRandomWeights,
  parseModelConfig,
  scorerLoss,
  scorerNames,
  type TokenReducer,
  taskLoss,
  toHfConfig,
  withScorers,
} from '@lat/layers';
import { loadModelDir } from '@lat/layers/node';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { encodeExamples, padBatch } from '../batches.js';
import { writeModelFiles } from '../checkpoint.js';
import { evaluate } from '../evaluate.js';
import { generateSentimentTask, syntheticModelConfig } from '../synthetic.js';
import { Trainer } from '../trainer.js';
import type { PassContext } from './objective.js';
import { poolingObjective } from './pooling.js';

const runtime = createNodeRuntime({ threads: 1 });
const task = generateSentimentTask({ train: 600, dev: 200, seed: 5 });
const tok = new WordPieceTokenizer(task.vocab);
const train = encodeExamples(task.train, tok, 32);
const dev = encodeExamples(task.dev, tok, 32);

describe('pooling training', () => {
  it('trains a 32 → 8 pooled model that scores well, pooled, and survives a save and load', async () => {
    const config = parseModelConfig({
      ...toHfConfig(syntheticModelConfig({ layers: 2, hidden: 32, heads: 2 })),
      lat_pooling: { schedule: [[0, 8]], input_length: 32 },
    });
    const initial = createRandomWeights(config, 1);
    const outDir = mkdtempSync(join(tmpdir(), 'lat-pooling-'));
    const r = await new Trainer({
      runtime,
      config,
      weights: initial,
      train,
      dev,
      metrics: ['accuracy'],
      outDir,
      options: { epochs: 10, batchSize: 32, learningRate: 2e-3, seed: 1, lengthDrop: null },
    }).train();
    expect(r.losses.at(-1)!).toBeLessThan(r.losses[0]!);
    const scorer = scorerNames(0).weight;
    expect(r.weights.get(scorer)!.data).not.toEqual(initial.get(scorer)!.data); // the scorer learned
    // The trainer's dev score is the pooled model's.
    const model = await createAnytimeModel(runtime, config, r.weights);
    const acc = (await evaluate(model, dev, ['accuracy'])).metrics['accuracy']!;
    expect(acc).toBeCloseTo(r.metrics!['accuracy']!, 6);
    expect(acc).toBeGreaterThan(0.85);
    const x = padBatch(dev.slice(0, 4));
    const out = await model.run(x);
    expect(out.keptPositions[0]!.every((kept) => kept.length <= 8 && kept[0] === 0)).toBe(true);

    writeModelFiles(join(outDir, 'model'), config, r.weights);
    const loaded = loadModelDir(join(outDir, 'model'));
    expect(loaded.config.pooling).toEqual(config.pooling);
    const again = await createAnytimeModel(runtime, loaded.config, loaded.weights);
    const out2 = await again.run(x);
    Array.from(out.logits!).forEach((v, i) => expect(out2.logits![i]).toBeCloseTo(v, 5));
    await model.release();
    await again.release();
  }, 120_000);
});

describe('pooling objective: the scorer loss option', () => {
  const config = parseModelConfig({
    ...toHfConfig(syntheticModelConfig({ layers: 2, hidden: 32, heads: 2 })),
    lat_pooling: { schedule: [[0, 8]], input_length: 32 },
  });
  const weights = withScorers(config, createRandomWeights(config, 1, { qa: true }));
  const graphOf = (reducer: TokenReducer<LengthSpec | undefined> | null | undefined) =>
    buildTrainingGraph(config, weights, {
      task: 'span',
      maxBatch: 2,
      maxSeq: 32,
      ...(reducer !== undefined ? { reducer } : {}),
    });

  it('weight 0 (the default) builds the graph and the loss weights pooling trained with before', async () => {
    const before = graphOf(undefined); // what a pooled config builds without an objective
    for (const o of [poolingObjective(config), poolingObjective(config, { scorerLoss: 0 })]) {
      const t = graphOf(o.reducer);
      expect(toModelProto(t.graph)).toEqual(toModelProto(before.graph));
      expect(t.lossTerms).toEqual([taskLoss, 'distillation']);
      expect(o.pass({} as PassContext).lossWeights).toEqual({ [taskLoss]: 1 });
    }
    // A weight adds the term, weighted, and the task loss is unchanged by it.
    const o = poolingObjective(config, { scorerLoss: 0.5 });
    expect(o.pass({} as PassContext).lossWeights).toEqual({ [taskLoss]: 1, [scorerLoss]: 0.5 });
    const t = graphOf(o.reducer);
    expect(t.lossTerms).toEqual([taskLoss, 'distillation', scorerLoss]);
    const x = padBatch(train.slice(0, 2));
    const spans = [
      [3, 4],
      [6, 6],
    ] as const;
    const loss = async (g: typeof t, lossWeights: Record<string, number>) => {
      const s = await runtime.createSession(toModelProto(g.graph));
      const out = await s.run({
        ...g.feeds.batch(x, spans, weights),
        ...g.feeds.teacher(x),
        ...g.feeds.pass(x, {
          setting: undefined,
          dropoutOffsets: new BigInt64Array(g.dropoutSites),
          lossWeights,
        }),
      });
      await s.release();
      return g.feeds.loss(out);
    };
    expect(await loss(t, { [taskLoss]: 1 })).toBe(await loss(before, { [taskLoss]: 1 }));
  });

  it('refuses a weight that is negative or not a number in one line', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => poolingObjective(config, { scorerLoss: bad })).toThrow(
        new RegExp(`^scorerLoss: must be a number ≥ 0, got ${bad}$`),
      );
  });
});
