/**
 * The LAT cost model (REFERENCE.md §1): multiply-accumulates of an encoder run at a length
 * configuration. A layer with n_in tokens in and n_out kept costs
 * 4·n_in·d² + 2·n_in²·d + n_in·d + 2·n_out·d·f + n_out·d; the embeddings' LayerNorm adds L·d
 * (L input tokens) and a span head 2·L·d + L. FLOPs are twice the MACs.
 * The "+ L" is not in REFERENCE.md's formula, but the reference's BERT-base check value
 * (35,340,779,904) has exactly one more MAC per input token than the formula gives; we count it
 * with the span head (whose output is split per token) so the check value is met exactly.
 */
/** The model dimensions the cost model needs (a `ModelConfig` has them all). */
export interface CostShape {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
}

/** MACs of each layer for `lengths` (kept per layer) and `seqLen` input tokens. */
export function layerMacs(c: CostShape, seqLen: number, lengths: readonly number[]): number[] {
  const d = c.hiddenSize;
  const f = c.intermediateSize;
  let nIn = seqLen;
  return lengths.map((nOut) => {
    const m = 4 * nIn * d * d + 2 * nIn * nIn * d + nIn * d + 2 * nOut * d * f + nOut * d;
    nIn = nOut;
    return m;
  });
}

/** Total MACs: embeddings LayerNorm + layers (+ the span head with `qaHead`). Full length when `lengths` is omitted. */
export function encoderMacs(
  c: CostShape,
  seqLen: number,
  lengths?: readonly number[],
  o: { qaHead?: boolean } = {},
): number {
  const ls = lengths ?? new Array<number>(c.numLayers).fill(seqLen);
  const layers = layerMacs(c, seqLen, ls).reduce((a, b) => a + b, 0);
  return seqLen * c.hiddenSize + layers + (o.qaHead ? 2 * seqLen * c.hiddenSize + seqLen : 0);
}

/** FLOPs of one encoder pass: twice `encoderMacs` (one multiply and one add per MAC). */
export function encoderFlops(
  c: CostShape,
  seqLen: number,
  lengths?: readonly number[],
  o: { qaHead?: boolean } = {},
): number {
  return 2 * encoderMacs(c, seqLen, lengths, o);
}
