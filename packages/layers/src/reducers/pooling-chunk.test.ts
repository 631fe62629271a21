/**
 * Blockwise attention after pooling (config `lat_pooling.pooled_chunk`): the layers after the
 * first pooling attend within blocks of c kept rows in document order. A block as wide as the
 * pooled rows is plain attention, and wasm gives what Node gives. Blocks of c match a float64
 * reference with that key mask on arrays; the training graph's gradients match finite
 * differences; the dropout table counts c·r instead of r²; bad values are refused in one line.
 */
import { isLatError } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { createWebRuntime } from '@lat/runtime-web';
import { describe, expect, it } from 'vitest';
import { createAnytimeModel, type EncodedBatch } from '../anytime.js';
import { type ModelConfig, parseModelConfig, toHfConfig } from '../architectures/config.js';
import { createRandomWeights } from '../architectures/weights.js';
import { gradientMisses, gradientPairs, referenceForward, tinyBertConfig } from '../testing/index.js';
import { largestDropoutTensor } from '../training.js';
import { attentionChunk, checkPooledLengths, pooledLatLayers, scorerNames } from './pooling.js';

/** 3 layers: layer 0 pools 16 → 8 rows, layers 1 and 2 attend over them. */
const pooled = (extra: Record<string, unknown> = {}) =>
  parseModelConfig({
    ...toHfConfig(tinyBertConfig(0)),
    num_hidden_layers: 3,
    lat_pooling: { schedule: [[0, 8]], input_length: 16, ...extra },
  });

/** Examples of `real` tokens each, padded to `n`. */
const batch = (n: number, real: number[]): EncodedBatch => ({
  inputIds: BigInt64Array.from({ length: real.length * n }, (_, i) =>
    BigInt(2 + (((i % n) * 7 + Math.floor(i / n) * 3) % 25)),
  ),
  attentionMask: BigInt64Array.from({ length: real.length * n }, (_, i) =>
    i % n < real[Math.floor(i / n)]! ? 1n : 0n,
  ),
  batch: real.length,
});

async function run(
  c: ModelConfig,
  w: ReturnType<typeof createRandomWeights>,
  x: EncodedBatch,
  runtime = createNodeRuntime({ threads: 1 }),
) {
  const m = await createAnytimeModel(runtime, c, w, { head: 'span' });
  const out = await m.run(x);
  await m.release();
  return { start: Array.from(out.startLogits!), end: Array.from(out.endLogits!) };
}

const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

