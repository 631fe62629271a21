/**
 * A token reducer and its objective written here only — no edit to the encoder, the trainer or
 * the CLI: "keep the first k tokens" of every layer. It trains through the Trainer and runs
 * through the same inference model as LAT.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WordPieceTokenizer } from '@lat/core';
import {
  createAnytimeModel,
  createRandomWeights,
  dimOf,
  distillationLoss,
  gatherRows,
  range,
  type TokenReducer,
  taskLoss,
} from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { encodeExamples, padBatch } from '../batches.js';
import { evaluate } from '../evaluate.js';
import { generateSentimentTask, syntheticModelConfig } from '../synthetic.js';
import { Trainer } from '../trainer.js';
import type { Objective, ObjectivePass } from './objective.js';

/** Per-layer k; undefined keeps everything. */
type FirstK = readonly number[] | undefined;

const firstK: TokenReducer<FirstK> = {
  name: 'first-k',
  build({ g, config }) {
    const ks = g.input('first_k', 'int64', [config.numLayers]);
    return {
      reduce: ({ layer, attended, mask, positions }) => ({
        reduce() {
          const k = g.min(g.gather(ks, g.int64(layer), 0), dimOf(g, attended, 1));
          const idx = range(g, k, `first${layer}`); // [k]
          const keptMask = g.gather(mask, idx, 1); // [B, k]
          return {
            rows: (x) => gatherRows(g, x, g.unsqueeze(idx, [0]), config.hiddenSize),
            mask: keptMask,
            positions: g.gather(positions, idx, 1),
            valid: g.expand(g.scalar(1), g.shapeOf(keptMask), keptMask.shape),
          };
        },
      }),
    };
  },
  feeds: (ks, x, config) => ({
    first_k: {
      type: 'int64',
      dims: [config.numLayers],
      data: BigInt64Array.from(
        ks ?? new Array(config.numLayers).fill(x.attentionMask.length / x.batch),
        BigInt,
      ),
    },
  }),
};

const small = [6, 4, 3];

/** The full model learns the task; a first-k model distils from it in the same step. */
const firstKObjective: Objective<FirstK> = {
  name: 'first-k',
  reducer: firstK,
  passes: 2,
  teacherPass: 0,
  pass: ({ index }): ObjectivePass<FirstK> =>
    index === 0
      ? { setting: undefined, lossWeights: { [taskLoss]: 0.5 } }
      : { setting: small, lossWeights: { [distillationLoss]: 0.5 } },
};

const runtime = createNodeRuntime({ threads: 1 });
// Sentiment words sit anywhere in a review; with k tokens left only the first ones can decide.
const task = generateSentimentTask({ train: 600, dev: 200, seed: 11 });
const tok = new WordPieceTokenizer(task.vocab);
const train = encodeExamples(task.train, tok, 32);
const dev = encodeExamples(task.dev, tok, 32);
const config = syntheticModelConfig({ layers: 3, hidden: 32, heads: 2 });

describe('a reducer added in a test file', () => {
  it('keeps the first k tokens, trains with its own objective and runs at any k', async () => {
    const r = await new Trainer({
      runtime,
      config,
      weights: createRandomWeights(config, 1),
      train,
      dev,
      metrics: ['accuracy'],
      outDir: mkdtempSync(join(tmpdir(), 'lat-first-k-')),
      objective: firstKObjective,
      options: { epochs: 4, batchSize: 32, learningRate: 2e-3, seed: 1, layerDrop: 0 },
    }).train();
    expect(r.losses.every(Number.isFinite)).toBe(true);
    expect(r.losses.at(-1)!).toBeLessThan(r.losses[0]!);
    const model = await createAnytimeModel(runtime, config, r.weights, { reducer: firstK });
    const x = padBatch(dev.slice(0, 4));
    const out = await model.run(x, small);
    // Each layer keeps exactly positions 0..k−1 (padding excluded).
    small.forEach((k, i) =>
      out.keptPositions[i]!.forEach((kept, b) =>
        expect(kept).toEqual(Array.from({ length: Math.min(k, dev[b]!.ids.length) }, (_, j) => j)),
      ),
    );
    // Full length equals the plain encoder; k tokens is a different, still trained, model.
    const plain = await createAnytimeModel(runtime, config, r.weights, { selection: false });
    const full = await model.run(x, undefined);
    const ref = await plain.run(x);
    Array.from(ref.logits!).forEach((v, i) => expect(full.logits![i]).toBeCloseTo(v, 4));
    const accFull = (await evaluate(plain, dev, ['accuracy'])).metrics['accuracy']!;
    const accSmall = (await evaluate(model, dev, ['accuracy'], small)).metrics['accuracy']!;
    expect(accFull).toBeGreaterThan(0.8);
    expect(accSmall).toBeGreaterThan(0.6);
    await model.release();
    await plain.release();
  }, 120_000);
});
