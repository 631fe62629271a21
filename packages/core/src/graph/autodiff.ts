/**
 * Reverse-mode automatic differentiation over the Graph IR. `grad()` appends the backward nodes
 * to a copy of the forward graph, so one ORT session returns the loss and every gradient.
 */
import { LatError } from '../errors.js';
import type { Graph, Node, Shape, Value } from './graph.js';
import { liveNodes } from './live.js';

type Grads = (Value | null)[];
type Vjp = (g: Graph, node: Node, ins: Value[], outs: Value[], gys: (Value | null)[]) => Grads;

/** Sums `grad` over the axes where `target` was broadcast, so it has target's shape. */
function unbroadcast(g: Graph, grad: Value, target: Value): Value {
  const gs = grad.shape;
  const ts = target.shape;
  if (!gs || !ts) {
    throw new LatError('BAD_SHAPE', `autodiff needs known ranks to undo broadcasting (at ${target.name})`);
  }
  let out = grad;
  const lead = gs.length - ts.length;
  if (lead > 0) out = g.reduceSum(out, range(lead), false);
  const axes = ts.flatMap((d, i) => (d === 1 && out.shape![i] !== 1 ? [i] : []));
  if (axes.length) out = g.reduceSum(out, axes, true);
  return out;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function swapLast(g: Graph, x: Value): Value {
  const r = x.shape!.length;
  const perm = range(r);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return g.transpose(x, perm);
}

/** Scalar count of elements reduced away, as a float value (for ReduceMean). */
function reducedCount(g: Graph, x: Value, y: Value): Value {
  const size = (v: Value) => g.node('Size', [v], {}, [{ dtype: 'int64', shape: [] }])[0]!;
  return g.cast(g.div(size(x), size(y)), g.float);
}

const vjps: Record<string, Vjp> = {
  Identity: (_g, _n, _i, _o, [gy]) => [gy!],
  Add: (g, _n, [a, b], _o, [gy]) => [unbroadcast(g, gy!, a!), unbroadcast(g, gy!, b!)],
  Sub: (g, _n, [a, b], _o, [gy]) => [unbroadcast(g, gy!, a!), unbroadcast(g, g.neg(gy!), b!)],
  Mul: (g, _n, [a, b], _o, [gy]) => [unbroadcast(g, g.mul(gy!, b!), a!), unbroadcast(g, g.mul(gy!, a!), b!)],
  Div: (g, _n, [a, b], [y], [gy]) => [
    unbroadcast(g, g.div(gy!, b!), a!),
    unbroadcast(g, g.neg(g.div(g.mul(gy!, y!), b!)), b!),
  ],
  Pow: (g, _n, [a, b], _o, [gy]) => [
    unbroadcast(g, g.mul(gy!, g.mul(b!, g.pow(a!, g.sub(b!, g.scalar(1))))), a!),
    null, // exponents are constants in lat's graphs
  ],
  Neg: (g, _n, _i, _o, [gy]) => [g.neg(gy!)],
  Exp: (g, _n, _i, [y], [gy]) => [g.mul(gy!, y!)],
  Log: (g, _n, [x], _o, [gy]) => [g.div(gy!, x!)],
  Sqrt: (g, _n, _i, [y], [gy]) => [g.div(g.mul(gy!, g.scalar(0.5)), y!)],
  Tanh: (g, _n, _i, [y], [gy]) => [g.mul(gy!, g.sub(g.scalar(1), g.mul(y!, y!)))],
  Sigmoid: (g, _n, _i, [y], [gy]) => [g.mul(gy!, g.mul(y!, g.sub(g.scalar(1), y!)))],
  Relu: (g, _n, [x], _o, [gy]) => [g.mul(gy!, g.cast(g.greater(x!, g.scalar(0)), g.float))],
  Erf: (g, _n, [x], _o, [gy]) => [
    g.mul(gy!, g.mul(g.exp(g.neg(g.mul(x!, x!))), g.scalar(2 / Math.sqrt(Math.PI)))),
  ],
  Softmax: (g, n, _i, [y], [gy]) => {
    const axis = (n.attrs['axis']?.value as number) ?? -1;
    const dot = g.reduceSum(g.mul(gy!, y!), [axis], true);
    return [g.mul(y!, g.sub(gy!, dot))];
  },
  LogSoftmax: (g, n, _i, [y], [gy]) => {
    const axis = (n.attrs['axis']?.value as number) ?? -1;
    return [g.sub(gy!, g.mul(g.exp(y!), g.reduceSum(gy!, [axis], true)))];
  },
  MatMul: (g, _n, [a, b], _o, [gy]) => {
    const ga = unbroadcast(g, g.matmul(gy!, swapLast(g, b!)), a!);
    let gb: Value;
    if (b!.shape!.length === 2 && a!.shape!.length > 2) {
      // Shared 2-D weight: fold the batch dims into one matmul instead of a batched one + a sum.
      const k = a!.shape!.at(-1)!;
      const n = b!.shape![1]!;
      const a2 = g.reshape(a!, [-1, typeof k === 'number' ? k : 0]);
      const gy2 = g.reshape(gy!, [-1, typeof n === 'number' ? n : 0]);
      gb = g.matmul(g.transpose(a2, [1, 0]), gy2);
    } else {
      gb = unbroadcast(g, g.matmul(swapLast(g, a!), gy!), b!);
    }
    return [ga, gb];
  },
  Transpose: (g, n, _i, _o, [gy]) => {
    const perm = n.attrs['perm']!.value as number[];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [g.transpose(gy!, inv)];
  },
  Reshape: (g, _n, [x], _o, [gy]) => [g.reshape(gy!, g.shapeOf(x!), x!.shape), null],
  Unsqueeze: (g, _n, [x], _o, [gy]) => [g.reshape(gy!, g.shapeOf(x!), x!.shape), null],
  Squeeze: (g, _n, [x], _o, [gy]) => [g.reshape(gy!, g.shapeOf(x!), x!.shape), null],
  Expand: (g, _n, [x], _o, [gy]) => [unbroadcast(g, gy!, x!), null],
  Cast: (g, _n, [x], _o, [gy]) => [
    x!.dtype === 'float32' || x!.dtype === 'float64' ? g.cast(gy!, x!.dtype) : null,
  ],
  Where: (g, _n, [c, a, b], _o, [gy]) => {
    const zero = g.zerosLike(gy!);
    return [null, unbroadcast(g, g.where(c!, gy!, zero), a!), unbroadcast(g, g.where(c!, zero, gy!), b!)];
  },
  ReduceSum: (g, n, [x], _o, [gy]) => {
    const keep = n.attrs['keepdims']?.value !== 0;
    const axes = constInts(g, n.inputs[1]!);
    const y = keep ? gy! : g.unsqueeze(gy!, axes);
    return [g.expand(y, g.shapeOf(x!), x!.shape), null];
  },
  ReduceMean: (g, n, [x], [y], [gy]) => {
    const keep = n.attrs['keepdims']?.value !== 0;
    const axes = n.attrs['axes']!.value as number[];
    const up = keep ? gy! : g.unsqueeze(gy!, axes);
    return [g.div(g.expand(up, g.shapeOf(x!), x!.shape), reducedCount(g, x!, y!))];
  },
  LayerNormalization: (g, n, [x, gamma, beta], [, savedMean, savedInvStd], [gy]) => {
    let mean = savedMean;
    let invStd = savedInvStd;
    if (!mean || !invStd) {
      const eps = n.attrs['epsilon']?.value as number;
      mean = g.reduceMean(x!, [-1], true);
      const centered = g.sub(x!, mean);
      const variance = g.reduceMean(g.mul(centered, centered), [-1], true);
      invStd = g.div(g.scalar(1), g.sqrt(g.add(variance, g.scalar(eps))));
    }
    const xhat = g.mul(g.sub(x!, mean), invStd);
    const dxhat = g.mul(gy!, gamma!);
    const m1 = g.reduceMean(dxhat, [-1], true);
    const m2 = g.reduceMean(g.mul(dxhat, xhat), [-1], true);
    const dx = g.mul(invStd, g.sub(g.sub(dxhat, m1), g.mul(xhat, m2)));
    return [dx, unbroadcast(g, g.mul(gy!, xhat), gamma!), unbroadcast(g, gy!, beta!)];
  },
  Gather: (g, n, [data, idx], _o, [gy]) => {
    const axis = (n.attrs['axis']?.value as number) ?? 0;
    const ds = data!.shape!;
    const is = idx!.shape!;
    const zeros = g.zerosLike(data!);
    if (is.length <= 1) {
      // Selecting along one axis: scatter-add the gradient back along that axis.
      const ax = axis < 0 ? axis + ds.length : axis;
      const gyFull = is.length === 0 ? g.unsqueeze(gy!, [ax]) : gy!;
      const shapeIdx = ds.map((_, i) => (i === ax ? -1 : 1));
      const index = g.expand(g.reshape(idx!, shapeIdx), g.shapeOf(gyFull), gyFull.shape);
      return [g.scatterElements(zeros, index, gyFull, ax, 'add'), null];
    }
    if (axis !== 0 || ds.length !== 2) {
      throw new LatError(
        'UNSUPPORTED',
        'autodiff of Gather with multi-dim indices supports 2-D data on axis 0',
      );
    }
    // Embedding lookup: sparse accumulation of each looked-up row's gradient.
    const d = ds[1]!;
    const rows = g.reshape(gy!, [-1, typeof d === 'number' ? d : 0]);
    const index = g.expand(g.reshape(idx!, [-1, 1]), g.shapeOf(rows), rows.shape);
    return [g.scatterElements(zeros, index, rows, 0, 'add'), null];
  },
  GatherElements: (g, n, [data, idx], _o, [gy]) => {
    const axis = n.attrs['axis']!.value as number;
    return [g.scatterElements(g.zerosLike(data!), idx!, gy!, axis, 'add'), null];
  },
  ScatterElements: (g, n, [, idx, upd], _o, [gy]) => {
    const axis = n.attrs['axis']!.value as number;
    const add = n.attrs['reduction']?.value === 'add';
    const gData = add ? gy! : g.scatterElements(gy!, idx!, g.zerosLike(upd!), axis);
    return [gData, null, g.gatherElements(gy!, idx!, axis)];
  },
  // Dropout (training mode): the mask the forward pass drew is reused, scaled by 1/(1 − ratio).
  Dropout: (g, n, ins, [, mask], [gy]) => {
    const ratio = n.inputs[1] ? constFloat(g, n.inputs[1]) : 0.5;
    return [
      g.mul(gy!, g.mul(g.cast(mask!, g.float), g.scalar(1 / (1 - ratio)))),
      ...ins.slice(1).map(() => null),
    ];
  },
  Concat: (g, n, ins, _o, [gy]) => {
    const axis = n.attrs['axis']!.value as number;
    const sizes = ins.map((x) =>
      g.gather(g.shapeOf(x), g.int64s([axis < 0 ? axis + x.shape!.length : axis])),
    );
    let start: Value = g.int64s([0]);
    return ins.map((x, i) => {
      const end = g.add(start, sizes[i]!);
      const part = g.node('Slice', [gy!, start, end, g.int64s([axis])], {}, [
        { dtype: gy!.dtype, shape: x.shape },
      ])[0]!;
      start = end;
      return part;
    });
  },
  Slice: (g, n, [x], _o, [gy]) => {
    // Pad the gradient back to the input's shape with zeros; starts/ends/axes are constants.
    const starts = constInts(g, n.inputs[1]!);
    const ends = constInts(g, n.inputs[2]!);
    const axes = constInts(g, n.inputs[3]!);
    const rank = x!.shape!.length;
    const dims = g.shapeOf(x!);
    const before: Value[] = [];
    const after: Value[] = [];
    for (let i = 0; i < rank; i++) {
      const j = axes.findIndex((a) => (a < 0 ? a + rank : a) === i);
      if (j < 0) {
        before.push(g.int64s([0]));
        after.push(g.int64s([0]));
        continue;
      }
      const dim = g.gather(dims, g.int64s([i]));
      const norm = (v: number) => (v < 0 ? g.add(dim, g.int64s([v])) : g.min(dim, g.int64s([v])));
      const s = norm(starts[j]!);
      before.push(s);
      after.push(g.sub(dim, g.max(s, norm(ends[j]!))));
    }
    const pads = g.concat([...before, ...after], 0);
    return [g.node('Pad', [gy!, pads], {}, [{ dtype: gy!.dtype, shape: x!.shape }])[0]!, null, null, null];
  },
};

/**
 * GELU as `Graph.gelu` writes it, y = (x · 0.5) · (erf(x / √2) + 1): when node `n` is its last Mul
 * and the intermediates feed nothing else, the values one rule needs, else undefined.
 */
function matchGelu(
  g: Graph,
  n: Node,
  producer: ReadonlyMap<string, Node>,
  uses: ReadonlyMap<string, number>,
): { x: Value; u: Value; a: Value } | undefined {
  if (n.opType !== 'Mul') return undefined;
  const isConst = (name: string | undefined, v: number) => {
    const t = name === undefined ? undefined : g.initializers.get(name);
    return !!t && (t.type === 'float32' || t.type === 'float64') && t.data.length === 1 && t.data[0] === v;
  };
  const from = (name: string | undefined, op: string) => {
    const p = name === undefined ? undefined : producer.get(name);
    return p?.opType === op && uses.get(name!) === 1 ? p : undefined;
  };
  const half = from(n.inputs[0], 'Mul');
  const add = from(n.inputs[1], 'Add');
  const erf = from(add?.inputs[0], 'Erf');
  const div = from(erf?.inputs[0], 'Div');
  if (!half || !add || !erf || !div) return undefined;
  const x = half.inputs[0]!;
  if (div.inputs[0] !== x || !isConst(half.inputs[1], 0.5) || !isConst(add.inputs[1], 1)) return undefined;
  if (!isConst(div.inputs[1], Math.fround(Math.SQRT2)) && !isConst(div.inputs[1], Math.SQRT2))
    return undefined;
  return { x: g.value(x), u: g.value(div.outputs[0]!), a: g.value(add.outputs[0]!) };
}

/**
 * GELU's gradient in one rule from the forward's u = x/√2 and a = erf(u) + 1: gy · (a/2 + x·φ(x)),
 * φ(x) = exp(−u²)/√(2π) computed as exp(ln(1/√(2π)) − u²) — 7 elementwise ops over the FFN's
 * widest tensor where the per-node rules make 10.
 */
function geluVjp(g: Graph, { x, u, a }: { x: Value; u: Value; a: Value }, gy: Value): Value {
  const xPdf = g.mul(g.exp(g.sub(g.scalar(-0.5 * Math.log(2 * Math.PI)), g.mul(u, u))), x);
  return g.mul(gy, g.add(g.mul(a, g.scalar(0.5)), xPdf));
}

/** Ops whose outputs carry no gradient (integer or boolean results, or selection indices). */
const nonDifferentiable = new Set([
  'TopK',
  'Shape',
  'Size',
  'Equal',
  'Less',
  'Greater',
  'Not',
  'And',
  'ConstantOfShape',
  'Range',
  'ArgMax',
]);

function constFloat(g: Graph, name: string): number {
  const t = g.initializers.get(name);
  if (!t || (t.type !== 'float32' && t.type !== 'float64')) {
    throw new LatError('UNSUPPORTED', `autodiff needs '${name}' to be a constant float`);
  }
  return Number(t.data[0]);
}

function constInts(g: Graph, name: string): number[] {
  const t = g.initializers.get(name);
  if (t?.type !== 'int64')
    throw new LatError('UNSUPPORTED', `autodiff needs '${name}' to be a constant int64 tensor`);
  return Array.from(t.data as BigInt64Array, Number);
}

/** Options of `grad`. */
export interface GradOptions {
  /**
   * wrt values used only as lookup tables (2-D data of axis-0 Gathers, e.g. word embeddings):
   * instead of a dense `grad.<name>` (a table of zeros with the looked-up rows' gradients added
   * in), the graph returns those rows' gradients `grad.<name>.rows` [N, d] and the rows they
   * belong to `grad.<name>.indices` [N]; `scatterRows` adds them into a table on the host.
   */
  rowGradients?: readonly string[];
}

/**
 * Adds row gradients (`GradOptions.rowGradients`) into `table` [rows × d] in order — the same
 * additions, in the same order, as a dense gradient's ScatterElements(add) into zeros.
 */
export function scatterRows(
  table: Float32Array,
  rows: Float32Array,
  indices: BigInt64Array,
  d: number,
): void {
  for (let r = 0; r < indices.length; r++) {
    const at = Number(indices[r]) * d;
    for (let j = 0; j < d; j++) table[at + j]! += rows[r * d + j]!;
  }
}

/** `grad`'s result: the training graph and, per differentiated value, the name of its gradient output. */
export interface GradResult {
  graph: Graph;
  loss: Value;
  /** Gradients in the order of `wrt`, named `grad.<name>` (row gradients: `grad.<name>.rows`). */
  grads: Value[];
}

/**
 * Differentiates scalar `loss` with respect to `wrt`. Returns a new graph whose outputs are the
 * loss (named `loss` when free), then the gradients (any outputs the forward graph had are kept after them).
 */
export function grad(forward: Graph, loss: Value, wrt: readonly Value[], o: GradOptions = {}): GradResult {
  const g = forward.clone();
  // Lookup tables whose gradient leaves as the looked-up rows' gradients and their indices.
  const rowTables = new Set(o.rowGradients ?? []);
  const rowParts = new Map<string, { rows: Value[]; indices: Value[] }>();
  const forwardNodes = g.nodes.slice();
  // Values that depend on some wrt value: only those can carry a gradient.
  const live = new Set(wrt.map((w) => w.name));
  for (const n of forwardNodes) {
    if (!nonDifferentiable.has(n.opType) && n.inputs.some((i) => live.has(i)))
      for (const o of n.outputs) live.add(o);
  }
  if (!live.has(loss.name))
    throw new LatError('BAD_INPUT', `loss '${loss.name}' does not depend on any wrt value`);

  const grads = new Map<string, Value>();
  const addGrad = (name: string, v: Value) => {
    const prev = grads.get(name);
    grads.set(name, prev ? g.add(prev, v) : v);
  };
  addGrad(loss.name, g.floats(loss.shape?.map(() => 1) ?? [], [1]));

  const producer = new Map<string, Node>();
  const uses = new Map<string, number>();
  for (const n of forwardNodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  }
  for (const o of g.outputs) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);

  for (let k = forwardNodes.length - 1; k >= 0; k--) {
    const n = forwardNodes[k]!;
    if (nonDifferentiable.has(n.opType) || !n.outputs.some((o) => grads.has(o))) continue;
    if (!n.inputs.some((i) => live.has(i))) continue;
    const gelu = matchGelu(g, n, producer, uses);
    if (gelu && grads.has(n.outputs[0]!)) {
      // Its intermediates then get no gradient: their nodes are skipped as they come.
      if (live.has(gelu.x.name)) addGrad(gelu.x.name, geluVjp(g, gelu, grads.get(n.outputs[0]!)!));
      continue;
    }
    const vjp = vjps[n.opType];
    if (!vjp)
      throw new LatError(
        'UNSUPPORTED',
        `autodiff has no gradient for ${n.opType} (node output ${n.outputs[0]})`,
      );
    const ins = n.inputs.map((i) => (i ? g.value(i) : (null as unknown as Value)));
    const outs = n.outputs.map((o) => (o ? g.value(o) : (null as unknown as Value)));
    const gys = n.outputs.map((o) => grads.get(o) ?? null);
    if (n.opType === 'Gather' && rowTables.has(n.inputs[0]!)) {
      const [table, idx] = ins as [Value, Value];
      const d = table.shape?.[1];
      if (table.shape?.length !== 2 || ((n.attrs['axis']?.value as number) ?? 0) !== 0 || !gys[0])
        throw new LatError(
          'UNSUPPORTED',
          `row gradients need a 2-D table looked up on axis 0 (${table.name})`,
        );
      const parts = rowParts.get(table.name) ?? { rows: [], indices: [] };
      parts.rows.push(g.reshape(gys[0], [-1, typeof d === 'number' ? d : 0]));
      parts.indices.push(g.reshape(idx, [-1]));
      rowParts.set(table.name, parts);
      continue;
    }
    const gis = vjp(g, n, ins, outs, gys);
    n.inputs.forEach((name, i) => {
      const gi = gis[i];
      if (gi && live.has(name)) addGrad(name, gi);
    });
  }

  const previousOutputs = g.outputs.splice(0);
  const lossOut = g.output(loss, g.values.has('loss') ? undefined : 'loss');
  const gradOuts = wrt.map((w) => {
    if (rowTables.has(w.name)) {
      if (grads.has(w.name))
        throw new LatError(
          'UNSUPPORTED',
          `${w.name} is used by more than lookups: it needs a dense gradient`,
        );
      const parts = rowParts.get(w.name) ?? { rows: [], indices: [] };
      const d = w.shape![1]!;
      const join = (xs: Value[], empty: () => Value) =>
        xs.length === 0 ? empty() : xs.length === 1 ? xs[0]! : g.concat(xs, 0);
      g.output(
        join(parts.indices, () => g.int64s([])),
        `grad.${w.name}.indices`,
      );
      return g.output(
        join(parts.rows, () => g.floats([0, typeof d === 'number' ? d : 0], [])),
        `grad.${w.name}.rows`,
      );
    }
    const gv = grads.get(w.name) ?? g.zerosLike(w);
    return g.output(gv.shape ? gv : withShape(g, gv, w.shape), `grad.${w.name}`);
  });
  for (const o of previousOutputs) if (o.name !== loss.name) g.outputs.push(o);
  removeDeadNodes(g);
  return { graph: g, loss: lossOut, grads: gradOuts };
}

