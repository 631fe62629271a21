/**
 * AdapLeR's hard removal at inference: per-input keep counts from the Contribution Predictors,
 * [CLS] always kept, a padded batch equal to each input alone, and thresholds that keep every
 * token equal to the plain encoder.
 */
import { encoderMacs } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { createAnytimeModel } from '../anytime.js';
import { padBatch } from '../batches.js';
import { adaplerTestWeights as testWeights, tinyBertConfig } from '../testing/index.js';
import {
  type AdaplerSetting,
  adapler,
  adaplerMacs,
  adaplerReducer,
  checkAdaplerWeights,
  predictorWidth,
} from './adapler.js';

const runtime = createNodeRuntime({ threads: 1 });
const c = tinyBertConfig(0);

const adaplerTestWeights = (eta: number, scale?: number) => testWeights(c, eta, scale);

const sentences = [
  [2, 7, 9, 4, 8, 11, 5, 3],
  [2, 6, 3],
  [2, 13, 9, 14, 15, 4, 3],
  [2, 10, 12, 3, 16, 17, 3],
  [2, 18, 19, 20, 21, 22, 23, 24, 25, 3],
];
const item = (ids: number[]) => ({ ids, typeIds: ids.map(() => 0), label: 0 });

describe('AdapLeR hard removal', () => {
  it('keeps per-input counts, always [CLS], and a padded batch equals each input alone', async () => {
    const w = adaplerTestWeights(0.9);
    const m = await createAnytimeModel<AdaplerSetting>(runtime, c, w, { reducer: adaplerReducer });
    const batched = await m.run(padBatch(sentences.map(item)));
    const counts: number[][] = [];
    for (const [b, ids] of sentences.entries()) {
      const alone = await m.run(padBatch([item(ids)]));
      for (let k = 0; k < c.numLabels; k++)
        expect(batched.logits![b * c.numLabels + k]).toBeCloseTo(alone.logits![k]!, 5);
      const kept = alone.keptPositions.map((layer) => layer[0]!);
      expect(batched.keptPositions.map((layer) => layer[b])).toEqual(kept);
      let previous = ids.map((_, j) => j);
      for (const positions of kept) {
        expect(positions[0]).toBe(0); // [CLS]
        expect(positions.every((p) => previous.includes(p))).toBe(true); // removal is permanent
        previous = positions;
      }
      counts.push(kept.map((p) => p.length));
    }
    // The predictors remove tokens, and not the same number everywhere.
    expect(counts.some((k, b) => k[0]! < sentences[b]!.length)).toBe(true);
    expect(new Set(counts.map((k) => k.join(','))).size).toBeGreaterThan(1);
    await m.release();
  });

  it('keeps every token when every contribution is over the threshold: the plain encoder', async () => {
    // Zero output kernels: every CP predicts the uniform distribution, p = 1/n ≥ η/n for η < 1.
    const w = adaplerTestWeights(0.5, 0);
    const m = await createAnytimeModel<AdaplerSetting>(runtime, c, w, { reducer: adaplerReducer });
    const plain = await createAnytimeModel(runtime, c, w, { selection: false });
    const x = padBatch(sentences.map(item));
    const a = await m.run(x);
    const b = await plain.run(x);
    Array.from(b.logits!).forEach((v, i) => expect(a.logits![i]).toBeCloseTo(v, 5));
    a.keptPositions.forEach((layer) =>
      layer.forEach((kept, j) => expect(kept).toHaveLength(sentences[j]!.length)),
    );
    await m.release();
    await plain.release();
  });

  it('counts realised MACs with the predictors and reports bad AdapLeR weights', () => {
    const d = c.hiddenSize;
    const cp = (n: number) => n * (d * predictorWidth + 2 * predictorWidth + 1);
    expect(adaplerMacs(c, 8, [5, 3])).toBe(encoderMacs(c, 8, [5, 3]) + cp(8) + cp(5));
    const w = adaplerTestWeights(0.5);
    expect(() => checkAdaplerWeights(w, c, 'model.safetensors')).not.toThrow();
    const missing = new Map(w);
    missing.delete(`${adapler.predictor(1, 'out')}.bias`);
    expect(() => checkAdaplerWeights(missing, c, 'model.safetensors')).toThrow(
      /model\.safetensors: the AdapLeR weight adapler\.cp\.1\.out\.bias is missing/,
    );
    const eta = new Map(w).set(adapler.eta, { dims: [2], data: Float32Array.of(0.5, 1.5) });
    expect(() => checkAdaplerWeights(eta, c, 'model.safetensors')).toThrow(
      /adapler\.eta\[1\] = 1\.5 lies outside \[0\.01, 1\]/,
    );
    // η clipped to its bounds by training and stored as float32 (0.01 reads back as 0.00999999977).
    const clipped = new Map(w).set(adapler.eta, { dims: [2], data: Float32Array.of(0.01, 1) });
    expect(() => checkAdaplerWeights(clipped, c, 'model.safetensors')).not.toThrow();
    const below = new Map(w).set(adapler.eta, { dims: [2], data: Float32Array.of(0.0099, 1) });
    expect(() => checkAdaplerWeights(below, c, 'model.safetensors')).toThrow(
      /adapler\.eta\[0\] = 0\.00989\d* lies outside/,
    );
  });
});
