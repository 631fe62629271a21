/**
 * The auxiliary scorer loss of span QA pooling (`keepSpanLoss`): its value against the formula
 * written out on plain arrays, its gradient against finite differences (alone, and as the
 * `scorer` term of a pooled span training graph, down into layer 0), and what it is at the edges
 * (all scores equal: ln 2 per gold row; no gold row: 0; a classification graph: refused); with
 * kept rows (keep_first_segment) they rank first and are never gold.
 */
import { Graph, grad, type HostTensor, type StateDict, toModelProto } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { type ModelConfig, parseModelConfig, toHfConfig } from '../architectures/config.js';
import { createRandomWeights } from '../architectures/weights.js';
import { tinyBertConfig } from '../testing/index.js';
import { buildTrainingGraph, taskLoss } from '../training.js';
import { keepSpanLoss, poolingReducer, scorerLoss, scorerNames, withScorers } from './pooling.js';
import type { ReducerBatch } from './reducer.js';

const runtime = createNodeRuntime({ threads: 1 });

/**
 * The loss on plain arrays: per gold row −log σ(z − t), t the (k+1)-th largest with the kept rows
 * (the first `kept[b]`: [CLS], or the whole first segment) ranked first and never gold.
 */
function reference(
  z: number[][],
  real: number[],
  k: number,
  spans: [number, number][],
  kept = [1, 1],
): number {
  let sum = 0;
  let count = 0;
  z.forEach((row, b) => {
    const rows = row.slice(0, real[b]);
    const ranked = rows.map((v, i) => (i < kept[b]! ? 1e4 : v)).sort((x, y) => y - x);
    const t = rows.length > k ? ranked[k]! : -1e4;
    for (let i = kept[b]!; i < rows.length; i++)
      if (i >= spans[b]![0] && i <= spans[b]![1]) {
        sum += Math.log1p(Math.exp(-(rows[i]! - t)));
        count++;
      }
  });
  return sum / Math.max(count, 1);
}

/**
 * `keepSpanLoss` on float64 inputs [2, n] (padding after `real[b]` rows; with `kept`, the first
 * kept[b] rows of each example marked kept): its value and its autodiff gradient at any logits.
 */
async function lossSessions(
  n: number,
  k: number,
  real: number[],
  spans: [number, number][],
  kept?: number[],
) {
  const g = new Graph('scorer-loss', 'float64');
  const logitsIn = g.input('logits', 'float64', [2, n]);
  const mask = g.input('mask', 'float64', [2, n]);
  const positions = g.input('positions', 'int64', [2, n]);
  const start = g.input('start', 'int64', [2]);
  const end = g.input('end', 'int64', [2]);
  const keptIn = kept && g.input('kept', 'float64', [2, n]);
  const logits = g.where(g.greater(mask, g.scalar(0)), logitsIn, g.scalar(-1e4)); // as the scorer masks
  const loss = keepSpanLoss(
    g,
    { logits, mask, positions, k, ...(keptIn ? { kept: keptIn } : {}) },
    start,
    end,
  );
  const forward = g.clone();
  forward.output(loss, 'loss');
  const f = await runtime.createSession(toModelProto(forward));
  const b = await runtime.createSession(toModelProto(grad(g, loss, [logitsIn]).graph));
  const rows = (per: number[]) =>
    Float64Array.from(per.flatMap((r) => Array.from({ length: n }, (_, i) => (i < r ? 1 : 0))));
  const feeds = (values: number[][], at = spans): Record<string, HostTensor> => ({
    logits: { type: 'float64', dims: [2, n], data: Float64Array.from(values.flat()) },
    mask: { type: 'float64', dims: [2, n], data: rows(real) },
    positions: {
      type: 'int64',
      dims: [2, n],
      data: BigInt64Array.from({ length: 2 * n }, (_, i) => BigInt(i % n)),
    },
    start: { type: 'int64', dims: [2], data: BigInt64Array.from(at, (s) => BigInt(s[0])) },
    end: { type: 'int64', dims: [2], data: BigInt64Array.from(at, (s) => BigInt(s[1])) },
    ...(kept ? { kept: { type: 'float64', dims: [2, n], data: rows(kept) } } : {}),
  });
  const value = async (z: number[][], at = spans) => Number((await f.run(feeds(z, at)))['loss']!.data[0]);
  return {
    value,
    /** The autodiff gradient at z, checked element by element against central differences. */
    async gradient(z: number[][]) {
      const analytic = (await b.run(feeds(z)))['grad.logits']!.data as Float64Array;
      const eps = 1e-6;
      for (let i = 0; i < 2 * n; i++) {
        const moved = (d: number) => z.map((row, r) => row.map((v, j) => (r * n + j === i ? v + d : v)));
        const numeric = ((await value(moved(eps))) - (await value(moved(-eps)))) / (2 * eps);
        expect(Math.abs(numeric - analytic[i]!)).toBeLessThan(1e-7);
      }
      return analytic;
    },
    release: async () => {
      await f.release();
      await b.release();
    },
  };
}

