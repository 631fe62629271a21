/**
 * The LAT cost model (REFERENCE.md §1): multiply-accumulates of an encoder run at a length
 * configuration. A layer with n_in tokens in and n_out kept costs
 * 4·n_in·d² + 2·n_in²·d + n_in·d + 2·n_out·d·f + n_out·d; the embeddings' LayerNorm adds L·d
 * (L input tokens) and a span head 2·L·d + L. FLOPs are twice the MACs.
 * The "+ L" is not in REFERENCE.md's formula, but the reference's BERT-base check value
 * (35,340,779,904) has exactly one more MAC per input token than the formula gives; we count it
 * with the span head (whose output is split per token) so the check value is met exactly.
 *
 * Pruned layers (AxFormer, REFERENCE.md §5) count what is left: with a of the d attention
 * columns kept (a = heads·d/H) the attention block costs 4·n·d·a + 2·n²·a + n·d, nothing when it
 * is removed; a removed feed-forward block costs nothing. Hard attention with k keys per query
 * counts n·min(k, n)·a for probs·V (what a sparse kernel does; the ONNX graph still runs QKᵀ and
 * probs·V dense, so it is a MAC saving, not a measured one). A layer without attention keeps all
 * its tokens (no attention, no significance to reduce by).
 */
/** One encoder layer's surviving structure (AxFormer pruning); absent in a config: the layer is whole. */
export interface LayerShape {
  /** Original indices of the attention heads kept, ascending; empty: the attention block is removed. */
  heads: readonly number[];
  /** false: the feed-forward block is removed (its input passes unchanged). */
  ffn: boolean;
  /** Hard attention: each query attends to its top-k keys only (absent: softmax over all keys). */
  hardAttentionK?: number;
}

/**
 * What is left of each layer, in words (`lat info`, `lat axformer` and the playground), e.g.
 * `heads 0,2 of 4 (removed 1,3), hard attention k=8; FFN removed`.
 */
export function describeLayers(layers: readonly LayerShape[], numHeads: number): string[] {
  return layers.map((l) => {
    const removed = Array.from({ length: numHeads }, (_, h) => h).filter((h) => !l.heads.includes(h));
    const att =
      l.heads.length === 0
        ? 'attention removed'
        : removed.length
          ? `heads ${l.heads.join(',')} of ${numHeads} (removed ${removed.join(',')})`
          : `all ${numHeads} heads`;
    const hard = l.hardAttentionK ? `, hard attention k=${l.hardAttentionK}` : '';
    return `${att}${hard}; FFN ${l.ffn ? 'kept' : 'removed'}`;
  });
}

/**
 * Which parts an AxFormer candidate keeps (REFERENCE.md §5), as the masked search graph takes
 * them: per layer the feed-forward and attention blocks on/off, each of the layer's *remaining*
 * heads on/off, and the hard-attention k (0: softmax over every key).
 */
export interface AxformerMasks {
  ffn: readonly boolean[];
  attention: readonly boolean[];
  heads: readonly (readonly boolean[])[];
  hardAttentionK: readonly number[];
}

/** The model dimensions the cost model needs (a `ModelConfig` has them all). */
export interface CostShape {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  /** Needed with `layers` (the width of one head is hiddenSize / numHeads). */
  numHeads?: number;
  /** Per layer, what survives pruning; absent: every layer whole. */
  layers?: readonly LayerShape[];
}

/** MACs of each layer for `lengths` (kept per layer) and `seqLen` input tokens. */
export function layerMacs(c: CostShape, seqLen: number, lengths: readonly number[]): number[] {
  const d = c.hiddenSize;
  const f = c.intermediateSize;
  let nIn = seqLen;
  return lengths.map((kept, i) => {
    const shape = c.layers?.[i];
    const a = shape ? (shape.heads.length * d) / (c.numHeads ?? 1) : d;
    const nOut = shape && a === 0 ? nIn : kept;
    const keys = shape?.hardAttentionK ? Math.min(shape.hardAttentionK, nIn) : nIn;
    const attention = a === 0 ? 0 : 4 * nIn * d * a + nIn * nIn * a + nIn * keys * a + nIn * d;
    const ffn = shape?.ffn === false ? 0 : 2 * nOut * d * f + nOut * d;
    nIn = nOut;
    return attention + ffn;
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
