/**
 * The auxiliary scorer loss of span QA pooling (`keepSpanLoss`): its value against the formula
 * written out on plain arrays, its gradient against finite differences (alone, and as the
 * `scorer` term of a pooled span training graph, down into layer 0), and what it is at the edges
 * (all scores equal: ln 2 per gold row; no gold row: 0; a classification graph: refused).
 */
import { Graph, grad, type HostTensor, type StateDict, toModelProto } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { parseModelConfig, toHfConfig } from '../architectures/config.js';
import { createRandomWeights } from '../architectures/weights.js';
import { tinyBertConfig } from '../testing/index.js';
import { buildTrainingGraph, taskLoss } from '../training.js';
import { keepSpanLoss, poolingReducer, scorerLoss, scorerNames, withScorers } from './pooling.js';

const runtime = createNodeRuntime({ threads: 1 });

/** The loss on plain arrays: per gold row −log σ(z − t), t the (k+1)-th largest ([CLS] first). */
function reference(z: number[][], real: number[], k: number, spans: [number, number][]): number {
  let sum = 0;
  let count = 0;
  z.forEach((row, b) => {
    const rows = row.slice(0, real[b]);
    const ranked = rows.map((v, i) => (i === 0 ? 1e4 : v)).sort((x, y) => y - x);
    const t = rows.length > k ? ranked[k]! : -1e4;
    for (let i = 1; i < rows.length; i++)
      if (i >= spans[b]![0] && i <= spans[b]![1]) {
        sum += Math.log1p(Math.exp(-(rows[i]! - t)));
        count++;
      }
  });
  return sum / Math.max(count, 1);
}

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
    const g = new Graph('scorer-loss', 'float64');
    const logitsIn = g.input('logits', 'float64', [2, n]);
    const mask = g.input('mask', 'float64', [2, n]);
    const positions = g.input('positions', 'int64', [2, n]);
    const start = g.input('start', 'int64', [2]);
    const end = g.input('end', 'int64', [2]);
    const logits = g.where(g.greater(mask, g.scalar(0)), logitsIn, g.scalar(-1e4)); // as the scorer masks
    const loss = keepSpanLoss(g, { logits, mask, positions, k }, start, end);
    const forward = g.clone();
    forward.output(loss, 'loss');
    const f = await runtime.createSession(toModelProto(forward));
    const b = await runtime.createSession(toModelProto(grad(g, loss, [logitsIn]).graph));
    const feeds = (values: number[][]): Record<string, HostTensor> => ({
      logits: { type: 'float64', dims: [2, n], data: Float64Array.from(values.flat()) },
      mask: {
        type: 'float64',
        dims: [2, n],
        data: Float64Array.from(real.flatMap((r) => Array.from({ length: n }, (_, i) => (i < r ? 1 : 0)))),
      },
      positions: {
        type: 'int64',
        dims: [2, n],
        data: BigInt64Array.from({ length: 2 * n }, (_, i) => BigInt(i % n)),
      },
      start: { type: 'int64', dims: [2], data: BigInt64Array.from(spans, (s) => BigInt(s[0])) },
      end: { type: 'int64', dims: [2], data: BigInt64Array.from(spans, (s) => BigInt(s[1])) },
    });
    const value = Number((await f.run(feeds(z)))['loss']!.data[0]);
    expect(value).toBeCloseTo(reference(z, real, k, spans), 10);
    expect(value).toBeGreaterThan(1); // the gold rows of example 0 are not kept

    const analytic = (await b.run(feeds(z)))['grad.logits']!.data as Float64Array;
    const eps = 1e-6;
    for (let i = 0; i < 2 * n; i++) {
      const at = async (d: number) => {
        const moved = z.map((row) => [...row]);
        moved[Math.floor(i / n)]![i % n]! += d;
        return Number((await f.run(feeds(moved)))['loss']!.data[0]);
      };
      const numeric = ((await at(eps)) - (await at(-eps))) / (2 * eps);
      expect(Math.abs(numeric - analytic[i]!)).toBeLessThan(1e-7);
    }
    // Only the gold rows and each example's boundary row learn: [CLS] ranks first, so k = 2 keeps
    // one more row (5 and 1); the boundaries are the next ones, rows 2 and 3.
    const touched = Array.from(analytic, (v, i) => (v !== 0 ? i : -1)).filter((i) => i >= 0);
    expect(touched).toEqual([2, 3, 4, 8 + 1, 8 + 3]);

    // No gold row (a no-answer window: start = end = [CLS]): 0.
    const none = feeds(z);
    none['start'] = { type: 'int64', dims: [2], data: new BigInt64Array(2) };
    none['end'] = { type: 'int64', dims: [2], data: new BigInt64Array(2) };
    expect(Number((await f.run(none))['loss']!.data[0])).toBe(0);
    await f.release();
    await b.release();
  });

  it('as the scorer term of a pooled span training graph: ln 2 at equal scores, gradients into layer 0 match finite differences', async () => {
    const c = parseModelConfig({
      ...toHfConfig(tinyBertConfig(0)),
      lat_pooling: { schedule: [[0, 4]], input_length: 16 },
    });
    const w: StateDict = withScorers(c, createRandomWeights(tinyBertConfig(0), 5, { qa: true }, 0.5), 9);
    const scorer = scorerNames(0).weight;
    w.set(scorer, { dims: [1, 16], data: w.get(scorer)!.data.map((v) => v * 25) }); // away from ties
    const x = {
      inputIds: BigInt64Array.from({ length: 32 }, (_, i) => BigInt(2 + ((i * 7) % 25))),
      attentionMask: BigInt64Array.from({ length: 32 }, (_, i) =>
        i % 16 < [16, 12][Math.floor(i / 16)]! ? 1n : 0n,
      ),
      batch: 2,
    };
    const spans: [number, number][] = [
      [5, 6],
      [9, 9],
    ];
    const t = buildTrainingGraph(c, w, {
      task: 'span',
      maxBatch: 2,
      maxSeq: 16,
      reducer: poolingReducer(c.pooling!, { scorerLoss: true }),
    });
    expect(t.lossTerms).toEqual([taskLoss, 'distillation', scorerLoss]);
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
    const only = { [taskLoss]: 0, [scorerLoss]: 1 };
    // A zero scorer weight scores every row alike: each gold row sits at the boundary, −log σ(0).
    const flat = new Map(w).set(scorer, { dims: [1, 16], data: new Float32Array(16) });
    expect(t.feeds.loss(await run(flat, only))).toBeCloseTo(Math.LN2, 5);
    // The weights add up: task + 0.5 · scorer.
    const task = t.feeds.loss(await run(w, { [taskLoss]: 1 }));
    const aux = t.feeds.loss(await run(w, only));
    expect(aux).toBeGreaterThan(0);
    expect(t.feeds.loss(await run(w, { [taskLoss]: 1, [scorerLoss]: 0.5 }))).toBeCloseTo(task + 0.5 * aux, 4);

    const grads = t.feeds.grads(await run(w, only));
    const query = 'encoder.layer.0.attention.self.query.weight';
    const numeric = async (name: string, i: number, delta = 1e-3) => {
      const at = async (d: number) => {
        const data = Float32Array.from(w.get(name)!.data);
        data[i]! += d;
        return t.feeds.loss(await run(new Map(w).set(name, { dims: w.get(name)!.dims, data }), only));
      };
      return ((await at(delta)) - (await at(-delta))) / (2 * delta);
    };
    for (const [name, i] of [
      [scorer, 0],
      [scorer, 7],
      [scorerNames(0).bias, 0],
      [query, 3],
      [query, 40],
    ] as const) {
      const g = grads[name]![i]!;
      expect(Math.abs((await numeric(name, i)) - g)).toBeLessThan(1e-3 + 0.05 * Math.abs(g));
    }
    expect(Math.max(...Array.from(grads[scorer]!, Math.abs))).toBeGreaterThan(1e-4);
    // The task head gets nothing from the scorer term.
    expect(grads['qa_outputs.weight']!.every((v) => v === 0)).toBe(true);
    await s.release();
  }, 60_000);

  it('needs gold spans: a classification training graph refuses it in one line', () => {
    const c = parseModelConfig({
      ...toHfConfig(tinyBertConfig(0)),
      lat_pooling: { schedule: [[0, 4]], input_length: 16 },
    });
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