/**
 * Drops nodes none of whose outputs are used. A rule builds the gradient of every input, also of
 * constants (the 0.5 and √2 of GELU, dropout's scale, attention's 1/√d): those land on nothing,
 * and onnxruntime runs every node it is given — in bert-mini's training graph 73 such nodes,
 * among them 20 ReduceSums of whole activations (the bench's `profile` section measures them).
 */
function removeDeadNodes(g: Graph): void {
  const inputsOf = (n: Node): string[] =>
    n.inputs.concat(
      Object.values(n.attrs).flatMap((a) => (a.type === 'graph' ? a.value.nodes.flatMap(inputsOf) : [])),
    );
  const { alive, read } = liveNodes(
    g.nodes,
    inputsOf,
    (n) => n.outputs,
    g.outputs.map((o) => o.name),
  );
  const kept = g.nodes.filter((_, k) => alive[k]);
  g.nodes.splice(0, g.nodes.length, ...kept);
  // Their constants too: onnxruntime warns about every initializer no node reads.
  for (const name of [...g.initializers.keys()]) if (!read(name)) g.initializers.delete(name);
}

function withShape(g: Graph, v: Value, shape: Shape | undefined): Value {
  return shape ? g.reshape(v, g.shapeOf(v), shape) : v;
}

// ---- losses ----

