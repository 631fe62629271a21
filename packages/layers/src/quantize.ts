/**
 * int8 dynamic quantisation of the encoder's linear layers. Weights are quantised once, when the
 * graph is built (export): symmetric, one scale per output channel or per tensor ({@link Int8Weights}). Activations are quantised at
 * run time by `DynamicQuantizeLinear` (uint8, per tensor) and multiplied by `MatMulInteger` — plain
 * ONNX ops that onnxruntime-node and onnxruntime-web (wasm) both run, and that ORT's graph
 * optimiser fuses into its `MatMulIntegerToFloat` / `DynamicQuantizeMatMul` kernels in both builds.
 */
import { LatError, type Tensor32 } from '@lat/core';

/** The precision a model's graph computes its encoder's matrix products in. */
export type ModelDtype = 'fp32' | 'q8';
export const modelDtypes: readonly ModelDtype[] = ['fp32', 'q8'];

/** `value` if it is one of `choices`, else a BAD_INPUT error naming `where` and the choices (`use`). */
function oneOf<T extends string>(
  choices: readonly T[],
  value: unknown,
  what: string,
  use: string,
  where: string,
): T {
  if (choices.includes(value as T)) return value as T;
  throw new LatError('BAD_INPUT', `unknown ${what} ${JSON.stringify(value)}; use ${use}`, where);
}

/** Checks a user-given dtype; `where` names the option or flag at fault. */
export function parseModelDtype(value: unknown, where = 'dtype'): ModelDtype {
  return oneOf(
    modelDtypes,
    value,
    'dtype',
    "'fp32' (float32 everywhere) or 'q8' (int8 encoder matrix products)",
    where,
  );
}

/**
 * How a q8 graph stores its int8 weights.
 * - `per-channel-7bit` (the default): one scale per output channel, values in [−63, 63], as ORT's
 *   quantiser does with `per_channel` and `reduce_range`. x86 CPUs without VNNI multiply uint8 ×
 *   int8 pairs with VPMADDUBSW, whose int16 sums saturate at 8-bit weights (255·127·2 > 32767) but
 *   never at 7 bits — so every backend (AVX2, AVX-512 VNNI, AMX, wasm SIMD) accumulates the same
 *   exact integers and gives the same results.
 * - `per-tensor-8bit`: one scale per weight, values in [−127, 127] — the layout transformers.js's
 *   q8 models have (ORT's dynamic quantiser with its defaults: symmetric, scale = max|w| / 127 in
 *   float32, rounding half to even), so its int8 values are the same bytes as theirs. Exact only on
 *   CPUs with an int8 dot product (VNNI, AMX, Arm dotprod) and in wasm; AVX2-only CPUs may saturate.
 */
export type Int8Weights = 'per-channel-7bit' | 'per-tensor-8bit';
export const int8WeightLayouts: readonly Int8Weights[] = ['per-channel-7bit', 'per-tensor-8bit'];

/** Checks a user-given int8 weight layout; `where` names the option or flag at fault. */
export function parseInt8Weights(value: unknown, where = 'int8Weights'): Int8Weights {
  const use = int8WeightLayouts.map((l) => `'${l}'`).join(' or ');
  return oneOf(int8WeightLayouts, value, 'int8 weight layout', use, where);
}

/** The largest int8 magnitude of each layout. */
export const weightQuantMax: Record<Int8Weights, number> = { 'per-channel-7bit': 63, 'per-tensor-8bit': 127 };

/** A linear layer's weight as int8, transposed to [in, out] for MatMulInteger, with its scales. */
export interface QuantizedWeight {
  values: Int8Array;
  dims: [number, number];
  /** One scale per output channel, or a single one (per tensor: a scalar in the graph). */
  scales: Float32Array;
}

/** Rounds to the nearest integer, ties to even (numpy's `rint`, which ORT's quantiser uses). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Quantises a PyTorch-layout weight [out, in]: w[o, i] ≈ values[i, o] · scale (of o, or the tensor's). */
export function quantizeWeight(w: Tensor32, layout: Int8Weights = 'per-channel-7bit'): QuantizedWeight {
  const [out, inp] = w.dims as [number, number];
  const values = new Int8Array(out * inp);
  if (layout === 'per-tensor-8bit') {
    let max = 0;
    for (const v of w.data) max = Math.max(max, Math.abs(v));
    const scale = max > 0 ? Math.fround(max / 127) : 1;
    for (let o = 0; o < out; o++)
      for (let i = 0; i < inp; i++)
        values[i * out + o] = Math.max(
          -127,
          Math.min(127, roundHalfEven(Math.fround(w.data[o * inp + i]! / scale))),
        );
    return { values, dims: [inp, out], scales: Float32Array.of(scale) };
  }
  const scales = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    let max = 0;
    for (let i = 0; i < inp; i++) max = Math.max(max, Math.abs(w.data[o * inp + i]!));
    // An all-zero row stays zero with any scale; 1 keeps the division finite.
    const scale = max > 0 ? max / 63 : 1;
    scales[o] = scale;
    for (let i = 0; i < inp; i++) values[i * out + o] = Math.round(w.data[o * inp + i]! / scale);
  }
  return { values, dims: [inp, out], scales };
}

/** The encoder's own linear layers (attention and feed-forward): the ones a q8 graph quantises. */
export function isQuantizedLinear(name: string): boolean {
  return name.startsWith('encoder.layer.');
}

/**
 * A quantised model answers differently from its fp32 weights, so its frontiers are its own: they
 * are tied to this fingerprint, and an fp32 frontier is refused for it (and the other way round).
 */
export function dtypeFingerprint(fingerprint: string, dtype: ModelDtype): string {
  return dtype === 'q8' ? `${fingerprint}+q8` : fingerprint;
}
