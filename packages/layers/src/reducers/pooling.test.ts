/**
 * Trainable pooling as a token reducer: a config with `lat_pooling` builds pooled graphs (Node and
 * wasm alike), short inputs pass unchanged, the scorers get gradients that match finite
 * differences, and bad schedules are refused in one line.
 */
import type { StateDict } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { createWebRuntime } from '@lat/runtime-web';
import { describe, expect, it } from 'vitest';
import { createAnytimeModel } from '../anytime.js';
import {
  type ModelConfig,
  type PoolingConfig,
  parseModelConfig,
  toHfConfig,
} from '../architectures/config.js';
import { extendPositions } from '../architectures/positions.js';
import { createRandomWeights } from '../architectures/weights.js';
import { dimOf, range } from '../blocks/rows.js';
import { gradientMisses, gradientPairs, tinyBertConfig } from '../testing/index.js';
import { parsePoolingSchedule, poolingReducer, scorerNames, withScorers } from './pooling.js';
import type { TokenReducer } from './reducer.js';

const pooled = (schedule: unknown, extra: Record<string, unknown> = {}) =>
  parseModelConfig({
    ...toHfConfig(tinyBertConfig(0)),
    lat_pooling: { schedule, input_length: 16, ...extra },
  });

const batch = (n: number, real: number[]) => ({
  inputIds: BigInt64Array.from({ length: real.length * n }, (_, i) => BigInt(2 + ((i * 7) % 25))),
  attentionMask: BigInt64Array.from({ length: real.length * n }, (_, i) =>
    i % n < real[Math.floor(i / n)]! ? 1n : 0n,
  ),
  batch: real.length,
});

/**
 * Pooling `p` with full attention whose scores between rows in different blocks of `chunk` are
 * pushed to −10000 in the layers `masks` picks: blockwise attention written another way.
 */
function blockMaskedReducer(
  p: PoolingConfig,
  chunk: number,
  masks: (layer: number) => boolean,
): TokenReducer<unknown> {
  const base = poolingReducer(p);
  return {
    ...base,
    build(ctx) {
      const { g } = ctx;
      return {
        ...base.build(ctx),
        attentionScores(layer, scores) {
          if (!masks(layer)) return scores;
          const i = range(g, dimOf(g, scores, 3));
          const block = g.node('Div', [i, g.int64(chunk)], {}, [{ dtype: 'int64', shape: i.shape }])[0]!;
          const same = g.equal(g.unsqueeze(block, [1]), g.unsqueeze(block, [0]));
          return g.add(scores, g.where(same, g.scalar(0), g.scalar(-10000)));
        },
      };
    },
  };
}

/**
 * `blockwise` gives what `plain` (the same pooling, full attention) gives with the block mask of
 * `blockMaskedReducer`, and not what `plain` gives unmasked; returns `blockwise`'s outputs.
 */
async function expectBlockMasked(
  blockwise: ModelConfig,
  plain: ModelConfig,
  w: StateDict,
  chunk: number,
  masks: (layer: number) => boolean,
) {
  const runtime = createNodeRuntime({ threads: 1 });
  const x = batch(16, [16, 11]);
  const a = await createAnytimeModel(runtime, blockwise, w);
  const b = await createAnytimeModel(runtime, plain, w, {
    reducer: blockMaskedReducer(plain.pooling!, chunk, masks),
  });
  const full = await createAnytimeModel(runtime, plain, w);
  const [ra, rb, rf] = [await a.run(x), await b.run(x), await full.run(x)];
  for (const m of [a, b, full]) await m.release();
  expect(ra.keptPositions).toEqual(rb.keptPositions);
  Array.from(rb.logits!).forEach((v, i) => expect(ra.logits![i]).toBeCloseTo(v, 4));
  expect(Math.max(...Array.from(rf.logits!, (v, i) => Math.abs(v - ra.logits![i]!)))).toBeGreaterThan(1e-4);
  return ra;
}

