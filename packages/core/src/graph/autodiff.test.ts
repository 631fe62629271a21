import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradCheck, nodeRuntime, randoms } from '../testing/gradcheck.js';
import { crossEntropy, grad, klDivergence } from './autodiff.js';
import { Graph } from './graph.js';
import { toModelProto } from './serialize.js';

const t = (dims: number[], seed: number) => ({
  dims,
  data: randoms(
    dims.reduce((a, b) => a * b, 1),
    seed,
  ),
});
const i64 = (dims: number[], values: number[]) => ({
  type: 'int64' as const,
  dims,
  data: BigInt64Array.from(values.map(BigInt)),
});
const TOL = 1e-6;

describe('autodiff gradients match central finite differences (float64)', () => {
  it('elementwise ops with broadcasting', async () => {
    const err = await gradCheck({
      wrt: { a: t([2, 3, 4], 1), b: t([4], 2), c: t([3, 1], 3) },
      build: (g, { a, b, c }) => {
        const s = g.add(g.mul(a!, b!), g.sub(c!, a!));
        const d = g.div(s, g.add(g.mul(c!, c!), g.scalar(1.5)));
        return g.add(
          g.tanh(d),
          g.mul(g.exp(g.mul(b!, g.scalar(0.3))), g.neg(g.sqrt(g.add(g.mul(a!, a!), g.scalar(1))))),
        );
      },
    });
    expect(err).toBeLessThan(TOL);
  });

  // ORT has no float64 Erf kernel: these run in float32 with a step and tolerance sized for it.
  it('log, erf, sigmoid, relu, pow, gelu (erf and tanh), Cast in float32', async () => {
    const err = await gradCheck({
      float: 'float32',
      wrt: { x: t([3, 5], 4) },
      build: (g, { x }) => {
        const pos = g.add(g.mul(x!, x!), g.scalar(0.5));
        const parts = [
          g.log(pos),
          g.erf(x!),
          g.sigmoid(x!),
          g.relu(g.add(x!, g.scalar(0.05))),
          g.pow(pos, g.scalar(1.7)),
          g.gelu(x!, 'erf'),
          g.gelu(x!, 'tanh'),
          g.cast(g.mul(g.cast(x!, 'float64'), g.cast(x!, 'float64')), 'float32'),
        ];
        return parts.reduce((acc, p) => g.add(acc, p));
      },
    });
    expect(err).toBeLessThan(2e-3);
  });

  it('MatMul: batched, with a shared 2-D weight, and attention-style 4-D', async () => {
    const err = await gradCheck({
      wrt: {
        x: t([2, 3, 4], 5),
        w: t([5, 4], 6),
        b: t([5], 7),
        q: t([2, 2, 3, 2], 8),
        k: t([2, 2, 3, 2], 9),
      },
      build: (g, { x, w, b, q, k }) => {
        const y = g.linear(x!, w!, b!);
        const s = g.matmul(q!, g.transpose(k!, [0, 1, 3, 2]));
        return g.add(g.reduceSum(y, [2], false), g.reduceSum(g.reshape(s, [2, 6, 3]), [1], false));
      },
    });
    expect(err).toBeLessThan(TOL);
  });

  it('Softmax, LogSoftmax, LayerNormalization', async () => {
    const err = await gradCheck({
      wrt: { x: t([2, 3, 6], 10), gamma: t([6], 11), beta: t([6], 12) },
      build: (g, { x, gamma, beta }) => {
        const ln = g.layerNorm(x!, gamma!, beta!, 1e-5);
        return g.add(g.add(g.softmax(x!, -1), g.logSoftmax(x!, 1)), ln);
      },
    });
    expect(err).toBeLessThan(TOL);
  });

  it('Gather (embedding rows with repeats, and one position), GatherElements, ScatterElements', async () => {
    const err = await gradCheck({
      wrt: { emb: t([5, 3], 13), h: t([2, 4, 3], 14), upd: t([2, 2, 3], 15) },
      feeds: {
        pos: i64([3], [2, 0, 2]),
        ids: i64([2, 3], [1, 4, 1, 0, 1, 3]),
        sel: i64([2, 2, 3], [0, 0, 0, 3, 3, 3, 1, 1, 1, 2, 2, 2]),
      },
      build: (g, { emb, h, upd }) => {
        const ids = g.value('ids');
        const sel = g.value('sel');
        const e = g.add(g.gather(emb!, ids, 0), g.gather(emb!, g.value('pos'), 0));
        const cls = g.gather(h!, g.int64(0), 1);
        const picked = g.gatherElements(h!, sel, 1);
        const scattered = g.scatterElements(h!, sel, upd!, 1);
        const added = g.scatterElements(h!, sel, upd!, 1, 'add');
        return g.add(
          g.add(g.reduceSum(e, [1], false), cls),
          g.add(g.reduceSum(picked, [1], false), g.reduceSum(g.add(scattered, added), [1], false)),
        );
      },
    });
    expect(err).toBeLessThan(TOL);
  });

  it('Reshape, Transpose, Unsqueeze, Squeeze, Concat, Slice, Expand, ReduceMean, Where', async () => {
    const err = await gradCheck({
      wrt: { a: t([2, 3], 16), b: t([2, 2], 17) },
      build: (g, { a, b }) => {
        const c = g.concat([a!, b!], 1);
        const s = g.slice(c, [1], [4], [1]);
        const r = g.transpose(g.reshape(s, [3, 2]), [1, 0]);
        const u = g.squeeze(g.unsqueeze(r, [0]), [0]);
        const m = g.reduceMean(g.expand(g.unsqueeze(a!, [0]), g.int64s([4, 2, 3]), [4, 2, 3]), [0], false);
        const w = g.where(g.greater(a!, g.scalar(0)), g.mul(a!, a!), g.neg(a!));
        return g.add(
          g.add(g.reduceSum(u, [0], false), g.reduceSum(m, [0], false)),
          g.reduceSum(w, [0], false),
        );
      },
    });
    expect(err).toBeLessThan(TOL);
  });

  it('cross-entropy and KL-divergence losses', async () => {
    const err = await gradCheck({
      wrt: { logits: t([3, 4], 18) },
      feeds: {
        labels: i64([3], [2, 0, 3]),
        teacher: {
          type: 'float64',
          dims: [3, 4],
          data: Float64Array.of(0.1, 0.2, 0.3, 0.4, 1, 0, 0, 0, 0.25, 0.25, 0.25, 0.25),
        },
      },
      build: (g, { logits }) =>
        g.add(crossEntropy(g, logits!, g.value('labels')), klDivergence(g, g.value('teacher'), logits!)),
    });
    expect(err).toBeLessThan(TOL);
  });

  it('property: random broadcast shapes for Add/Mul/Div', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: 1, max: 1000 }),
        async (dims, ones, seed) => {
          const bdims = dims.map((d, i) => (ones[i] ? 1 : d)).slice(dims.length > 1 && ones[2] ? 1 : 0);
          const err = await gradCheck({
            wrt: { a: t(dims, seed), b: t(bdims, seed + 1) },
            build: (g, { a, b }) => g.div(g.mul(g.add(a!, b!), b!), g.add(g.mul(b!, b!), g.scalar(1))),
          });
          return err < TOL;
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('Dropout', () => {
  it('reuses the forward mask in the backward pass, scaled by 1/(1 − ratio)', async () => {
    const { Graph } = await import('./graph.js');
    const { grad: gradOf } = await import('./autodiff.js');
    const { toModelProto } = await import('./serialize.js');
    const { nodeRuntime } = await import('../testing/gradcheck.js');
    const g = new Graph('dropout');
    const x = g.input('x', 'float32', [4, 8]);
    const [y, mask] = g.dropout(x, 0.25, 7);
    const loss = g.reduceSum(g.mul(y, y), [0, 1], false);
    g.output(mask, 'mask');
    g.output(y, 'y');
    const { graph } = gradOf(g, loss, [x]);
    const s = await nodeRuntime.createSession(toModelProto(graph));
    const xs = Float32Array.from({ length: 32 }, (_, i) => (i % 7) - 3);
    const out = await s.run({ x: { type: 'float32', dims: [4, 8], data: xs } });
    const m = out['mask']!.data as Uint8Array;
    const gx = out['grad.x']!.data as Float32Array;
    const kept = Array.from(m).filter(Boolean).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(32);
    // d/dx Σ (x·m/(1−p))² = 2·x·m/(1−p)²
    xs.forEach((v, i) => expect(gx[i]).toBeCloseTo(m[i] ? (2 * v) / 0.75 ** 2 : 0, 4));
  });
});

describe('the gradient graph', () => {
  it('has no dead nodes: the gradients of constants (GELU’s 0.5 and √2) are not built into it', () => {
    const g = new Graph('dead', 'float32');
    const x = g.input('x', 'float32', [2, 3]);
    const loss = g.reduceSum(g.gelu(g.mul(x, x)), [0, 1], false);
    const { graph } = grad(g, loss, [x]);
    const used = new Set([...graph.nodes.flatMap((n) => n.inputs), ...graph.outputs.map((o) => o.name)]);
    for (const n of graph.nodes)
      expect(
        n.outputs.some((o) => used.has(o)),
        `${n.opType} ${n.outputs}`,
      ).toBe(true);
    // x·x, the GELU (Div, Erf, Add, Mul, Mul), the sum: forward; their gradients wrt x: backward.
    expect(graph.nodes.filter((n) => n.opType === 'ReduceSum')).toHaveLength(1);
  });
});

describe('the GELU rule', () => {
  /** dL/dx of L = Σ gelu(x)·r, through the GELU rule or (`exposed`: an intermediate is also an output) the per-node rules. */
  async function geluGrad(exposed: boolean) {
    const g = new Graph('gelu', 'float32');
    const x = g.input('x', 'float32', [4, 256]);
    const r = g.input('r', 'float32', [4, 256]);
    const y = g.gelu(x);
    if (exposed) g.output(g.value(g.nodes.at(-1)!.inputs[0]!), 'half');
    const { graph } = grad(g, g.reduceSum(g.mul(y, r), [0, 1], false), [x]);
    const session = await nodeRuntime.createSession(toModelProto(graph));
    // x over [-6, 6] (both tails), r random.
    const xs = Float32Array.from({ length: 1024 }, (_, i) => -6 + (12 * i) / 1023);
    const rs = Float32Array.from(randoms(1024, 3));
    const out = await session.run({
      x: { type: 'float32', dims: [4, 256], data: xs },
      r: { type: 'float32', dims: [4, 256], data: rs },
    });
    await session.release();
    // Identity: the exposed output's.
    return {
      gx: out['grad.x']!.data as Float32Array,
      nodes: graph.nodes.filter((n) => n.opType !== 'Identity').length,
    };
  }

  it('gives the per-node rules’ gradient within float32 rounding, with 3 fewer nodes', async () => {
    const rule = await geluGrad(false);
    const perNode = await geluGrad(true);
    const worst = Math.max(...perNode.gx.map((v) => Math.abs(v)));
    rule.gx.forEach((v, i) => expect(Math.abs(v - perNode.gx[i]!)).toBeLessThan(2e-7 * worst + 1e-7));
    expect(perNode.nodes - rule.nodes).toBe(3);
  });
});
