/**
 * A pooled model combined with the rest of the library: LAT lengths in the layers after its last
 * pooling (the pooled width bounds them; lengths equal to it give the pooled-only model), and span
 * QA through Drop-and-Restore (k = n is the unpooled model; rows merged away keep the state of
 * the last layer they passed, so the span head still scores every original position).
 */
import { isLatError, type LengthSpec, type StateDict } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { type AnytimeModel, createAnytimeModel } from '../anytime.js';
import { type ModelConfig, parseModelConfig, toHfConfig } from '../architectures/config.js';
import { createRandomWeights } from '../architectures/weights.js';
import { tinyBertConfig } from '../testing/index.js';
import { checkPooledLengths, pooledLatLayers } from './pooling.js';

const runtime = createNodeRuntime({ threads: 1 });
const models: AnytimeModel<LengthSpec | undefined>[] = [];
afterAll(async () => {
  for (const m of models) await m.release();
});

const configOf = (layers: number, schedule?: [number, number][]): ModelConfig =>
  parseModelConfig({
    ...toHfConfig(tinyBertConfig(0)),
    num_hidden_layers: layers,
    ...(schedule ? { lat_pooling: { schedule, input_length: 16 } } : {}),
  });

/** Examples of `real` tokens each, padded to `n`; token ids vary by position and example (from `first`). */
const batch = (n: number, real: number[], first = 0) => ({
  inputIds: BigInt64Array.from({ length: real.length * n }, (_, i) =>
    BigInt(2 + (((i % n) * 7 + (first + Math.floor(i / n)) * 3) % 25)),
  ),
  attentionMask: BigInt64Array.from({ length: real.length * n }, (_, i) =>
    i % n < real[Math.floor(i / n)]! ? 1n : 0n,
  ),
  batch: real.length,
});

async function model(c: ModelConfig, w: StateDict, head: 'classification' | 'span' = 'classification') {
  const m = await createAnytimeModel<LengthSpec | undefined>(runtime, c, w, { head });
  models.push(m);
  return m;
}

const expectClose = (a: Float32Array, b: Float32Array, tol = 1e-5) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(Math.abs(v - b[i]!), `element ${i}`).toBeLessThan(tol));
};