/** Mean cross-entropy of `logits` [B, C] against int64 class ids `labels` [B]. */
export function crossEntropy(g: Graph, logits: Value, labels: Value): Value {
  const logp = g.logSoftmax(logits, -1);
  const picked = g.gatherElements(logp, g.unsqueeze(labels, [1]), 1);
  return g.neg(g.reduceMean(picked, [0, 1], false));
}

/**
 * Mean over the batch of KL(teacher ‖ student) with teacher probabilities `p` [B, C] (no gradient
 * flows into them) and student logits [B, C], temperature 1 as in LAT's inplace distillation.
 */
export function klDivergence(g: Graph, p: Value, studentLogits: Value): Value {
  const logq = g.logSoftmax(studentLogits, -1);
  const positive = g.greater(p, g.scalar(0));
  const plogp = g.where(positive, g.mul(p, g.log(g.max(p, g.scalar(1e-30)))), g.zerosLike(p));
  const perExample = g.reduceSum(g.sub(plogp, g.mul(p, logq)), [1], false);
  return g.reduceMean(perExample, [0], false);
}

/**
 * Mean over the batch of the reverse KL(student ‖ teacher) = Σ q (log q − log p), q the student's
 * softmax: what the LAT reference's `KLDivLoss(log_softmax(teacher), softmax(student))` computes.
 * Teacher probabilities `p` get no gradient; zeros are floored at 1e-30 inside the log.
 */
export function reverseKlDivergence(g: Graph, p: Value, studentLogits: Value): Value {
  const logq = g.logSoftmax(studentLogits, -1);
  const logp = g.log(g.max(p, g.scalar(1e-30)));
  const perExample = g.reduceSum(g.mul(g.exp(logq), g.sub(logq, logp)), [1], false);
  return g.reduceMean(perExample, [0], false);
}

/** Mean squared error for regression heads ([B, 1] predictions vs [B] targets). */
export function meanSquaredError(g: Graph, pred: Value, target: Value): Value {
  const d = g.sub(g.squeeze(pred, [1]), target);
  return g.reduceMean(g.mul(d, d), [0], false);
}
