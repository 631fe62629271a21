/**
 * Small models trained by the engine on onnxruntime: a 2-layer MLP and a 1-layer attention block.
 * Each SGD step must match a float64 reference step whose gradient comes from central finite
 * differences of a plain TypeScript forward pass (no ORT, no autodiff involved), and the loss
 * must fall over training.
 */
import { describe, expect, it } from 'vitest';
import type { HostTensor } from '../runtime.js';
import { nodeRuntime, randoms } from '../testing/gradcheck.js';
import { crossEntropy, grad } from './autodiff.js';
import { Graph, type Value } from './graph.js';
import { toModelProto } from './serialize.js';

type Params = Record<string, { dims: number[]; data: Float64Array }>;

interface Model {
  params: Params;
  build(g: Graph, p: Record<string, Value>, x: Value): Value; // logits [B, C]
  reference(p: Params, x: Float64Array): number[][]; // logits
  xDims: number[];
}

const B = 4;
const C = 3;
const labels = [0, 2, 1, 2];

function refLoss(m: Model, p: Params, x: Float64Array): number {
  const logits = m.reference(p, x);
  return (
    logits.reduce((s, row, b) => {
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
      return s + lse - row[labels[b]!]!;
    }, 0) / B
  );
}

/** Float64 reference SGD step: gradient by central differences of the TS forward. */
function referenceStep(m: Model, p: Params, x: Float64Array, lr: number): Params {
  const out: Params = {};
  for (const [name, t] of Object.entries(p)) {
    const g = new Float64Array(t.data.length);
    for (let i = 0; i < t.data.length; i++) {
      const orig = t.data[i]!;
      t.data[i] = orig + 1e-6;
      const lp = refLoss(m, p, x);
      t.data[i] = orig - 1e-6;
      const lm = refLoss(m, p, x);
      t.data[i] = orig;
      g[i] = (lp - lm) / 2e-6;
    }
    out[name] = { dims: t.dims, data: t.data.map((v, i) => v - lr * g[i]!) };
  }
  return out;
}

async function engine(m: Model) {
  const g = new Graph('train', 'float64');
  const p: Record<string, Value> = {};
  for (const [name, t] of Object.entries(m.params)) p[name] = g.input(name, 'float64', t.dims);
  const x = g.input('x', 'float64', m.xDims);
  const y = g.input('labels', 'int64', [B]);
  const loss = crossEntropy(g, m.build(g, p, x), y);
  const { graph } = grad(g, loss, Object.values(p));
  const session = await nodeRuntime.createSession(toModelProto(graph));
  return async (params: Params, xs: Float64Array, lr: number) => {
    const feeds: Record<string, HostTensor> = {
      x: { type: 'float64', dims: m.xDims, data: xs },
      labels: { type: 'int64', dims: [B], data: BigInt64Array.from(labels.map(BigInt)) },
    };
    for (const [name, t] of Object.entries(params))
      feeds[name] = { type: 'float64', dims: t.dims, data: t.data };
    const out = await session.run(feeds);
    const next: Params = {};
    for (const [name, t] of Object.entries(params)) {
      const gr = out[`grad.${name}`]!.data as Float64Array;
      next[name] = { dims: t.dims, data: t.data.map((v, i) => v - lr * gr[i]!) };
    }
    return { loss: Number(out['loss']!.data[0]), next };
  };
}

const param = (dims: number[], seed: number, scale = 0.5) => ({
  dims,
  data: randoms(
    dims.reduce((a, b) => a * b, 1),
    seed,
  ).map((v) => v * scale),
});
const lin = (x: number[], w: Float64Array, b: Float64Array, out: number) =>
  Array.from({ length: out }, (_, o) => b[o]! + x.reduce((s, xi, i) => s + xi * w[o * x.length + i]!, 0));

const mlp: Model = {
  xDims: [B, 5],
  params: { w1: param([8, 5], 1), b1: param([8], 2), w2: param([C, 8], 3), b2: param([C], 4) },
  build: (g, p, x) => g.linear(g.tanh(g.linear(x, p['w1']!, p['b1']!)), p['w2']!, p['b2']!),
  reference: (p, x) =>
    Array.from({ length: B }, (_, b) => {
      const h = lin(Array.from(x.subarray(b * 5, b * 5 + 5)), p['w1']!.data, p['b1']!.data, 8).map(Math.tanh);
      return lin(h, p['w2']!.data, p['b2']!.data, C);
    }),
};

const n = 3;
const d = 4;
const attention: Model = {
  xDims: [B, n, d],
  params: {
    wq: param([d, d], 5),
    wk: param([d, d], 6),
    wv: param([d, d], 7),
    bq: param([d], 8),
    wo: param([C, d], 9),
    bo: param([C], 10),
  },
  build: (g, p, x) => {
    const q = g.linear(x, p['wq']!, p['bq']!);
    const k = g.linear(x, p['wk']!);
    const v = g.linear(x, p['wv']!);
    const a = g.softmax(g.mul(g.matmul(q, g.transpose(k, [0, 2, 1])), g.scalar(1 / Math.sqrt(d))), -1);
    const pooled = g.reduceMean(g.matmul(a, v), [1], false);
    return g.linear(pooled, p['wo']!, p['bo']!);
  },
  reference: (p, x) =>
    Array.from({ length: B }, (_, b) => {
      const rows = Array.from({ length: n }, (_, i) =>
        Array.from(x.subarray((b * n + i) * d, (b * n + i + 1) * d)),
      );
      const zero = new Float64Array(d);
      const q = rows.map((r) => lin(r, p['wq']!.data, p['bq']!.data, d));
      const k = rows.map((r) => lin(r, p['wk']!.data, zero, d));
      const v = rows.map((r) => lin(r, p['wv']!.data, zero, d));
      const pooled = new Array(d).fill(0);
      for (let i = 0; i < n; i++) {
        const s = k.map((kj) => kj.reduce((acc, kv, e) => acc + kv * q[i]![e]!, 0) / Math.sqrt(d));
        const mx = Math.max(...s);
        const ex = s.map((v2) => Math.exp(v2 - mx));
        const z = ex.reduce((a2, b2) => a2 + b2, 0);
        for (let j = 0; j < n; j++) for (let e = 0; e < d; e++) pooled[e] += ((ex[j]! / z) * v[j]![e]!) / n;
      }
      return lin(pooled, p['wo']!.data, p['bo']!.data, C);
    }),
};

describe.each([
  ['a 2-layer MLP', mlp],
  ['a 1-layer attention block', attention],
])('training %s on ORT', (_name, m) => {
  it('matches a float64 reference SGD step to 1e-5 and reduces the loss', async () => {
    const step = await engine(m);
    const x = randoms(
      m.xDims.reduce((a, b) => a * b, 1),
      42,
    );
    let params = m.params;
    let ref = structuredClone(m.params);
    const losses: number[] = [];
    for (let s = 0; s < 60; s++) {
      const r = await step(params, x, 0.5);
      losses.push(r.loss);
      if (s < 3) {
        expect(Math.abs(r.loss - refLoss(m, ref, x)) / Math.abs(r.loss)).toBeLessThan(1e-5);
        ref = referenceStep(m, ref, x, 0.5);
        for (const [name, t] of Object.entries(r.next)) {
          t.data.forEach((v, i) =>
            expect(Math.abs(v - ref[name]!.data[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(v))),
          );
        }
      }
      params = r.next;
    }
    expect(losses.at(-1)!).toBeLessThan(0.3 * losses[0]!);
  });
});
