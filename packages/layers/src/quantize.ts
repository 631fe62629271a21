/**
 * int8 dynamic quantisation of the encoder's linear layers. Weights are quantised once, when the
 * graph is built (export): symmetric, one scale per output channel. Activations are quantised at
 * run time by `DynamicQuantizeLinear` (uint8, per tensor) and multiplied by `MatMulInteger` — plain
 * ONNX ops that onnxruntime-node and onnxruntime-web (wasm) both run, and that ORT's graph
 * optimiser fuses into its `MatMulIntegerToFloat` / `DynamicQuantizeMatMul` kernels in both builds.
 */
import { LatError, type Tensor32 } from '@lat/core';

/** The precision a model's graph computes its encoder's matrix products in. */
export type ModelDtype = 'fp32' | 'q8';
export const modelDtypes: readonly ModelDtype[] = ['fp32', 'q8'];

/** Checks a user-given dtype; `where` names the option or flag at fault. */
export function parseModelDtype(value: unknown, where = 'dtype'): ModelDtype {
  if (modelDtypes.includes(value as ModelDtype)) return value as ModelDtype;
  throw new LatError(
    'BAD_INPUT',
    `unknown dtype ${JSON.stringify(value)}; use 'fp32' (float32 everywhere) or 'q8' (int8 encoder matrix products)`,
    where,
  );
}

/**
 * Weights are quantised to 7 bits ([−63, 63]), as ORT's quantiser does with `reduce_range`: x86
 * CPUs without VNNI multiply uint8 × int8 pairs with VPMADDUBSW, whose int16 sums saturate at
 * 8-bit weights (255·127·2 > 32767) but never at 7 bits — so every backend (AVX2, AVX-512 VNNI,
 * AMX, wasm SIMD) accumulates the same exact integers and gives the same results.
 */
export const weightQuantMax = 63;

/** A linear layer's weight as int8, transposed to [in, out] for MatMulInteger, with one scale per output. */
export interface QuantizedWeight {
  values: Int8Array;
  dims: [number, number];
  scales: Float32Array;
}

/** Quantises a PyTorch-layout weight [out, in]: w[o, i] ≈ values[i, o] · scales[o]. */
export function quantizeWeight(w: Tensor32): QuantizedWeight {
  const [out, inp] = w.dims as [number, number];
  const values = new Int8Array(out * inp);
  const scales = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    let max = 0;
    for (let i = 0; i < inp; i++) max = Math.max(max, Math.abs(w.data[o * inp + i]!));
    // An all-zero row stays zero with any scale; 1 keeps the division finite.
    const scale = max > 0 ? max / weightQuantMax : 1;
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