/** A pooled span training graph on one batch: its loss and gradients at any weights, and finite differences. */
async function spanTraining(
  c: ModelConfig,
  w: StateDict,
  x: ReducerBatch & { inputIds: BigInt64Array },
  spans: [number, number][],
) {
  const t = buildTrainingGraph(c, w, {
    task: 'span',
    maxBatch: x.batch,
    maxSeq: x.inputIds.length / x.batch,
    reducer: poolingReducer(c.pooling!, { scorerLoss: true }),
  });
  const s = await runtime.createSession(toModelProto(t.graph));
  const run = (weights: StateDict, lossWeights: Record<string, number>) =>
    s.run({
      ...t.feeds.batch(x, spans, weights),
      ...t.feeds.teacher(x),
      ...t.feeds.pass(x, {
        setting: undefined,
        dropoutOffsets: new BigInt64Array(t.dropoutSites),
        lossWeights,
      }),
    });
  return {
    lossTerms: t.lossTerms,
    loss: async (weights: StateDict, lossWeights: Record<string, number>) =>
      t.feeds.loss(await run(weights, lossWeights)),
    grads: async (lossWeights: Record<string, number>) => t.feeds.grads(await run(w, lossWeights)),
    /** Each (weight, index)'s gradient against (L(w + δ) − L(w − δ)) / 2δ. */
    async checkGradients(lossWeights: Record<string, number>, at: readonly (readonly [string, number])[]) {
      const grads = t.feeds.grads(await run(w, lossWeights));
      for (const [name, i] of at) {
        const lossAt = async (d: number) => {
          const data = Float32Array.from(w.get(name)!.data);
          data[i]! += d;
          return t.feeds.loss(
            await run(new Map(w).set(name, { dims: w.get(name)!.dims, data }), lossWeights),
          );
        };
        const numeric = ((await lossAt(1e-3)) - (await lossAt(-1e-3))) / 2e-3;
        expect(Math.abs(numeric - grads[name]![i]!)).toBeLessThan(1e-3 + 0.05 * Math.abs(grads[name]![i]!));
      }
      return grads;
    },
    release: () => s.release(),
  };
}

const pooledConfig = (extra: Record<string, unknown> = {}) =>
  parseModelConfig({
    ...toHfConfig(tinyBertConfig(0)),
    lat_pooling: { schedule: [[0, 4]], input_length: 16, ...extra },
  });
const scorer = scorerNames(0).weight;
const query = 'encoder.layer.0.attention.self.query.weight';

/** Random span-model weights whose scorer is spread out (away from ties). */
function spreadScorers(c: ModelConfig): StateDict {
  const w = withScorers(c, createRandomWeights(tinyBertConfig(0), 5, { qa: true }, 0.5), 9);
  return w.set(scorer, { dims: [1, 16], data: w.get(scorer)!.data.map((v) => v * 25) });
}

/** Two 16-token examples of `real` tokens; the first `question[b]` are segment 0, the rest segment 1. */
const batchOf = (real: number[], question?: number[]) => ({
  inputIds: BigInt64Array.from({ length: 32 }, (_, i) => BigInt(2 + ((i * 7) % 25))),
  attentionMask: BigInt64Array.from({ length: 32 }, (_, i) => (i % 16 < real[Math.floor(i / 16)]! ? 1n : 0n)),
  ...(question
    ? {
        tokenTypeIds: BigInt64Array.from({ length: 32 }, (_, i) =>
          i % 16 < question[Math.floor(i / 16)]! ? 0n : 1n,
        ),
      }
    : {}),
  batch: 2,
});

