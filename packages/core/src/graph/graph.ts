/**
 * A small typed IR for ONNX graphs. Values carry a dtype and a (partly symbolic) shape; nodes are
 * kept in the order they were added, which is a topological order, so the autodiff pass can walk
 * them backwards. `toModelProto` (serialize.ts) turns a Graph into ONNX bytes for onnxruntime.
 */
import { LatError } from '../errors.js';
import type { DType, HostTensor } from '../runtime.js';

/** A dimension: a number when known, a name when symbolic ('batch', or '?3' for unknown). */
export type Dim = number | string;
/** A value's shape: one `Dim` per axis. */
export type Shape = Dim[];

/** A named value in a graph: graph input, initializer or node output. */
export interface Value {
  readonly name: string;
  readonly dtype: DType;
  /** Undefined when the rank itself is unknown. */
  readonly shape: Shape | undefined;
}

/** An ONNX node attribute, typed so ints and floats serialise as ONNX expects. */
export type Attr =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'ints'; value: number[] }
  | { type: 'floats'; value: number[] }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: HostTensor }
  | { type: 'graph'; value: Subgraph };

/**
 * A branch body (ONNX If's then/else): nodes that read values of the enclosing graph by name, and
 * the values the branch yields. Its names come from the enclosing graph, so they never clash.
 */
export interface Subgraph {
  readonly name: string;
  readonly nodes: readonly Node[];
  readonly outputs: readonly Value[];
}

/** Attribute constructors: ONNX needs to know int from float, which JS numbers don't say. */
export const attr = {
  int: (value: number): Attr => ({ type: 'int', value }),
  float: (value: number): Attr => ({ type: 'float', value }),
  ints: (value: number[]): Attr => ({ type: 'ints', value }),
  floats: (value: number[]): Attr => ({ type: 'floats', value }),
  string: (value: string): Attr => ({ type: 'string', value }),
  tensor: (value: HostTensor): Attr => ({ type: 'tensor', value }),
};

/** One ONNX node: operator, input and output value names, attributes. */
export interface Node {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Readonly<Record<string, Attr>>;
}

/** The float types a graph can compute in (its `scalar` constants use the graph's). */
export type FloatType = 'float32' | 'float64';

