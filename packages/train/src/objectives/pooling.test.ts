/**
 * Trainable pooling end to end: a pooled config trains through the Trainer (task loss only, the
 * scorers learning through the merge weights), is scored pooled, and its saved model directory
 * loads back into the same pooled network.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WordPieceTokenizer } from '@lat/core';
import {
  createAnytimeModel,
  createRandomWeights,
  parseModelConfig,
  scorerNames,
  toHfConfig,
} from '@lat/layers';
import { loadModelDir } from '@lat/layers/node';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { encodeExamples, padBatch } from '../batches.js';
import { writeModelFiles } from '../checkpoint.js';
import { evaluate } from '../evaluate.js';
import { generateSentimentTask, syntheticModelConfig } from '../synthetic.js';
import { Trainer } from '../trainer.js';

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
