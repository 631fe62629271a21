/**
 * Differentiable top-k operators for trainable representation pooling (REFERENCE.md §4), built
 * from ordinary ONNX ops so autodiff gives their backward pass and every ORT backend runs them.
 *
 * Successive-halving top-k: each round sorts the rows by score, pairs the j-th best with the j-th
 * worst and merges each pair with weights softmax(20^{s_a}, 20^{s_b}); the merged rows go back to
 * document order (by the position of the pair's best member). Sorting and pairing are TopK and
 * Gather indices, which carry no gradient: scores learn only through the merge weights.
 */
import { LatError } from '../errors.js';
import { broadcast, type Graph, type Value } from './graph.js';

/** What a pooling operator reads: per-example rows ranked by a score. */
export interface PoolingInput {
  /** [B, n] float scores (> 0; the scorer's sigmoid + 1e-5). */
  scores: Value;
  /** [B, n] float: 1 for real rows, 0 for padding (which ranks last and is never merged in). */
  mask: Value;
  /** [B, n] int64: the original position each row stands for. */
  positions: Value;
  /**
   * Row 0 ([CLS]) always ranks first and stays row 0 of the output (for classification heads).
   * Successive halving also keeps it unmerged: its partner each round is dropped.
   */
  keepFirst?: boolean;
  /**
   * [B, n] float: 1 for rows kept intact, as row 0 is with `keepFirst` (e.g. span QA's question):
   * they rank first, take merge weight 1 and their partners are dropped, so each comes out bit-equal
   * to its input; the other k − (kept) rows come from halving the rest. At most k per example
   * (more would not fit: the host checks). Successive halving only.
   */
  kept?: Value;
}

/** A pooling decided on the scores: applies the same merges to any [B, n, d] states. */
export interface PoolingPlan {
  /** [B, n, d] → [B, k, d]: the merged rows, in document order. */
  apply(states: Value): Value;
  /** [B, k] the merged scores. */
  scores: Value;
  /** [B, k] float: 1 where the merged row holds a real row. */
  mask: Value;
  /** [B, k] int64: the original position of each merged row's best member. */
  positions: Value;
}

/** The merge base of the paper: w = softmax(20^{s_a}, 20^{s_b}). */
export const mergeBase = 20;

/** Number of halving rounds from `from` rows to `k`; `from` must be k · 2^r. */
export function halvingRounds(from: number, k: number, where = 'pooling'): number {
  if (!Number.isInteger(k) || k < 1)
    throw new LatError('BAD_INPUT', `pooled width must be a whole number ≥ 1, got ${k}`, where);
  const r = Math.log2(from / k);
  if (!Number.isInteger(r) || r < 0) {
    const options = [from / 2, from / 4, from / 8].filter((x) => Number.isInteger(x) && x >= 1);
    throw new LatError(
      'BAD_INPUT',
      `width ${k} is not reachable by halving ${from} rows (${from}/${k} is not a power of 2); use ${options.join(', ') || from}`,
      where,
    );
  }
  return r;
}

/** An int64 binary op the Graph has no helper for (integer Div). */
const int = (g: Graph, op: string, a: Value, b: Value) =>
  g.node(op, [a, b], {}, [{ dtype: 'int64', shape: broadcast(op, a.shape, b.shape) }])[0]!;

/** 0, 1, …, n − 1 for a scalar int64 n. */
function arange(g: Graph, n: Value): Value {
  return g.node('Range', [g.int64(0), n, g.int64(1)], {}, [{ dtype: 'int64', shape: [g.unknownDim()] }])[0]!;
}

/** x[:, 0:end] along axis 1 for a runtime scalar `end`. */
function head(g: Graph, x: Value, end: Value): Value {
  const shape = x.shape ? [x.shape[0]!, g.unknownDim(), ...x.shape.slice(2)] : undefined;
  return g.node('Slice', [x, g.int64s([0]), g.unsqueeze(end, [0]), g.int64s([1])], {}, [
    { dtype: x.dtype, shape },
  ])[0]!;
}

/** Rows x[b, idx[b, j], :] of [B, n, d] states for idx [B, k]: one Gather on the flattened batch. */
export function gatherRowsOf(g: Graph, x: Value, idx: Value): Value {
  const d = x.shape?.[2];
  if (typeof d !== 'number') throw new LatError('BAD_SHAPE', 'pooling needs states of a known width');
  const shape = g.shapeOf(x);
  const dim = (axis: number) => g.squeeze(g.slice(shape, [axis], [axis + 1], [0], [1]), [0]);
  const starts = g.mul(g.unsqueeze(arange(g, dim(0)), [1]), g.unsqueeze(dim(1), [0]));
  return g.gather(g.reshape(x, [-1, d]), g.add(idx, starts), 0);
}