/** A typed ONNX graph under construction: inputs, initializers, nodes in topological order and outputs; op helpers infer shapes; `toModelProto` serialises it. */
export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers = new Map<string, HostTensor>();
  readonly values = new Map<string, Value>();
  private counter = 0;

  /** `float` is the dtype of weights and activations; float64 graphs are used to check gradients. */
  constructor(
    readonly name = 'lat',
    readonly float: FloatType = 'float32',
  ) {}

  clone(): Graph {
    const g = new Graph(this.name, this.float);
    g.nodes.push(...this.nodes);
    g.inputs.push(...this.inputs);
    g.outputs.push(...this.outputs);
    for (const [k, v] of this.initializers) g.initializers.set(k, v);
    for (const [k, v] of this.values) g.values.set(k, v);
    g.counter = this.counter;
    return g;
  }

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  /** A unique symbolic dim for a size nothing at build time knows. */
  unknownDim(): string {
    return `?${this.counter++}`;
  }

  value(name: string): Value {
    const v = this.values.get(name);
    if (!v) throw new LatError('BAD_INPUT', `no value named '${name}' in graph '${this.name}'`);
    return v;
  }

  private define(name: string, dtype: DType, shape: Shape | undefined): Value {
    if (this.values.has(name)) {
      throw new LatError('BAD_INPUT', `graph '${this.name}' already has a value named '${name}'`);
    }
    const v: Value = { name, dtype, shape };
    this.values.set(name, v);
    return v;
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = this.define(name, dtype, shape);
    this.inputs.push(v);
    return v;
  }

  /** A named constant tensor stored in the model (weights for inference, constants). */
  initializer(name: string, tensor: HostTensor): Value {
    const v = this.define(name, tensor.type, [...tensor.dims]);
    this.initializers.set(name, tensor);
    return v;
  }

  output(v: Value, name?: string): Value {
    let out = v;
    if (name && name !== v.name) {
      out = this.define(name, v.dtype, v.shape);
      this.nodes.push({ opType: 'Identity', inputs: [v.name], outputs: [name], attrs: {} });
    }
    this.outputs.push(out);
    return out;
  }

  /**
   * Appends a node. `outs` gives each output's dtype and shape (the typed helpers below infer them).
   * Returns the output values in order.
   */
  node(
    opType: string,
    inputs: readonly (Value | null)[],
    attrs: Record<string, Attr>,
    outs: readonly { dtype: DType; shape: Shape | undefined; name?: string }[],
  ): Value[] {
    const outputs = outs.map((o) =>
      this.define(o.name ?? this.fresh(opType.toLowerCase()), o.dtype, o.shape),
    );
    this.nodes.push({
      opType,
      inputs: inputs.map((i) => (i ? i.name : '')),
      outputs: outputs.map((o) => o.name),
      attrs,
    });
    return outputs;
  }

  /**
   * ONNX If: runs `thenBranch`'s nodes when `cond` (a bool scalar) holds, else `elseBranch`'s.
   * Both build into this graph through the usual helpers and return values of the same dtypes;
   * their nodes are moved into the If node's subgraphs (constants stay in this graph, where the
   * branches read them as outer-scope values). Inference only: autodiff has no rule for If.
   * `name` names the branches `<name>/then` and `<name>/else` (default: fresh names), so the If
   * can be found in the serialised model (see `inlineIfBranches`).
   */
  ifElse(cond: Value, thenBranch: () => Value[], elseBranch: () => Value[], name?: string): Value[] {
    const capture = (name: string, build: () => Value[]): Subgraph => {
      const start = this.nodes.length;
      // Each yielded value gets its own Identity, so a branch may also yield an outer value.
      const outputs = build().map(
        (v) => this.node('Identity', [v], {}, [{ dtype: v.dtype, shape: v.shape }])[0]!,
      );
      return { name, nodes: this.nodes.splice(start), outputs };
    };
    const then = capture(name ? `${name}/then` : this.fresh('then'), thenBranch);
    const otherwise = capture(name ? `${name}/else` : this.fresh('else'), elseBranch);
    if (
      then.outputs.length !== otherwise.outputs.length ||
      then.outputs.some((v, i) => v.dtype !== otherwise.outputs[i]!.dtype)
    ) {
      throw new LatError('BAD_INPUT', 'the branches of an If must yield values of the same dtypes');
    }
    return this.node(
      'If',
      [cond],
      { then_branch: { type: 'graph', value: then }, else_branch: { type: 'graph', value: otherwise } },
      then.outputs.map((v, i) => ({
        dtype: v.dtype,
        shape: this.mergeShapes(v.shape, otherwise.outputs[i]!.shape),
      })),
    );
  }

  /** The shape both branches agree on: equal dims kept, differing ones symbolic; undefined across ranks. */
  private mergeShapes(a: Shape | undefined, b: Shape | undefined): Shape | undefined {
    if (!a || !b || a.length !== b.length) return undefined;
    return a.map((d, i) => (d === b[i] ? d : this.unknownDim()));
  }

  // ---- constants ----

  /** A float constant of the graph's float type. */
  scalar(x: number): Value {
    return this.constTensor(this.float, [], [x]);
  }

  floats(dims: number[], values: number[]): Value {
    return this.constTensor(this.float, dims, values);
  }

  int64s(values: readonly number[], dims: number[] = [values.length]): Value {
    return this.constTensor('int64', dims, values);
  }

  int64(x: number): Value {
    return this.constTensor('int64', [], [x]);
  }

  private constTensor(type: DType, dims: number[], values: readonly number[]): Value {
    let data: HostTensor['data'];
    if (type === 'int64') data = BigInt64Array.from(values.map((v) => BigInt(v)));
    else if (type === 'float64') data = Float64Array.from(values);
    else if (type === 'float32') data = Float32Array.from(values);
    else if (type === 'bool') data = Uint8Array.from(values);
    else throw new LatError('UNSUPPORTED', `constants of type ${type} are not supported`);
    return this.initializer(this.fresh('const'), { type, dims, data } as HostTensor);
  }

  // ---- elementwise ----

  private binary(op: string, a: Value, b: Value, outType?: DType): Value {
    if (!outType && a.dtype !== b.dtype) {
      throw new LatError(
        'BAD_SHAPE',
        `${op}: operand types differ (${a.dtype} vs ${b.dtype}); insert a Cast`,
      );
    }
    return this.node(op, [a, b], {}, [
      { dtype: outType ?? a.dtype, shape: broadcast(op, a.shape, b.shape) },
    ])[0]!;
  }

  add(a: Value, b: Value): Value {
    return this.binary('Add', a, b);
  }
  sub(a: Value, b: Value): Value {
    return this.binary('Sub', a, b);
  }
  mul(a: Value, b: Value): Value {
    return this.binary('Mul', a, b);
  }
  div(a: Value, b: Value): Value {
    return this.binary('Div', a, b);
  }
  pow(a: Value, b: Value): Value {
    return this.binary('Pow', a, b);
  }
  equal(a: Value, b: Value): Value {
    return this.binary('Equal', a, b, 'bool');
  }
  less(a: Value, b: Value): Value {
    return this.binary('Less', a, b, 'bool');
  }
  greater(a: Value, b: Value): Value {
    return this.binary('Greater', a, b, 'bool');
  }
  and(a: Value, b: Value): Value {
    return this.binary('And', a, b, 'bool');
  }
  max(a: Value, b: Value): Value {
    return this.binary('Max', a, b);
  }
  min(a: Value, b: Value): Value {
    return this.binary('Min', a, b);
  }

  unary(op: string, x: Value, attrs: Record<string, Attr> = {}): Value {
    return this.node(op, [x], attrs, [{ dtype: op === 'Not' ? 'bool' : x.dtype, shape: x.shape }])[0]!;
  }
  neg(x: Value) {
    return this.unary('Neg', x);
  }
  exp(x: Value) {
    return this.unary('Exp', x);
  }
  log(x: Value) {
    return this.unary('Log', x);
  }
  sqrt(x: Value) {
    return this.unary('Sqrt', x);
  }
  tanh(x: Value) {
    return this.unary('Tanh', x);
  }
  erf(x: Value) {
    return this.unary('Erf', x);
  }
  relu(x: Value) {
    return this.unary('Relu', x);
  }
  sigmoid(x: Value) {
    return this.unary('Sigmoid', x);
  }
  not(x: Value) {
    return this.unary('Not', x);
  }
  identity(x: Value) {
    return this.unary('Identity', x);
  }
  softmax(x: Value, axis = -1) {
    return this.unary('Softmax', x, { axis: attr.int(axis) });
  }
  logSoftmax(x: Value, axis = -1) {
    return this.unary('LogSoftmax', x, { axis: attr.int(axis) });
  }

  cast(x: Value, to: DType): Value {
    return this.node('Cast', [x], { to: attr.int(onnxTypeCode(to)) }, [{ dtype: to, shape: x.shape }])[0]!;
  }

  where(cond: Value, a: Value, b: Value): Value {
    if (a.dtype !== b.dtype)
      throw new LatError('BAD_SHAPE', `Where: branch types differ (${a.dtype} vs ${b.dtype})`);
    const shape = broadcast('Where', broadcast('Where', cond.shape, a.shape), b.shape);
    return this.node('Where', [cond, a, b], {}, [{ dtype: a.dtype, shape }])[0]!;
  }

  // ---- linear algebra ----

  matmul(a: Value, b: Value): Value {
    if (a.dtype !== b.dtype)
      throw new LatError('BAD_SHAPE', `MatMul: operand types differ (${a.dtype} vs ${b.dtype})`);
    let shape: Shape | undefined;
    if (a.shape && b.shape) {
      const ra = a.shape.length;
      const rb = b.shape.length;
      if (ra < 2 || rb < 2)
        throw new LatError('BAD_SHAPE', `MatMul: operands must have rank ≥ 2 (got ${ra} and ${rb})`);
      const k1 = a.shape[ra - 1]!;
      const k2 = b.shape[rb - 2]!;
      if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
        throw new LatError('BAD_SHAPE', `MatMul: inner dims differ: [${a.shape}] × [${b.shape}]`);
      }
      const batch = broadcast('MatMul', a.shape.slice(0, -2), b.shape.slice(0, -2))!;
      shape = [...batch, a.shape[ra - 2]!, b.shape[rb - 1]!];
    }
    return this.node('MatMul', [a, b], {}, [{ dtype: a.dtype, shape }])[0]!;
  }

  /**
   * DynamicQuantizeLinear: `x` as uint8 with a per-tensor scale and zero point computed at run
   * time from its own range. Returns [quantised, scale, zeroPoint].
   */
  dynamicQuantizeLinear(x: Value): [Value, Value, Value] {
    const [q, scale, zero] = this.node('DynamicQuantizeLinear', [x], {}, [
      { dtype: 'uint8', shape: x.shape },
      { dtype: 'float32', shape: [] },
      { dtype: 'uint8', shape: [] },
    ]);
    return [q!, scale!, zero!];
  }

  /** MatMulInteger: uint8 `a` (minus `aZero`) × int8 `b` [K, N] with zero point 0, accumulated in int32. */
  matmulInteger(a: Value, b: Value, aZero: Value): Value {
    const shape = a.shape && b.shape ? [...a.shape.slice(0, -1), b.shape.at(-1)!] : undefined;
    return this.node('MatMulInteger', [a, b, aZero], {}, [{ dtype: 'int32', shape }])[0]!;
  }

  /** x · Wᵀ + b with a PyTorch-layout weight [out, in] (the transpose is folded by ORT). */
  linear(x: Value, weight: Value, bias?: Value): Value {
    const y = this.matmul(x, this.transpose(weight, [1, 0]));
    return bias ? this.add(y, bias) : y;
  }

  // ---- shape ops ----

  transpose(x: Value, perm: number[]): Value {
    const shape = x.shape ? perm.map((p) => x.shape![p]!) : undefined;
    return this.node('Transpose', [x], { perm: attr.ints(perm) }, [{ dtype: x.dtype, shape }])[0]!;
  }

  /** Reshape to a constant target (0 copies a dim, -1 infers one), or to a runtime shape value. */
  reshape(x: Value, target: readonly number[] | Value, shape?: Shape): Value {
    let out = shape;
    let t: Value;
    if (Array.isArray(target)) {
      t = this.int64s(target as number[]);
      out ??= (target as number[]).map((d, i) =>
        d === 0 ? (x.shape?.[i] ?? this.unknownDim()) : d === -1 ? this.unknownDim() : d,
      );
    } else {
      t = target as Value;
    }
    return this.node('Reshape', [x, t], {}, [{ dtype: x.dtype, shape: out }])[0]!;
  }

  unsqueeze(x: Value, axes: number[]): Value {
    let shape: Shape | undefined;
    if (x.shape) {
      const rank = x.shape.length + axes.length;
      const norm = axes.map((a) => (a < 0 ? a + rank : a));
      shape = [];
      let j = 0;
      for (let i = 0; i < rank; i++) shape.push(norm.includes(i) ? 1 : x.shape[j++]!);
    }
    return this.node('Unsqueeze', [x, this.int64s(axes)], {}, [{ dtype: x.dtype, shape }])[0]!;
  }

  squeeze(x: Value, axes: number[]): Value {
    const rank = x.shape?.length;
    const norm = rank === undefined ? axes : axes.map((a) => (a < 0 ? a + rank : a));
    const shape = x.shape?.filter((_, i) => !norm.includes(i));
    return this.node('Squeeze', [x, this.int64s(axes)], {}, [{ dtype: x.dtype, shape }])[0]!;
  }

  shapeOf(x: Value): Value {
    return this.node('Shape', [x], {}, [
      { dtype: 'int64', shape: [x.shape?.length ?? this.unknownDim()] },
    ])[0]!;
  }

  /** Tensor of `shape` (a runtime int64 vector) filled with `value` in dtype `dtype`. */
  constantOfShape(shape: Value, value: number, dtype: DType, staticShape?: Shape): Value {
    const data =
      dtype === 'int64'
        ? BigInt64Array.of(BigInt(value))
        : dtype === 'float64'
          ? Float64Array.of(value)
          : Float32Array.of(value);
    return this.node(
      'ConstantOfShape',
      [shape],
      { value: attr.tensor({ type: dtype, dims: [1], data } as HostTensor) },
      [{ dtype, shape: staticShape }],
    )[0]!;
  }

  zerosLike(x: Value): Value {
    return this.constantOfShape(this.shapeOf(x), 0, x.dtype, x.shape);
  }

  expand(x: Value, shape: Value, staticShape?: Shape): Value {
    return this.node('Expand', [x, shape], {}, [{ dtype: x.dtype, shape: staticShape }])[0]!;
  }

  concat(xs: Value[], axis: number): Value {
    let shape: Shape | undefined;
    const s0 = xs[0]!.shape;
    if (s0 && xs.every((x) => x.shape)) {
      const ax = axis < 0 ? axis + s0.length : axis;
      const dims = xs.map((x) => x.shape![ax]!);
      shape = [...s0];
      shape[ax] = dims.every((d) => typeof d === 'number')
        ? (dims as number[]).reduce((a, b) => a + b, 0)
        : this.unknownDim();
    }
    return this.node('Concat', xs, { axis: attr.int(axis) }, [{ dtype: xs[0]!.dtype, shape }])[0]!;
  }

  /** Slice with constant starts/ends/axes (ends may be huge to mean "to the end"). */
  slice(x: Value, starts: number[], ends: number[], axes: number[], shape?: Shape): Value {
    const out =
      shape ??
      x.shape?.map((d, i) => {
        const j = axes.findIndex((a) => (a < 0 ? a + x.shape!.length : a) === i);
        if (j < 0) return d;
        if (typeof d === 'number') {
          const clamp = (v: number) => Math.max(0, Math.min(d, v < 0 ? v + d : v));
          return Math.max(0, clamp(ends[j]!) - clamp(starts[j]!));
        }
        return this.unknownDim();
      });
    return this.node('Slice', [x, this.int64s(starts), this.int64s(ends), this.int64s(axes)], {}, [
      { dtype: x.dtype, shape: out },
    ])[0]!;
  }

  // ---- gather / scatter / selection ----

  /** Split into `parts` equal pieces along `axis` (static size there). */
  split(x: Value, parts: number, axis = 0): Value[] {
    const size = x.shape?.[axis];
    if (typeof size !== 'number' || size % parts !== 0)
      throw new LatError(
        'BAD_SHAPE',
        `Split: axis ${axis} of [${x.shape}] does not divide into ${parts} parts`,
      );
    const shape = x.shape!.map((d, i) => (i === axis ? size / parts : d));
    const sizes = this.int64s(new Array(parts).fill(size / parts));
    return this.node(
      'Split',
      [x, sizes],
      { axis: attr.int(axis) },
      new Array(parts).fill({ dtype: x.dtype, shape }),
    );
  }

  gather(data: Value, indices: Value, axis = 0): Value {
    let shape: Shape | undefined;
    if (data.shape && indices.shape) {
      const ax = axis < 0 ? axis + data.shape.length : axis;
      shape = [...data.shape.slice(0, ax), ...indices.shape, ...data.shape.slice(ax + 1)];
    }
    return this.node('Gather', [data, indices], { axis: attr.int(axis) }, [{ dtype: data.dtype, shape }])[0]!;
  }

  gatherElements(data: Value, indices: Value, axis: number): Value {
    return this.node('GatherElements', [data, indices], { axis: attr.int(axis) }, [
      { dtype: data.dtype, shape: indices.shape },
    ])[0]!;
  }

  scatterElements(
    data: Value,
    indices: Value,
    updates: Value,
    axis: number,
    reduction: 'none' | 'add' = 'none',
  ): Value {
    return this.node(
      'ScatterElements',
      [data, indices, updates],
      { axis: attr.int(axis), reduction: attr.string(reduction) },
      [{ dtype: data.dtype, shape: data.shape }],
    )[0]!;
  }

  /** TopK along `axis`; `k` is a 1-element int64 tensor (may be a graph input). Returns [values, indices]. */
  topK(
    x: Value,
    k: Value,
    axis = -1,
    opts: { largest?: boolean; sorted?: boolean; kDim?: Dim } = {},
  ): [Value, Value] {
    const kDim = opts.kDim ?? this.unknownDim();
    const shape = x.shape?.map((d, i) => (i === (axis < 0 ? axis + x.shape!.length : axis) ? kDim : d));
    const [v, i] = this.node(
      'TopK',
      [x, k],
      {
        axis: attr.int(axis),
        largest: attr.int(opts.largest === false ? 0 : 1),
        sorted: attr.int(opts.sorted === false ? 0 : 1),
      },
      [
        { dtype: x.dtype, shape },
        { dtype: 'int64', shape },
      ],
    );
    return [v!, i!];
  }

  // ---- reductions ----

  private reduce(op: string, x: Value, axes: number[], keepdims: boolean, axesAsInput: boolean): Value {
    const rank = x.shape?.length;
    const norm = rank === undefined ? axes : axes.map((a) => (a < 0 ? a + rank : a));
    const shape = x.shape
      ? keepdims
        ? x.shape.map((d, i) => (norm.includes(i) ? 1 : d))
        : x.shape.filter((_, i) => !norm.includes(i))
      : undefined;
    const k = { keepdims: attr.int(keepdims ? 1 : 0) };
    return axesAsInput
      ? this.node(op, [x, this.int64s(axes)], k, [{ dtype: x.dtype, shape }])[0]!
      : this.node(op, [x], { ...k, axes: attr.ints(axes) }, [{ dtype: x.dtype, shape }])[0]!;
  }

  // Opset 17: ReduceSum takes axes as an input, ReduceMean/ReduceMax as an attribute.
  reduceSum(x: Value, axes: number[], keepdims = true): Value {
    return this.reduce('ReduceSum', x, axes, keepdims, true);
  }
  reduceMean(x: Value, axes: number[], keepdims = true): Value {
    return this.reduce('ReduceMean', x, axes, keepdims, false);
  }
  reduceMax(x: Value, axes: number[], keepdims = true): Value {
    return this.reduce('ReduceMax', x, axes, keepdims, false);
  }
  reduceMin(x: Value, axes: number[], keepdims = true): Value {
    return this.reduce('ReduceMin', x, axes, keepdims, false);
  }

  // ---- normalisation ----

  /**
   * LayerNormalization over the last axis. In float32 it also returns Mean and InvStdDev for the
   * backward pass; ORT has no float64 statistics outputs, so float64 graphs (gradient checks)
   * return only y and the backward pass recomputes them.
   */
  layerNorm(x: Value, gamma: Value, beta: Value, eps: number): Value {
    const stat = x.shape ? [...x.shape.slice(0, -1), 1] : undefined;
    const attrs = { axis: attr.int(-1), epsilon: attr.float(eps) };
    const outs =
      x.dtype === 'float32'
        ? [
            { dtype: x.dtype, shape: x.shape },
            { dtype: x.dtype, shape: stat },
            { dtype: x.dtype, shape: stat },
          ]
        : [{ dtype: x.dtype, shape: x.shape }];
    return this.node('LayerNormalization', [x, gamma, beta], attrs, outs)[0]!;
  }

  /** ONNX Dropout in training mode: returns the output and the boolean mask (reused by the backward pass). */
  dropout(x: Value, ratio: number, seed: number): [Value, Value] {
    const [y, mask] = this.node(
      'Dropout',
      [x, this.scalar(ratio), this.constTensor('bool', [], [1])],
      { seed: attr.int(seed) },
      [
        { dtype: x.dtype, shape: x.shape },
        { dtype: 'bool', shape: x.shape },
      ],
    );
    return [y!, mask!];
  }

  // ---- composites ----

  /**
   * GELU: exact (erf) as BERT uses, or the tanh approximation ('gelu_new'). Opset 17 has no Gelu
   * op; the erf form is written as (x · 0.5) · (erf(x / √2) + 1), the pattern onnxruntime's
   * GeluFusion matches (it wants Div by √2, not Mul by 1/√2) to run one Gelu kernel — and, with
   * the linear layer's bias Add before it, BiasGelu.
   */
  gelu(x: Value, kind: 'erf' | 'tanh' = 'erf'): Value {
    const half = this.mul(x, this.scalar(0.5));
    if (kind === 'erf') {
      return this.mul(half, this.add(this.erf(this.div(x, this.scalar(Math.SQRT2))), this.scalar(1)));
    }
    const cube = this.mul(this.mul(x, x), x);
    const inner = this.mul(
      this.add(x, this.mul(cube, this.scalar(0.044715))),
      this.scalar(Math.sqrt(2 / Math.PI)),
    );
    return this.mul(half, this.add(this.tanh(inner), this.scalar(1)));
  }
}

/** Numpy-style broadcast of two shapes; throws on known-incompatible dims. */
export function broadcast(op: string, a: Shape | undefined, b: Shape | undefined): Shape | undefined {
  if (!a || !b) return undefined;
  const n = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else if (da === db) out.push(da);
    else if (typeof da === 'number' && typeof db === 'number') {
      throw new LatError('BAD_SHAPE', `${op}: shapes [${a}] and [${b}] do not broadcast`);
    } else out.push(typeof da === 'number' ? da : db);
  }
  return out;
}

const typeCodes: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float64: 11,
};

/** The ONNX `TensorProto.DataType` code of a dtype. */
export function onnxTypeCode(t: DType): number {
  return typeCodes[t];
}