describe('trainable pooling as a reducer', () => {
  it('pools 16 → 4 → 2 rows, [CLS] first, in document order; wasm gives what Node gives', async () => {
    const c = pooled([
      [0, 4],
      [1, 2],
    ]);
    expect(toHfConfig(c)['lat_pooling']).toEqual({
      schedule: [
        [0, 4],
        [1, 2],
      ],
      input_length: 16,
    });
    const w = createRandomWeights(c, 3, {}, 0.5);
    expect(w.get(scorerNames(1).weight)!.dims).toEqual([1, 16]);
    const x = batch(16, [16, 11]);
    const results = [];
    for (const runtime of [createNodeRuntime({ threads: 1 }), createWebRuntime({ threads: 1 })]) {
      const m = await createAnytimeModel(runtime, c, w);
      results.push(await m.run(x));
      await m.release();
    }
    const [node, wasm] = results as [(typeof results)[0], (typeof results)[0]];
    expect(node.keptPositions.map((l) => l.map((p) => p.length))).toEqual([
      [4, 4],
      [2, 2],
    ]);
    for (const layer of node.keptPositions)
      for (const kept of layer) {
        expect(kept[0]).toBe(0);
        expect([...kept].sort((a, b) => a - b)).toEqual(kept);
      }
    expect(wasm.keptPositions).toEqual(node.keptPositions);
    Array.from(node.logits!).forEach((v, i) => expect(wasm.logits![i]).toBeCloseTo(v, 5));
  });

  it('inputs no longer than the widths pass unchanged: the plain encoder', async () => {
    const c = pooled([[0, 8]]);
    const w = createRandomWeights(c, 4, {}, 0.5);
    const runtime = createNodeRuntime({ threads: 1 });
    const m = await createAnytimeModel(runtime, c, w);
    const { pooling: _, ...plainConfig } = c;
    const plain = await createAnytimeModel(runtime, plainConfig, w, { selection: false });
    const x = batch(8, [8, 5]);
    const a = await m.run(x);
    const b = await plain.run(x);
    Array.from(b.logits!).forEach((v, i) => expect(a.logits![i]).toBeCloseTo(v, 5));
    await m.release();
    await plain.release();
  });

  it('trains: the scorer gradient (through the merge weights) matches finite differences', async () => {
    const c = pooled([[0, 4]]);
    const w = withScorers(c, createRandomWeights(tinyBertConfig(0), 5, {}, 0.5), 9);
    // Spread the scores (away from ties) so a finite-difference step never reorders rows.
    const name = scorerNames(0).weight;
    w.set(name, { dims: [1, 16], data: w.get(name)!.data.map((v) => v * 25) });
    const check = await gradientPairs(c, w, batch(16, [16]), [1], [name], [0, 7, 13]);
    expect(check.pairs[0]!.largest).toBeGreaterThan(1e-4); // the scorer learns
    expect(gradientMisses(check.pairs)).toEqual([]);
  });

  it('blockwise attention before pooling equals full attention with a block-diagonal mask, and trains', async () => {
    const chunked = pooled([[1, 4]], { chunk: 5 }); // 16 rows: blocks of 5, the last padded
    const plainAttention = pooled([[1, 4]]);
    const w = createRandomWeights(chunked, 6, {}, 0.5);
    // The same pooling, with scores of rows in different blocks pushed to −10000 where chunking applies.
    const ra = await expectBlockMasked(chunked, plainAttention, w, 5, (layer) => layer <= 1);
    const x = batch(16, [16, 11]);

    // Gradients flow through the blocks: a query weight of layer 0 against finite differences.
    const name = 'encoder.layer.0.attention.self.query.weight';
    const check = await gradientPairs(chunked, w, x, [1, 0], [name], [3, 40]);
    expect(check.logits).toEqual(Array.from(ra.logits!).map((v) => expect.closeTo(v, 4)));
    expect(gradientMisses(check.pairs)).toEqual([]);
  });

  it('blocks after pooling (pooled_chunk) equal full attention with a block-diagonal mask over the kept rows', async () => {
    const blocks = pooled([[0, 8]], { pooled_chunk: 3 }); // 16 → 8 rows, then blocks of 3 (the last padded)
    const w = createRandomWeights(blocks, 8, {}, 0.5);
    await expectBlockMasked(blocks, pooled([[0, 8]]), w, 3, (layer) => layer >= 1);
  });

  it('extends positions by copying the learned ones; inputs within the old length are unchanged', async () => {
    const c = tinyBertConfig(0); // 16 positions
    const w = createRandomWeights(c, 7, {}, 0.5);
    const long = extendPositions(c, w, 40);
    expect(long.config.maxPositions).toBe(40);
    const table = (m: typeof w) => m.get('embeddings.position_embeddings.weight')!;
    const row = (m: typeof w, p: number) => Array.from(table(m).data.subarray(p * 16, (p + 1) * 16));
    for (const p of [0, 15, 16, 33, 39]) expect(row(long.weights, p)).toEqual(row(w, p % 16));
    expect(extendPositions(c, w, 16).weights).toBe(w);
    const runtime = createNodeRuntime({ threads: 1 });
    const x = batch(12, [12]);
    const a = await createAnytimeModel(runtime, c, w, { selection: false });
    const b = await createAnytimeModel(runtime, long.config, long.weights, { selection: false });
    expect(Array.from((await b.run(x)).logits!)).toEqual(Array.from((await a.run(x)).logits!));
    const longer = await b.run(batch(40, [40]));
    expect(longer.logits!.every(Number.isFinite)).toBe(true);
    await a.release();
    await b.release();
  });

  it('refuses bad schedules in one line: unreachable width, growing, layer out of range', () => {
    expect(() => pooled([[0, 5]])).toThrow(/width 5 is not reachable by halving 16 rows/);
    expect(() =>
      pooled([
        [0, 4],
        [1, 8],
      ]),
    ).toThrow(/the schedule must shrink: layer 1 pools to 8 rows from 4/);
    expect(() => pooled([[2, 4]])).toThrow(/layer 2 is out of range: the model has layers 0\.\.1/);
    expect(() => pooled([[0, 4]], { input_length: 64 })).toThrow(/input length 64 must lie in 1\.\.16/);
    expect(parsePoolingSchedule('0:1024, 1:256')).toEqual([
      [0, 1024],
      [1, 256],
    ]);
    expect(() => parsePoolingSchedule('0=1024')).toThrow(/'0=1024' is not layer:width/);
    for (const bad of [() => pooled([[0, 5]]), () => parsePoolingSchedule('x')]) {
      try {
        bad();
      } catch (e) {
        expect(String((e as Error).message)).not.toContain('\n');
      }
    }
  });
});
