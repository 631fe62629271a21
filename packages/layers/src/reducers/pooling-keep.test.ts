/**
 * `keep_first_segment` (span QA): every first-segment token ([CLS] question [SEP]) passes each
 * pooling as a row of its own. Persisted in config.json; a span model keeps those rows through
 * every pooling (Node and wasm alike); the scorer loss ranks them first and never counts them as
 * gold; training gradients match finite differences; bad combinations are refused in one line.
 * The operator itself (kept rows bit-equal, the array reference, k = n) is tested in @lat/core.
 */
import { Graph, grad, type HostTensor, type StateDict, toModelProto } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { createWebRuntime } from '@lat/runtime-web';
import { describe, expect, it } from 'vitest';
import { createAnytimeModel } from '../anytime.js';
import { parseModelConfig, toHfConfig } from '../architectures/config.js';
import { createRandomWeights } from '../architectures/weights.js';
import { tinyBertConfig } from '../testing/index.js';
import { buildTrainingGraph, taskLoss } from '../training.js';
import { keepSpanLoss, poolingReducer, scorerLoss, scorerNames, withScorers } from './pooling.js';

const runtime = createNodeRuntime({ threads: 1 });

const pooled = (schedule: unknown, extra: Record<string, unknown> = {}) =>
  parseModelConfig({
    ...toHfConfig(tinyBertConfig(0)),
    lat_pooling: { schedule, input_length: 16, keep_first_segment: true, ...extra },
  });

/** A batch of `real` tokens per example whose first `question[b]` tokens are segment 0. */
const batch = (n: number, real: number[], question: number[]) => ({
  inputIds: BigInt64Array.from({ length: real.length * n }, (_, i) => BigInt(2 + ((i * 7) % 25))),
  attentionMask: BigInt64Array.from({ length: real.length * n }, (_, i) =>
    i % n < real[Math.floor(i / n)]! ? 1n : 0n,
  ),
  tokenTypeIds: BigInt64Array.from({ length: real.length * n }, (_, i) =>
    i % n < question[Math.floor(i / n)]! || i % n >= real[Math.floor(i / n)]! ? 0n : 1n,
  ),
  batch: real.length,
});

