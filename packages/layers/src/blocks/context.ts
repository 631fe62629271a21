/** The small toolbox every encoder part builds with: weights by name, linear, LayerNorm, dropout. */
import type { Graph, Tensor32, Value } from '@lat/core';
import { LatError } from '@lat/core';
import type { ModelConfig } from '../architectures/index.js';
import { type Int8Weights, isQuantizedLinear, type ModelDtype, quantizeWeight } from '../quantize.js';

/** Where the graph gets a weight: an initializer (inference/export) or a graph input (training). */
export interface WeightSource {
  param(name: string, tensor: Tensor32): Value;
  /**
   * A linear's weight [out, in] stored as MatMul reads it, [in, out], under `name` (sources that
   * can: initializers). Without it a linear reads its weight through a Transpose, which ORT folds
   * at load into a new tensor — one per If branch holding the linear, so a graph whose layers are
   * built twice (the full-length branch) held their weights twice; and even a graph without
   * branches kept ~220 MB more resident at bert-base than with the weight stored transposed.
   */
  transposed?(name: string, tensor: Tensor32): Value;
}

/** Weights as initializers of the graph (inference and export); `get` reads a tensor back. */
export function initializerWeights(
  g: Graph,
  weights: Map<string, Tensor32>,
): WeightSource & { get(name: string): Tensor32 } {
  return {
    get: (name) => weights.get(name)!,
    param: (name, t) => g.initializer(name, { type: 'float32', dims: t.dims, data: t.data }),
    transposed(name, t) {
      const [rows, cols] = t.dims as [number, number];
      const data = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++)
        for (let k = 0; k < cols; k++) data[k * rows + r] = t.data[r * cols + k]!;
      return g.initializer(name, { type: 'float32', dims: [cols, rows], data });
    },
  };
}

/**
 * The rows a value was cut to: `x` is the first of `rows` rows along `axis` of the tensor it
 * stands for (a classification graph's last layer computes only [CLS]'s row).
 */
export interface FirstRowOf {
  axis: number;
  /** int64 scalar: the rows of the whole tensor. */
  rows: Value;
}

/** Dropout masks drawn from a fixed random table at offsets the host feeds, so runs are reproducible. */
export interface Dropout {
  /** With `of`: the mask the whole tensor would get, cut to `x`'s row, so cutting changes no mask. */
  apply(g: Graph, x: Value, p: number, of?: FirstRowOf): Value;
}

/** What every encoder part builds with: the graph, the config, weights by name and the common layers. */
export interface Blocks {
  g: Graph;
  config: ModelConfig;
  /** A weight by its canonical name; each weight becomes one graph value, however often it is asked for. */
  param(name: string): Value;
  /** x · `name.weight`ᵀ + `name.bias`. */
  linear(x: Value, name: string): Value;
  /** LayerNorm with `name.weight`, `name.bias` and the config's epsilon. */
  layerNorm(x: Value, name: string): Value;
  /** Dropout with rate p in training graphs; the identity at inference. */
  dropout(x: Value, p: number, of?: FirstRowOf): Value;
  /** The configured hidden activation. */
  activation(x: Value): Value;
  /**
   * A value derived from others, built once per branch however often it is asked for under the
   * same `key` (a q8 linear's quantised input, attention's key bias of one mask).
   */
  once<T>(key: string, build: () => T): T;
  /**
   * Starts building another If branch: ops made in one branch cannot be shared with the other,
   * so the values `once` built are dropped. Weights stay shared.
   */
  branch(): void;
}

/**
 * The toolbox for one graph: `weights` by canonical name, put into the graph by `w` (initializers
 * or training inputs), and `dropout` for training graphs (none at inference).
 */
export function blocks(
  g: Graph,
  c: ModelConfig,
  weights: Map<string, Tensor32>,
  w: WeightSource,
  dropout?: Dropout,
  dtype: ModelDtype = 'fp32',
  int8Weights: Int8Weights = 'per-channel-7bit',
): Blocks {
  const values = new Map<string, Value>();
  const param = (name: string) => {
    let v = values.get(name);
    if (!v) {
      const t = weights.get(name);
      if (!t) throw new LatError('MISSING_TENSORS', `weight ${name} is missing; check the checkpoint`, name);
      v = w.param(name, t);
      values.set(name, v);
    }
    return v;
  };
  const derived = new Map<string, unknown>();
  const once = <T>(key: string, build: () => T): T => {
    if (!derived.has(key)) derived.set(key, build());
    return derived.get(key) as T;
  };
  // fp32 linears' weights [in, out] (sources that store them so), by linear name.
  const transposedWeights = new Map<string, Value>();
  const floatLinear = (x: Value, name: string) => {
    const weight = weights.get(`${name}.weight`);
    if (!w.transposed || !weight || weight.dims.length !== 2)
      return g.linear(x, param(`${name}.weight`), param(`${name}.bias`));
    let wt = transposedWeights.get(name);
    if (!wt) {
      wt = w.transposed(`${name}.weight_t`, weight);
      transposedWeights.set(name, wt);
    }
    return g.add(g.matmul(x, wt), param(`${name}.bias`));
  };
  const quantizedWeights = new Map<string, [Value, Value]>();
  const quantizedLinear = (x: Value, name: string) => {
    const weight = weights.get(`${name}.weight`);
    if (!weight)
      throw new LatError('MISSING_TENSORS', `weight ${name}.weight is missing; check the checkpoint`, name);
    let quantized = quantizedWeights.get(name);
    if (!quantized) {
      const q = quantizeWeight(weight, int8Weights);
      // A per-tensor scale is a scalar, as ORT's quantiser writes it.
      const scaleDims = int8Weights === 'per-tensor-8bit' ? [] : [q.scales.length];
      quantized = [
        g.initializer(`${name}.weight_int8`, { type: 'int8', dims: q.dims, data: q.values }),
        g.initializer(`${name}.weight_scale`, { type: 'float32', dims: scaleDims, data: q.scales }),
      ];
      quantizedWeights.set(name, quantized);
    }
    const [wq, ws] = quantized;
    // Each input is quantised once, however many linears read it (query, key and value share one).
    const [a, aScale, aZero] = once(`quantized:${x.name}`, () => g.dynamicQuantizeLinear(x));
    // MatMulInteger → Cast → Mul(·, aScale · wScale) → Add(bias): the pattern ORT fuses into MatMulIntegerToFloat.
    const y = g.mul(g.cast(g.matmulInteger(a, wq, aZero), 'float32'), g.mul(aScale, ws));
    return g.add(y, param(`${name}.bias`));
  };
  return {
    g,
    config: c,
    param,
    linear: (x, name) =>
      dtype === 'q8' && isQuantizedLinear(name) ? quantizedLinear(x, name) : floatLinear(x, name),
    layerNorm: (x, name) => g.layerNorm(x, param(`${name}.weight`), param(`${name}.bias`), c.layerNormEps),
    dropout: (x, p, of) => (dropout && p > 0 ? dropout.apply(g, x, p, of) : x),
    activation: (x) =>
      c.hiddenAct === 'relu' ? g.relu(x) : g.gelu(x, c.hiddenAct === 'gelu_new' ? 'tanh' : 'erf'),
    once,
    branch: () => derived.clear(),
  };
}