describe('pooling combined with LAT lengths', () => {
  // 3 layers: layer 0 pools 16 → 4 rows, layers 1 and 2 take LAT lengths of at most 4.
  const c = configOf(3, [[0, 4]]);
  const w = createRandomWeights(c, 11, {}, 0.5);
  const x = batch(16, [16, 9, 3]);

  it('lengths equal to the pooled width give the pooled-only logits; shorter ones keep a subset', async () => {
    expect(pooledLatLayers(c)).toEqual({ from: 1, width: 4, fixed: [4] });
    const m = await model(c, w);
    const pooledOnly = await m.run(x);
    const atWidth = await m.run(x, { form: 'absolute', lengths: [4, 4, 4] });
    expectClose(atWidth.logits!, pooledOnly.logits!, 1e-6);
    expect(atWidth.keptPositions).toEqual(pooledOnly.keptPositions);
    // Every row pooled stays: the example of 3 tokens has 3 rows.
    expect(pooledOnly.keepCounts).toEqual([
      [4, 4, 4],
      [4, 4, 4],
      [3, 3, 3],
    ]);

    const reduced = await m.run(x, { form: 'absolute', lengths: [4, 3, 2] });
    expect(reduced.keepCounts).toEqual([
      [4, 3, 2],
      [4, 3, 2],
      [3, 3, 2],
    ]);
    for (let b = 0; b < 3; b++) {
      // LAT keeps [CLS] and a subset of the pooled rows, in document order.
      const [pooled, one, two] = reduced.keptPositions.map((layer) => layer[b]!);
      expect(pooled).toEqual(pooledOnly.keptPositions[0]![b]);
      expect(one![0]).toBe(0);
      for (const p of one!) expect(pooled).toContain(p);
      for (const p of two!) expect(one).toContain(p);
      expect([...one!].sort((a, b) => a - b)).toEqual(one);
    }
    expect(Array.from(reduced.logits!)).not.toEqual(Array.from(pooledOnly.logits!));
  });

  it('an example alone gives what it gives in a padded batch at reduced lengths', async () => {
    const m = await model(c, w);
    const lengths: LengthSpec = { form: 'absolute', lengths: [4, 3, 2] };
    const together = await m.run(x, lengths);
    const alone = await m.run(batch(9, [9], 1), lengths);
    expectClose(alone.logits!, together.logits!.slice(2, 4));
  });

  it('refuses lengths that do not fit the schedule in one line', async () => {
    const m = await model(c, w);
    const bad: [LengthSpec, RegExp][] = [
      [{ form: 'ratio', ratios: [1, 0.5, 0.5] }, /takes keep counts \(--lengths 4,…\), not ratios/],
      [{ form: 'absolute', lengths: [3, 3, 2] }, /layer 0 runs on 4 rows: a pooled model's lengths start/],
      [
        { form: 'absolute', lengths: [4, 5, 2] },
        /layer 0 pools to 4 rows: LAT lengths after a pooling layer are at most its width/,
      ],
      [{ form: 'absolute', lengths: [4, 2, 3] }, /lengths must not increase/],
      [{ form: 'absolute', lengths: [4, 2] }, /expected 3 values/],
    ];
    for (const [spec, message] of bad) {
      const e = await m.run(x, spec).catch((err: unknown) => err);
      expect(isLatError(e), String(e)).toBe(true);
      expect((e as Error).message).toMatch(message);
      expect((e as Error).message).not.toContain('\n');
    }
    // A model whose last layer pools has no layer to take lengths.
    const last = configOf(2, [[1, 4]]);
    expect(pooledLatLayers(last)).toBeUndefined();
    expect(() => checkPooledLengths({ form: 'absolute', lengths: [16, 4] }, last)).toThrow(
      /no layer follows its last pooling/,
    );
  });
});

describe('span QA on a pooled model (Drop-and-Restore)', () => {
  const heads = { qa: true, classifier: false };

  it('at k = n equals the unpooled span model', async () => {
    // Widths ≥ every example's tokens: pooling keeps each row as it is (the identity).
    const c = configOf(2, [[0, 8]]);
    const w = createRandomWeights(c, 5, heads, 0.4);
    const plain = configOf(2);
    const x = batch(8, [8, 6, 2]);
    const pooled = await (await model(c, w, 'span')).run(x);
    const unpooled = await (await model(plain, w, 'span')).run(x);
    // Real positions only: pooling drops padding rows, so their (unused) logits differ.
    const real = (v: Float32Array) => v.filter((_, i) => x.attentionMask[i] === 1n);
    expectClose(real(pooled.startLogits!), real(unpooled.startLogits!));
    expectClose(real(pooled.endLogits!), real(unpooled.endLogits!));
  });

  it('scores every position: rows merged away keep the states of the last layer they passed', async () => {
    // Layer 1 pools 16 → 4: a position kept there gets layer 1's state; any other keeps layer 0's,
    // which is what a 1-layer model with the same weights computes.
    const c = configOf(2, [[1, 4]]);
    const w = createRandomWeights(c, 7, heads, 0.4);
    const x = batch(16, [16, 12]);
    const pooled = await (await model(c, w, 'span')).run(x);
    const oneLayer = await (await model(configOf(1), w, 'span')).run(x);
    expect(pooled.startLogits!.length).toBe(2 * 16);
    let merged = 0;
    for (let b = 0; b < 2; b++) {
      const kept = new Set(pooled.keptPositions[1]![b]);
      expect(kept.size).toBe(4);
      for (let j = 0; j < [16, 12][b]!; j++) {
        const i = b * 16 + j;
        if (kept.has(j)) {
          expect(Math.abs(pooled.startLogits![i]! - oneLayer.startLogits![i]!)).toBeGreaterThan(1e-6);
          continue;
        }
        merged++;
        expect(pooled.startLogits![i]!).toBeCloseTo(oneLayer.startLogits![i]!, 5);
        expect(pooled.endLogits![i]!).toBeCloseTo(oneLayer.endLogits![i]!, 5);
      }
    }
    expect(merged).toBe(12 + 8);
  });
});
