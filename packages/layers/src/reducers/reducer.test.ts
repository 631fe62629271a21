/**
 * Reducers the interface must admit besides LAT's top-k. The attention hook (AxFormer-style masks): a reducer that hides the last
 * token from every query, and keeps all rows, must give what the plain encoder gives when that
 * token is masked out through attention_mask — the same −10000 key bias, added by the hook.
 */

import { toModelProto } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { createAnytimeModel } from '../anytime.js';
import { createRandomWeights } from '../architectures/weights.js';
import { dimOf, range } from '../blocks/rows.js';
import { tinyBertConfig } from '../testing/index.js';
import { buildTrainingGraph, taskLoss } from '../training.js';
import type { TokenReducer } from './reducer.js';

const hideLast: TokenReducer<undefined> = {
  name: 'hide-last',
  build({ g }) {
    return {
      attentionScores(_layer, scores) {
        const n = dimOf(g, scores, 3);
        const last = g.equal(range(g, n), g.sub(n, g.int64(1))); // [n]
        return g.add(scores, g.where(last, g.scalar(-10000), g.scalar(0)));
      },
      reduce: () => undefined,
    };
  },
  feeds: () => ({}),
};

/**
 * Pooling-style merges: after layer 0, [CLS] stays and every following pair of tokens becomes
 * their mean — rows that are weighted merges (a [k, n] matrix times the states), not a subset.
 */
const mergePairs: TokenReducer<undefined> = {
  name: 'merge-pairs',
  build({ g }) {
    return {
      reduce: ({ layer, attended, mask }) =>
        layer !== 0
          ? undefined
          : {
              reduce() {
                const n = dimOf(g, attended, 1);
                const i = range(g, n); // token i joins group ceil(i / 2)
                const group = g.node('Div', [g.add(i, g.int64(1)), g.int64(2)], {}, [
                  { dtype: 'int64', shape: i.shape },
                ])[0]!;
                const k = g.add(
                  g.node('Div', [n, g.int64(2)], {}, [{ dtype: 'int64', shape: [] }])[0]!,
                  g.int64(1),
                );
                const j = range(g, k, 'groups');
                const member = g.cast(g.equal(g.unsqueeze(j, [1]), g.unsqueeze(group, [0])), g.float); // [k, n]
                const merge = g.div(member, g.reduceSum(member, [1], true)); // rows sum to 1
                const first = g.max(g.sub(g.mul(j, g.int64(2)), g.int64(1)), g.int64(0)); // first member
                const keptMask = g.gather(mask, first, 1);
                return {
                  rows: (x) => g.matmul(merge, x),
                  mask: keptMask,
                  positions: g.expand(g.unsqueeze(first, [0]), g.shapeOf(keptMask), keptMask.shape),
                  valid: keptMask,
                };
              },
            },
    };
  },
  feeds: () => ({}),
};

describe('a reducer that edits attention scores', () => {
  it('equals masking the token out through attention_mask', async () => {
    const c = tinyBertConfig();
    const w = createRandomWeights(c, 5, {}, 0.3);
    const runtime = createNodeRuntime({ threads: 1 });
    const masked = await createAnytimeModel(runtime, c, w, { reducer: hideLast });
    const plain = await createAnytimeModel(runtime, c, w, { selection: false });
    const ids = BigInt64Array.from([2, 7, 9, 4, 3].map(BigInt));
    const all = new BigInt64Array(5).fill(1n);
    const a = await masked.run({ inputIds: ids, attentionMask: all, batch: 1 });
    const b = await plain.run({
      inputIds: ids,
      attentionMask: BigInt64Array.from([1n, 1n, 1n, 1n, 0n]),
      batch: 1,
    });
    const c0 = await plain.run({ inputIds: ids, attentionMask: all, batch: 1 });
    Array.from(b.logits!).forEach((v, i) => expect(a.logits![i]).toBeCloseTo(v, 5));
    expect(Math.abs(a.logits![0]! - c0.logits![0]!)).toBeGreaterThan(1e-4); // the hook did something
    await masked.release();
    await plain.release();
  });
});

describe('a reducer whose rows are weighted merges', () => {
  it('runs, reports representatives as kept positions, and trains (gradients match finite differences)', async () => {
    const c = tinyBertConfig(0);
    const w = createRandomWeights(c, 6, {}, 0.3);
    const runtime = createNodeRuntime({ threads: 1 });
    const x = {
      inputIds: BigInt64Array.from([2, 7, 9, 4, 8, 3].map(BigInt)),
      attentionMask: new BigInt64Array(6).fill(1n),
      batch: 1,
    };
    const m = await createAnytimeModel(runtime, c, w, { reducer: mergePairs });
    const out = await m.run(x);
    expect(out.keptPositions[0]).toEqual([[0, 1, 3, 5]]);
    await m.release();

    const t = buildTrainingGraph(c, w, {
      task: 'classification',
      maxBatch: 1,
      maxSeq: 6,
      reducer: mergePairs,
    });
    const s = await runtime.createSession(toModelProto(t.graph));
    const run = (weights: typeof w) =>
      s.run({
        ...t.feeds.batch(x, [1], weights),
        ...t.feeds.teacher(x),
        ...t.feeds.pass(x, {
          setting: undefined,
          dropoutOffsets: new BigInt64Array(t.dropoutSites),
          lossWeights: { [taskLoss]: 1 },
        }),
      });
    const base = await run(w);
    expect(Array.from(base['logits']!.data as Float32Array)).toEqual(
      Array.from(out.logits!).map((v) => expect.closeTo(v, 5)),
    );
    const name = 'encoder.layer.0.intermediate.dense.weight';
    const g0 = t.feeds.grads(base)[name]![5]!;
    const bumped = async (delta: number) => {
      const data = Float32Array.from(w.get(name)!.data);
      data[5]! += delta;
      return t.feeds.loss(await run(new Map(w).set(name, { dims: w.get(name)!.dims, data })));
    };
    expect(Math.abs(((await bumped(1e-2)) - (await bumped(-1e-2))) / 2e-2 - g0)).toBeLessThan(
      2e-3 + 0.02 * Math.abs(g0),
    );
    await s.release();
  });
});