/**
 * The key rows are ranked by: the score, −1 for padding, 2 for row 0 when it is kept first and
 * for rows marked `kept` (float [B, n]).
 */
function rankKey(g: Graph, scores: Value, mask: Value, keepFirst: boolean, kept?: Value): Value {
  let key = g.where(g.greater(mask, g.scalar(0)), scores, g.scalar(-1));
  if (kept) key = g.where(g.greater(kept, g.scalar(0)), g.scalar(2), key);
  if (!keepFirst) return key;
  const n = g.squeeze(g.slice(g.shapeOf(scores), [1], [2], [0], [1]), [0]);
  return g.where(g.equal(arange(g, n), g.int64(0)), g.scalar(2), key);
}

/**
 * Successive-halving top-k (Pietruszka et al. 2022) from at most `maxRows` rows to `k`
 * (`maxRows` = k · 2^r: r rounds are built). A round on an example's m real rows keeps
 * h = max(⌈m/2⌉, k) rows (h = m once m ≤ k): the m − h worst rows are merged into the best ones,
 * the rest pass through unchanged; at m = k · 2^i that is the paper's exact halving. Two
 * departures, both about padding: inputs shorter than `maxRows` are not padded up with zero
 * vectors (rounds stop merging at k), and padding rows are dropped, never merged into a real
 * one — so an example's result does not depend on its batch. With `keepFirst`, row 0 is kept
 * as it is (its partner each round is dropped); so are the rows marked `kept`. Kept rows rank
 * first, so with q ≤ k of them every round keeps them among its best rows, never as a partner.
 * The output has min(n, k) rows,
 * an example's real ones first (mask 1) in document order; with k ≥ n it is the identity.
 */
export function successiveHalvingTopK(
  g: Graph,
  x: PoolingInput,
  o: { k: number; maxRows: number },
): PoolingPlan {
  const rounds = halvingRounds(o.maxRows, o.k);
  const K = g.int64(o.k);
  const ln = g.scalar(Math.log(mergeBase));
  const steps: { a: Value; b: Value; wa: Value; wb: Value }[] = [];
  let { scores, mask, positions } = x;
  let kept = x.kept && g.mul(x.kept, mask); // padding is never kept
  // Each example halves its own real rows (padding never counts), so a result does not depend
  // on how far its batch was padded; `width` rows per example are shared by the batch.
  const widthOf = (n: Value) => g.min(n, g.max(int(g, 'Div', g.add(n, g.int64(1)), g.int64(2)), K));
  for (let round = 0; round < rounds; round++) {
    const m = g.squeeze(g.slice(g.shapeOf(scores), [1], [2], [0], [1]), [0]);
    const h = widthOf(m); // rows out, for the longest example
    const real = g.cast(g.reduceSum(g.cast(g.greater(mask, g.scalar(0)), 'int64'), [1], true), 'int64'); // [B, 1]
    const keep = widthOf(real); // [B, 1] this example's rows out
    const [, order] = g.topK(rankKey(g, scores, mask, x.keepFirst ?? false, kept), g.unsqueeze(m, [0]), 1);
    const best = head(g, order, h); // [B, h] by score, best first
    // The j-th best pairs with the j-th worst real row while j < real − keep; the other slots pair
    // with themselves, which a merge leaves unchanged. Slots from `keep` on are padding.
    const j = g.unsqueeze(arange(g, h), [0]); // [1, h]
    const merging = g.less(j, g.sub(real, keep)); // [B, h]
    const partnerRank = g.where(merging, g.sub(g.sub(real, g.int64(1)), j), g.add(j, g.zerosLike(real)));
    const partner = g.gatherElements(order, partnerRank, 1); // [B, h]
    const slot = g.less(j, keep); // [B, h]
    // Back to document order by the position (here: row index) of each pair's best member; the
    // padding slots after every real one.
    const docKey = g.where(slot, best, g.add(best, g.unsqueeze(m, [0])));
    const [, perm] = g.topK(g.neg(g.cast(docKey, g.float)), g.unsqueeze(h, [0]), 1);
    const a = g.gatherElements(best, perm, 1);
    const b = g.gatherElements(partner, perm, 1);
    const sa = g.gatherElements(scores, a, 1);
    const sb = g.gatherElements(scores, b, 1);
    // softmax(20^{s_a}, 20^{s_b}) over the pair = sigmoid(20^{s_a} − 20^{s_b}).
    let wa = g.sigmoid(g.sub(g.exp(g.mul(sa, ln)), g.exp(g.mul(sb, ln))));
    // A kept-first row 0 takes weight 1: the [CLS] state the head reads is never averaged with the
    // lowest-scored rows (its partners), which are dropped instead. Merged into [CLS] they made
    // the head's input a blur of 2^r − 1 filler rows, and halving to n/16 did not learn (§4's
    // "blur" pitfall; bench/results/pooling.md).
    // Rows marked `kept` likewise (a kept row is always a pair's best member, never a partner).
    if (x.keepFirst) wa = g.where(g.equal(a, g.int64(0)), g.scalar(1), wa);
    const keptA = kept && g.gatherElements(kept, a, 1);
    if (keptA) wa = g.where(g.greater(keptA, g.scalar(0)), g.scalar(1), wa);
    const wb = g.sub(g.scalar(1), wa);
    steps.push({ a, b, wa: g.unsqueeze(wa, [2]), wb: g.unsqueeze(wb, [2]) });
    scores = g.add(g.mul(wa, sa), g.mul(wb, sb));
    mask = g.mul(g.gatherElements(mask, a, 1), g.gatherElements(g.cast(slot, g.float), perm, 1));
    positions = g.gatherElements(positions, a, 1);
    if (keptA) kept = g.mul(keptA, mask);
  }
  return {
    apply: (states) =>
      steps.reduce(
        (e, s) => g.add(g.mul(s.wa, gatherRowsOf(g, e, s.a)), g.mul(s.wb, gatherRowsOf(g, e, s.b))),
        states,
      ),
    scores,
    mask,
    positions,
  };
}