describe('blockwise attention after pooling (pooled_chunk)', () => {
  const w = createRandomWeights(pooled(), 5, { qa: true }, 0.5);
  const x = batch(16, [16, 11]); // both pool: 16 → 8 and 11 → 8 rows (one padded)

  it('applies to the layers after the first pooling; blocks as wide as the pooled rows are plain attention', async () => {
    const c = pooled({ pooled_chunk: 3 });
    expect(toHfConfig(c)['lat_pooling']).toEqual({ schedule: [[0, 8]], input_length: 16, pooled_chunk: 3 });
    expect([0, 1, 2].map((i) => attentionChunk(c, i))).toEqual([undefined, 3, 3]);
    const withChunk = pooled({ schedule: [[1, 8]], chunk: 4, pooled_chunk: 2 });
    expect([0, 1, 2].map((i) => attentionChunk(withChunk, i))).toEqual([4, 4, 2]);

    const plain = await run(pooled(), w, x);
    const wide = await run(pooled({ pooled_chunk: 8 }), w, x);
    expect(maxDiff(wide.start, plain.start)).toBeLessThan(1e-5);
    expect(maxDiff(wide.end, plain.end)).toBeLessThan(1e-5);
    // Blocks of 3 change what the pooled rows see; wasm gives what Node gives.
    const blocks = await run(c, w, x);
    expect(maxDiff(blocks.start, plain.start)).toBeGreaterThan(1e-3);
    const wasm = await run(c, w, x, createWebRuntime({ threads: 1 }));
    expect(maxDiff(wasm.start, blocks.start)).toBeLessThan(1e-5);
    expect(maxDiff(wasm.end, blocks.end)).toBeLessThan(1e-5);
  });

  it('attends within blocks of c kept rows in document order (masked reference on arrays)', async () => {
    // Inputs no longer than the width pass the pooling unchanged, so the pooled rows are the
    // tokens themselves: layer 0 attends to every key, layers 1 and 2 within blocks of 3 rows
    // (the padded example's last block holds 2 real rows).
    const short = [8, 5];
    const reference = short.map((real, e) => {
      const ids = Array.from({ length: real }, (_, i) => 2 + ((i * 7 + e * 3) % 25));
      const attends = (l: number, i: number, j: number) => l === 0 || Math.floor(i / 3) === Math.floor(j / 3);
      return referenceForward(pooled(), w, ids, undefined, undefined, 'span', attends);
    });
    const out = await run(pooled({ pooled_chunk: 3 }), w, batch(8, short));
    reference.forEach((r, e) =>
      r.start!.forEach((v, i) => {
        expect(out.start[e * 8 + i]).toBeCloseTo(v, 4);
        expect(out.end[e * 8 + i]).toBeCloseTo(r.end![i]!, 4);
      }),
    );
  });

  it('trains: gradients through the pooled blocks match finite differences', async () => {
    const c = pooled({ pooled_chunk: 3 });
    const m = await createAnytimeModel(createNodeRuntime({ threads: 1 }), c, w);
    const logits = (await m.run(x)).logits!;
    await m.release();
    const names = [
      'encoder.layer.1.attention.self.key.weight',
      'encoder.layer.2.attention.self.query.weight',
      scorerNames(0).weight,
    ];
    const check = await gradientPairs(c, w, x, [1, 0], names, [3, 9]);
    expect(check.logits).toEqual(Array.from(logits).map((v) => expect.closeTo(v, 4)));
    for (const p of check.pairs) expect(p.largest).toBeGreaterThan(1e-5);
    expect(gradientMisses(check.pairs)).toEqual([]);
  });

  it("sizes the dropout table by the pooled layers' blocks, c·r instead of r²", () => {
    // tiny4's shape at 4096 tokens: layer 0 in blocks of 64 pools to 2048 rows.
    const long = (extra: Record<string, unknown> = {}) =>
      parseModelConfig({
        model_type: 'bert',
        vocab_size: 30,
        hidden_size: 128,
        num_hidden_layers: 4,
        num_attention_heads: 2,
        intermediate_size: 512,
        max_position_embeddings: 4096,
        lat_pooling: { schedule: [[0, 2048]], input_length: 4096, chunk: 64, ...extra },
      });
    expect(largestDropoutTensor(long(), 2, 4096)).toBe(2 * 2 * 2048 ** 2);
    const blocks = 2 * 2 * Math.ceil(2048 / 384) * 384 * 384; // [B, nb, H, c, c], the last block padded
    expect(largestDropoutTensor(long({ pooled_chunk: 384 }), 2, 4096)).toBe(blocks);
    // Blocks of 32 are smaller than the hidden states, which size it then.
    expect(largestDropoutTensor(long({ pooled_chunk: 32 }), 2, 4096)).toBe(2 * 4096 * 128);
  });

  it('takes no LAT lengths after pooling (no full attention map to rank rows by)', () => {
    expect(pooledLatLayers(pooled())).toEqual({ from: 1, width: 8, fixed: [8] });
    const c = pooled({ pooled_chunk: 3 });
    expect(pooledLatLayers(c)).toBeUndefined();
    expect(() => checkPooledLengths({ form: 'absolute', lengths: [8, 4, 4] }, c)).toThrow(
      /its layers after pooling attend blockwise \(pooled_chunk\)/,
    );
  });

  it('refuses bad values in one line', () => {
    for (const [extra, message] of [
      [
        { pooled_chunk: 0 },
        /pooled_chunk must be a whole number in 1\.\.8 \(the rows after layer 0's pooling\), got 0/,
      ],
      [{ pooled_chunk: 2.5 }, /got 2\.5/],
      [{ pooled_chunk: 9 }, /got 9/],
      [{ schedule: [], chunk: 4, pooled_chunk: 2 }, /pooled_chunk needs a pooling schedule/],
    ] as [Record<string, unknown>, RegExp][]) {
      let error: unknown;
      try {
        pooled(extra);
      } catch (e) {
        error = e;
      }
      expect(isLatError(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
      expect((error as Error).message).toContain('lat_pooling');
    }
  });
});