describe('auxiliary scorer loss (span QA pooling)', () => {
  it('equals −log σ(z − t) over the gold rows, and its gradient matches finite differences', async () => {
    const n = 8;
    const k = 2;
    const real = [8, 6]; // example 1 has two padding rows
    const spans: [number, number][] = [
      [3, 4], // ranks below the boundary: a large loss
      [1, 1],
    ];
    const z = [
      [0.3, -1.2, 0.9, -0.4, 0.1, 1.7, -2.0, 0.6],
      [-0.2, 2.1, 0.5, 1.1, -0.8, -1.5, 0, 0],
    ];
    const loss = await lossSessions(n, k, real, spans);
    const value = await loss.value(z);
    expect(value).toBeCloseTo(reference(z, real, k, spans), 10);
    expect(value).toBeGreaterThan(1); // the gold rows of example 0 are not kept
    const analytic = await loss.gradient(z);
    // Only the gold rows and each example's boundary row learn: [CLS] ranks first, so k = 2 keeps
    // one more row (5 and 1); the boundaries are the next ones, rows 2 and 3.
    const touched = Array.from(analytic, (v, i) => (v !== 0 ? i : -1)).filter((i) => i >= 0);
    expect(touched).toEqual([2, 3, 4, 8 + 1, 8 + 3]);

    // No gold row (a no-answer window: start = end = [CLS]): 0.
    expect(
      await loss.value(z, [
        [0, 0],
        [0, 0],
      ]),
    ).toBe(0);
    await loss.release();
  });

  it('with kept rows (the first segment): they rank first and are never gold; gradient matches finite differences', async () => {
    const n = 8;
    const kept = [3, 2]; // [CLS] and the question's rows
    const spans: [number, number][] = [
      [2, 4], // row 2 is kept: only rows 3 and 4 are gold
      [5, 5],
    ];
    const z = [
      [0.3, -1.2, 0.9, -0.4, 0.1, 1.7, -2.0, 0.6],
      [-0.2, 2.1, 0.5, 1.1, -0.8, -1.5, 0.2, 0.4],
    ];
    const loss = await lossSessions(n, 4, [8, 8], spans, kept);
    expect(await loss.value(z)).toBeCloseTo(reference(z, [8, 8], 4, spans, kept), 10);
    const analytic = await loss.gradient(z);
    // Kept rows get no gradient: they are neither gold nor the boundary.
    for (const i of [0, 1, 2, n, n + 1]) expect(analytic[i]).toBe(0);
    await loss.release();
  });

  it('as the scorer term of a pooled span training graph: ln 2 at equal scores, gradients into layer 0 match finite differences', async () => {
    const c = pooledConfig();
    const w = spreadScorers(c);
    const t = await spanTraining(c, w, batchOf([16, 12]), [
      [5, 6],
      [9, 9],
    ]);
    expect(t.lossTerms).toEqual([taskLoss, 'distillation', scorerLoss]);
    const only = { [taskLoss]: 0, [scorerLoss]: 1 };
    // A zero scorer weight scores every row alike: each gold row sits at the boundary, −log σ(0).
    const flat = new Map(w).set(scorer, { dims: [1, 16], data: new Float32Array(16) });
    expect(await t.loss(flat, only)).toBeCloseTo(Math.LN2, 5);
    // The weights add up: task + 0.5 · scorer.
    const task = await t.loss(w, { [taskLoss]: 1 });
    const aux = await t.loss(w, only);
    expect(aux).toBeGreaterThan(0);
    expect(await t.loss(w, { [taskLoss]: 1, [scorerLoss]: 0.5 })).toBeCloseTo(task + 0.5 * aux, 4);

    const grads = await t.checkGradients(only, [
      [scorer, 0],
      [scorer, 7],
      [scorerNames(0).bias, 0],
      [query, 3],
      [query, 40],
    ]);
    expect(Math.max(...Array.from(grads[scorer]!, Math.abs))).toBeGreaterThan(1e-4);
    // The task head gets nothing from the scorer term.
    expect(grads['qa_outputs.weight']!.every((v) => v === 0)).toBe(true);
    await t.release();
  }, 60_000);

  it('with the first segment kept (keep_first_segment): task + scorer gradients into the scorer and layer 0 match finite differences', async () => {
    const c = pooledConfig({ keep_first_segment: true });
    const t = await spanTraining(c, spreadScorers(c), batchOf([16, 12], [3, 2]), [
      [5, 6],
      [9, 9],
    ]);
    const grads = await t.checkGradients({ [taskLoss]: 1, [scorerLoss]: 1 }, [
      [scorer, 0],
      [scorer, 7],
      [query, 3],
      [query, 40],
    ]);
    expect(Math.max(...Array.from(grads[scorer]!, Math.abs))).toBeGreaterThan(1e-4);
    await t.release();
  }, 60_000);

  it('needs gold spans: a classification training graph refuses it in one line', () => {
    const c = pooledConfig();
    const build = () =>
      buildTrainingGraph(c, withScorers(c, createRandomWeights(tinyBertConfig(0), 5)), {
        task: 'classification',
        maxBatch: 1,
        maxSeq: 16,
        reducer: poolingReducer(c.pooling!, { scorerLoss: true }),
      });
    expect(build).toThrow(/^[^\n]*the scorer loss needs a span task \(gold answer spans\)$/);
  });
});