/**
 * The comparison operator of the paper: iterative softmax top-k. Output t is Σᵢ wᵢ eᵢ with
 * w = softmax(−(s − v_t)²) over the rows not yet taken, v_t the t-th largest score (the k
 * iterations "take the max, then set it to −1e4" computed at once). Rows come back in document
 * order. Which row is the t-th largest is a selection (no gradient); v_t and the weights carry
 * gradient, as autograd's max does.
 * Costs a [k, n] × [n, d] product per example — the expense successive halving avoids.
 */
export function iterativeSoftmaxTopK(g: Graph, x: PoolingInput, o: { k: number }): PoolingPlan {
  if (x.kept)
    throw new LatError(
      'UNSUPPORTED',
      'iterative softmax mixes every row into every output, so it cannot keep rows intact; use successive halving',
      'pooling',
    );
  const key = rankKey(g, x.scores, x.mask, x.keepFirst ?? false);
  const m = g.squeeze(g.slice(g.shapeOf(key), [1], [2], [0], [1]), [0]);
  const k = g.min(g.int64(o.k), m);
  const [, order] = g.topK(key, g.unsqueeze(m, [0]), 1); // [B, n] all rows by score
  // rank[b, i]: where row i comes in the order; row i is taken before iteration t when rank < t.
  const n = arange(g, m);
  const rank = g.scatterElements(
    g.zerosLike(order),
    order,
    g.expand(g.unsqueeze(n, [0]), g.shapeOf(order), order.shape),
    1,
  );
  const top = head(g, order, k); // [B, k]
  const [, perm] = g.topK(g.neg(g.cast(top, g.float)), g.unsqueeze(k, [0]), 1);
  const picked = g.gatherElements(top, perm, 1); // [B, k] in document order
  const t = g.gatherElements(rank, picked, 1); // iteration of each output row
  const masked = g.where(g.greater(x.mask, g.scalar(0)), x.scores, g.scalar(-1e4)); // [B, n]
  const taken = g.less(g.unsqueeze(rank, [1]), g.unsqueeze(t, [2])); // [B, k, n]
  const s = g.where(taken, g.scalar(-1e4), g.unsqueeze(masked, [1]));
  const v = g.unsqueeze(g.gatherElements(masked, picked, 1), [2]); // v_t [B, k, 1]
  const diff = g.sub(s, v);
  const w = g.softmax(g.neg(g.mul(diff, diff)), -1); // [B, k, n]
  return {
    apply: (states) => g.matmul(w, states),
    scores: g.gatherElements(x.scores, picked, 1),
    mask: g.gatherElements(x.mask, picked, 1),
    positions: g.gatherElements(x.positions, picked, 1),
  };
}
