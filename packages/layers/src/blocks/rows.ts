import { attr, type Graph, type Value } from '@lat/core';

/** 0, 1, …, n − 1 for a scalar int64 `n`, with `dim` as the symbolic size. */
export function range(g: Graph, n: Value, dim: string = g.unknownDim()): Value {
  return g.node('Range', [g.int64(0), n, g.int64(1)], {}, [{ dtype: 'int64', shape: [dim] }])[0]!;
}

/** Dimension `axis` of `x` as a scalar int64. */
export function dimOf(g: Graph, x: Value, axis: number): Value {
  return g.squeeze(g.slice(g.shapeOf(x), [axis], [axis + 1], [0], [1]), [0]);
}

/**
 * [B, n] float: 1 for the first segment's tokens — real (`mask` [B, n] float) and of token type 0
 * (`types` [B, n] int64: [CLS] question [SEP] of a span-QA input). Without token types every real
 * token is.
 */
export function firstSegment(g: Graph, mask: Value, types?: Value): Value {
  return types ? g.mul(mask, g.cast(g.equal(types, g.int64(0)), g.float)) : mask;
}

/** x[b, idx[b, j], :] for x [B, n, d] and idx [B, k]: one Gather over the flattened batch. */
export function gatherRows(g: Graph, x: Value, idx: Value, d: number): Value {
  const rows = g.reshape(x, [-1, d]);
  const starts = g.mul(g.unsqueeze(range(g, dimOf(g, x, 0), 'batch'), [1]), g.unsqueeze(dimOf(g, x, 1), [0]));
  return g.gather(rows, g.add(idx, starts), 0);
}

/**
 * The same rows as {@link gatherRows} in two ops (Unsqueeze, GatherND over the batch) instead of
 * a dozen: what a batch-1 run of a small model pays per reducing layer. Inference graphs only:
 * autodiff has no rule for GatherND.
 */
export function gatherRowsByBatch(g: Graph, x: Value, idx: Value): Value {
  const shape = x.shape && idx.shape ? [x.shape[0]!, idx.shape[1]!, x.shape[2]!] : undefined;
  return g.node('GatherND', [x, g.unsqueeze(idx, [2])], { batch_dims: attr.int(1) }, [
    { dtype: x.dtype, shape },
  ])[0]!;
}
