import * as ort from 'onnxruntime-node';
import { grad } from '../graph/autodiff.js';
import { Graph, type Value } from '../graph/graph.js';
import { toModelProto } from '../graph/serialize.js';
import { Rng } from '../random.js';
import { createOrtRuntime, type HostTensor } from '../runtime.js';

export const nodeRuntime = createOrtRuntime('onnxruntime-node', ort, (o) => ({
  intraOpNumThreads: o.threads ?? 1,
  graphOptimizationLevel: 'all',
}));

/** Deterministic pseudo-random floats in [-1, 1). */
export function randoms(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.next() * 2 - 1);
}

export interface GradCase {
  /** float64 (default) for tight checks; float32 where ORT lacks a float64 kernel (Erf). */
  float?: 'float32' | 'float64';
  /** Float64 inputs to differentiate, with their values. */
  wrt: Record<string, { dims: number[]; data: Float64Array }>;
  /** Other inputs (indices, masks …). */
  feeds?: Record<string, HostTensor>;
  /** Builds the forward graph from the wrt inputs; returns a tensor output of any shape. */
  build: (g: Graph, x: Record<string, Value>) => Value;
}

/**
 * Compares autodiff gradients of L = Σ f(x)·r (r random) with central finite differences,
 * both computed by onnxruntime in float64. Returns the worst relative error.
 */
export async function gradCheck(c: GradCase): Promise<number> {
  const float = c.float ?? 'float64';
  const eps = float === 'float64' ? 1e-6 : 1e-2;
  const g = new Graph('gradcheck', float);
  const xs: Record<string, Value> = {};
  for (const [name, t] of Object.entries(c.wrt)) xs[name] = g.input(name, float, t.dims);
  for (const [name, t] of Object.entries(c.feeds ?? {})) g.input(name, t.type, [...t.dims]);
  const y = c.build(g, xs);
  const size = y.shape?.reduce((a: number, d) => a * (d as number), 1) ?? 1;
  const rs = randoms(size, 99);
  const r = g.initializer('r', {
    type: float,
    dims: y.shape as number[],
    data: float === 'float64' ? rs : Float32Array.from(rs),
  } as HostTensor);
  const loss = g.reduceSum(
    g.mul(y, r),
    (y.shape ?? []).map((_, i) => i),
    false,
  );
  const fwd = g.clone();
  fwd.output(loss, 'loss');
  const { graph } = grad(g, loss, Object.values(xs));
  const fSession = await nodeRuntime.createSession(toModelProto(fwd));
  const gSession = await nodeRuntime.createSession(toModelProto(graph));
  const feeds = (over: Record<string, Float64Array> = {}) => {
    const f: Record<string, HostTensor> = { ...(c.feeds ?? {}) };
    for (const [name, t] of Object.entries(c.wrt)) {
      const data = over[name] ?? t.data;
      f[name] = {
        type: float,
        dims: t.dims,
        data: float === 'float64' ? data : Float32Array.from(data),
      } as HostTensor;
    }
    return f;
  };
  const out = await gSession.run(feeds());
  let worst = 0;
  for (const [name, t] of Object.entries(c.wrt)) {
    const analytic = out[`grad.${name}`]!.data as Float64Array | Float32Array;
    for (let i = 0; i < t.data.length; i++) {
      const plus = Float64Array.from(t.data);
      const minus = Float64Array.from(t.data);
      plus[i]! += eps;
      minus[i]! -= eps;
      const lp = Number((await fSession.run(feeds({ [name]: plus })))['loss']!.data[0]);
      const lm = Number((await fSession.run(feeds({ [name]: minus })))['loss']!.data[0]);
      const numeric = (lp - lm) / (2 * eps);
      const err = Math.abs(numeric - analytic[i]!) / Math.max(1, Math.abs(numeric));
      worst = Math.max(worst, err);
    }
  }
  await fSession.release();
  await gSession.release();
  return worst;
}