describe('pooling keeps the first segment (span QA)', () => {
  it('persists in config.json and refuses bad combinations in one line', () => {
    const c = pooled([[0, 4]]);
    expect(c.pooling!.keepFirstSegment).toBe(true);
    expect(toHfConfig(c)['lat_pooling']).toEqual({
      schedule: [[0, 4]],
      input_length: 16,
      keep_first_segment: true,
    });
    expect(toHfConfig(pooled([[0, 4]], { keep_first_segment: false }))['lat_pooling']).toEqual({
      schedule: [[0, 4]],
      input_length: 16,
    });
    for (const [extra, message] of [
      [{ operator: 'iterative' }, /keeping the first segment needs successive halving/],
      [{ keep_first_segment: 'yes' }, /keep_first_segment must be true or false, got "yes"/],
    ] as const)
      expect(() => pooled([[0, 4]], extra)).toThrow(new RegExp(`^[^\\n]*${message.source}[^\\n]*$`));
    expect(() => pooled([], { chunk: 4 })).toThrow(
      /^[^\n]*keeping the first segment needs a pooling schedule$/,
    );
  });

  it('keeps every first-segment token through both poolings, the rest halved; wasm gives what Node gives', async () => {
    const schedule = [
      [0, 8],
      [1, 4],
    ];
    const c = pooled(schedule);
    const { keepFirstSegment: _, ...plainPooling } = c.pooling!;
    const w = createRandomWeights(c, 3, { qa: true }, 0.5);
    const x = batch(16, [16, 11], [4, 3]);
    const results = [];
    for (const rt of [runtime, createWebRuntime({ threads: 1 })]) {
      const m = await createAnytimeModel(rt, c, w, { head: 'span' });
      results.push(await m.run(x));
      await m.release();
    }
    const [node, wasm] = results as [(typeof results)[0], (typeof results)[0]];
    expect(node.keptPositions.map((l) => l.map((p) => p.length))).toEqual([
      [8, 8],
      [4, 4],
    ]);
    for (const layer of node.keptPositions) {
      expect(layer[0]!.slice(0, 4)).toEqual([0, 1, 2, 3]);
      expect(layer[1]!.slice(0, 3)).toEqual([0, 1, 2]);
      for (const kept of layer) expect([...kept].sort((a, b) => a - b)).toEqual(kept);
    }
    expect(wasm.keptPositions).toEqual(node.keptPositions);
    Array.from(node.startLogits!).forEach((v, i) => expect(wasm.startLogits![i]).toBeCloseTo(v, 5));
    Array.from(node.endLogits!).forEach((v, i) => expect(wasm.endLogits![i]).toBeCloseTo(v, 5));
    // Without the option the same weights merge question tokens away.
    const plain = await createAnytimeModel(runtime, { ...c, pooling: plainPooling }, w, { head: 'span' });
    const without = await plain.run(x);
    expect(without.keptPositions[1]![0]).not.toEqual([0, 1, 2, 3]);
    await plain.release();
  });

  it('refuses an input whose first segment does not fit the narrowest width, in one line', async () => {
    const c = pooled([
      [0, 8],
      [1, 4],
    ]);
    const m = await createAnytimeModel(runtime, c, createRandomWeights(c, 3, { qa: true }, 0.5), {
      head: 'span',
    });
    await expect(m.run(batch(16, [16, 16], [3, 5]))).rejects.toThrow(
      /^token_type_ids: example 1 has 5 first-segment tokens \(token type 0\), all kept through pooling, but layer 1 pools to 4 rows; [^\n]*$/,
    );
    // One segment (a classification input, no token types): every token would be kept.
    const { tokenTypeIds: _, ...single } = batch(16, [16], [16]);
    await expect(m.run(single)).rejects.toThrow(/example 0 has 16 first-segment tokens/);
    await m.release();
  });

  it('the scorer loss ranks kept rows first and never counts them as gold; gradient matches finite differences', async () => {
    const n = 8;
    const k = 4;
    const q = [3, 2]; // kept rows per example ([CLS] among them)
    const spans: [number, number][] = [
      [2, 4], // row 2 is kept: only rows 3 and 4 are gold
      [5, 5],
    ];
    const z = [
      [0.3, -1.2, 0.9, -0.4, 0.1, 1.7, -2.0, 0.6],
      [-0.2, 2.1, 0.5, 1.1, -0.8, -1.5, 0.2, 0.4],
    ];
    /** On arrays: per gold row −log σ(z − t), t the (k+1)-th largest with kept rows ranked first. */
    const reference = (values: number[][]) => {
      let sum = 0;
      let count = 0;
      values.forEach((row, b) => {
        const t = row.map((v, i) => (i < q[b]! ? 1e4 : v)).sort((a, c) => c - a)[k]!;
        for (let i = q[b]!; i < n; i++)
          if (i >= spans[b]![0] && i <= spans[b]![1]) {
            sum += Math.log1p(Math.exp(-(row[i]! - t)));
            count++;
          }
      });
      return sum / count;
    };
    const g = new Graph('scorer-loss-kept', 'float64');
    const logits = g.input('logits', 'float64', [2, n]);
    const kept = g.input('kept', 'float64', [2, n]);
    const loss = keepSpanLoss(
      g,
      {
        logits,
        mask: g.input('mask', 'float64', [2, n]),
        positions: g.input('positions', 'int64', [2, n]),
        k,
        kept,
      },
      g.input('start', 'int64', [2]),
      g.input('end', 'int64', [2]),
    );
    const forward = g.clone();
    forward.output(loss, 'loss');
    const f = await runtime.createSession(toModelProto(forward));
    const b = await runtime.createSession(toModelProto(grad(g, loss, [logits]).graph));
    const feeds = (values: number[][]): Record<string, HostTensor> => ({
      logits: { type: 'float64', dims: [2, n], data: Float64Array.from(values.flat()) },
      kept: {
        type: 'float64',
        dims: [2, n],
        data: Float64Array.from({ length: 2 * n }, (_, i) => Number(i % n < q[Math.floor(i / n)]!)),
      },
      mask: { type: 'float64', dims: [2, n], data: new Float64Array(2 * n).fill(1) },
      positions: {
        type: 'int64',
        dims: [2, n],
        data: BigInt64Array.from({ length: 2 * n }, (_, i) => BigInt(i % n)),
      },
      start: { type: 'int64', dims: [2], data: BigInt64Array.from(spans, (s) => BigInt(s[0])) },
      end: { type: 'int64', dims: [2], data: BigInt64Array.from(spans, (s) => BigInt(s[1])) },
    });
    const lossAt = async (values: number[][]) => Number((await f.run(feeds(values)))['loss']!.data[0]);
    expect(await lossAt(z)).toBeCloseTo(reference(z), 10);
    const analytic = (await b.run(feeds(z)))['grad.logits']!.data as Float64Array;
    for (let i = 0; i < 2 * n; i++) {
      const moved = (d: number) => z.map((row, r) => row.map((v, j) => (r * n + j === i ? v + d : v)));
      const numeric = ((await lossAt(moved(1e-6))) - (await lossAt(moved(-1e-6)))) / 2e-6;
      expect(Math.abs(numeric - analytic[i]!)).toBeLessThan(1e-7);
    }
    // Kept rows get no gradient: they are neither gold nor the boundary.
    for (const i of [0, 1, 2, n, n + 1]) expect(analytic[i]).toBe(0);
    await f.release();
    await b.release();
  });

  it('trains: span training graph with kept rows and the scorer loss, gradients into the scorer and layer 0 match finite differences', async () => {
    const c = pooled([[0, 4]]);
    const w: StateDict = withScorers(c, createRandomWeights(tinyBertConfig(0), 5, { qa: true }, 0.5), 9);
    const scorer = scorerNames(0).weight;
    w.set(scorer, { dims: [1, 16], data: w.get(scorer)!.data.map((v) => v * 25) }); // away from ties
    const x = batch(16, [16, 12], [3, 2]);
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
    const s = await runtime.createSession(toModelProto(t.graph));
    const weights = { [taskLoss]: 1, [scorerLoss]: 1 };
    const run = (at: StateDict) =>
      s.run({
        ...t.feeds.batch(x, spans, at),
        ...t.feeds.teacher(x),
        ...t.feeds.pass(x, {
          setting: undefined,
          dropoutOffsets: new BigInt64Array(t.dropoutSites),
          lossWeights: weights,
        }),
      });
    const grads = t.feeds.grads(await run(w));
    const numeric = async (name: string, i: number, delta = 1e-3) => {
      const at = async (d: number) => {
        const data = Float32Array.from(w.get(name)!.data);
        data[i]! += d;
        return t.feeds.loss(await run(new Map(w).set(name, { dims: w.get(name)!.dims, data })));
      };
      return ((await at(delta)) - (await at(-delta))) / (2 * delta);
    };
    const query = 'encoder.layer.0.attention.self.query.weight';
    for (const [name, i] of [
      [scorer, 0],
      [scorer, 7],
      [query, 3],
      [query, 40],
    ] as const) {
      const g = grads[name]![i]!;
      expect(Math.abs((await numeric(name, i)) - g)).toBeLessThan(1e-3 + 0.05 * Math.abs(g));
    }
    expect(Math.max(...Array.from(grads[scorer]!, Math.abs))).toBeGreaterThan(1e-4);
    await s.release();
  }, 60_000);
});
