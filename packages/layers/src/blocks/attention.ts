import { type Graph, LatError, type Value } from '@lat/core';
import type { Blocks } from './context.js';
import { dimOf, firstSegment, range } from './rows.js';

/** What self-attention gives the rest of a layer: its output states and the probabilities reducers score from. */
export interface AttentionResult {
  /** States after attention, its output projection, residual and LayerNorm [B, n, d]. */
  attended: Value;
  /** Attention probabilities [B, H, n, n] (before dropout); blockwise: [B, n/c, H, c, c (+ g global)] blocks. */
  probs: Value;
}

/** How one layer's attention is built besides its weights. */
export interface AttentionOptions {
  /** Heads left in the layer after pruning (default: the config's count). */
  heads?: number;
  /** Hard attention: each query keeps its top-k keys (an int64 scalar; 0 keeps every key). */
  hardAttentionK?: Value;
  /** [heads] float, 1 keeps a head's output, 0 silences it (the masked search graph). */
  headMask?: Value;
  /** Lets a reducer change the scores [B, H, n, n] before the softmax (masks, hard attention). */
  editScores?: (scores: Value) => Value;
  /** Blockwise attention in blocks of `chunk` rows (long inputs before pooling). */
  chunk?: number;
  /** With `chunk`: global rows among the first `count` (Longformer-style; see {@link GlobalRows}). */
  global?: GlobalRows;
  /**
   * Only the first row queries (keys and values stay every row): the output is [CLS]'s state
   * [B, 1, d], all a classification head reads of the last layer. Dropout masks are the rows
   * the full layer's masks would give it.
   */
  firstQueryOnly?: boolean;
}

/**
 * Global rows of blockwise attention (the question of long-document QA): `isGlobal` [B, n] is 1
 * for the global rows, all of them among the first `count` rows and 0 from row `count` on.
 * Every row attends to its own block's rows and to the global rows; a global row attends
 * to every row. Global keys are left out of the blocks, so no key counts twice.
 */
export interface GlobalRows {
  count: number;
  isGlobal: Value;
}

/**
 * The global rows of blockwise layers (config `lat_pooling.global_tokens` = `count`): the real
 * tokens [B, n] (`mask`, float) among the first `count` positions that are in the first segment
 * (token type 0: [CLS] question [SEP] in span QA; without token types, every row is).
 */
export function globalRows(
  g: Graph,
  count: number,
  mask: Value,
  positions: Value,
  types?: Value,
): GlobalRows {
  const first = firstSegment(g, mask, types); // [B, n]
  return { count, isGlobal: g.mul(first, g.cast(g.less(positions, g.int64(count)), g.float)) };
}

/**
 * AxFormer's selective hard attention (REFERENCE.md §5): each query keeps the keys whose score
 * reaches its k-th largest (ties kept, [CLS] always), the others get the −10000 of a masked key.
 * `k` is an int64 scalar (a constant or a graph input); 0, or k ≥ n, keeps every key.
 */
export function hardAttention(g: Graph, scores: Value, k: Value): Value {
  const n = dimOf(g, scores, 3);
  const kept = g.where(g.greater(k, g.int64(0)), g.min(k, n), n);
  const [top] = g.topK(scores, g.unsqueeze(kept, [0]), 3); // [B, H, n, k] descending
  const threshold = g.unsqueeze(g.gather(top, g.sub(kept, g.int64(1)), 3), [3]); // [B, H, n, 1]
  const inTopK = g.cast(g.not(g.less(scores, threshold)), g.float);
  const cls = g.cast(g.equal(range(g, n), g.int64(0)), g.float); // [n]
  return g.where(g.greater(g.max(inTopK, cls), g.scalar(0)), scores, g.scalar(-10000));
}

const keyBiasKey = (mask: Value) => `keyBias:${mask.name}`;

/**
 * Attention's additive key bias [B, 1, 1, n] for `mask` [B, n]: −10000 for keys not attended to.
 * Built once per mask: at full length every layer attends over the same one.
 */
export function keyBias(b: Blocks, mask: Value): Value {
  const { g } = b;
  return b.once(keyBiasKey(mask), () =>
    g.mul(g.sub(g.scalar(1), g.unsqueeze(mask, [1, 2])), g.scalar(-10000)),
  );
}

/** Records `bias` as the key bias of `mask` (an If that yields both), so attention reads it instead of building it. */
export function knownKeyBias(b: Blocks, mask: Value, bias: Value): void {
  b.once(keyBiasKey(mask), () => bias);
}

/**
 * Multi-head self-attention over the current tokens with its residual and LayerNorm (canonical
 * BERT names under `prefix`). `mask` [B, n] is 1 for keys that may be attended to.
 */
export function selfAttention(
  b: Blocks,
  h: Value,
  mask: Value,
  prefix: string,
  o: AttentionOptions = {},
): AttentionResult {
  const { g, config: c } = b;
  const d = c.hiddenSize;
  const H = o.heads ?? c.numHeads;
  const dh = d / c.numHeads;
  const of = o.firstQueryOnly ? { rows: dimOf(g, h, 1) } : undefined;
  const queries = of ? g.slice(h, [0], [1], [1]) : h;
  const q = b.linear(queries, `${prefix}.attention.self.query`);
  const k = b.linear(h, `${prefix}.attention.self.key`);
  const v = b.linear(h, `${prefix}.attention.self.value`);
  let ctx: Value;
  let probs: Value;
  if (o.chunk) {
    if (o.editScores || o.hardAttentionK || o.headMask || H !== c.numHeads || of)
      throw new LatError(
        'UNSUPPORTED',
        'blockwise attention cannot take edited scores, hard attention, pruned heads or first-row queries',
        prefix,
      );
    ({ ctx, probs } = blockwise(b, q, k, v, mask, o.chunk, o.global));
  } else {
    const heads = (x: Value) => g.transpose(g.reshape(x, [0, 0, H, dh]), [0, 2, 1, 3]); // [B, H, n, dh]
    let scores = g.add(
      g.mul(g.matmul(heads(q), g.transpose(heads(k), [0, 1, 3, 2])), g.scalar(1 / Math.sqrt(dh))),
      keyBias(b, mask),
    );
    if (o.hardAttentionK) scores = hardAttention(g, scores, o.hardAttentionK);
    if (o.editScores) scores = o.editScores(scores);
    probs = g.softmax(scores, -1);
    const probsOf = of && { axis: 2, rows: of.rows };
    let perHead = g.matmul(b.dropout(probs, c.attentionDropout, probsOf), heads(v)); // [B, H, n, dh]
    if (o.headMask) perHead = g.mul(perHead, g.reshape(o.headMask, [1, H, 1, 1]));
    ctx = g.reshape(g.transpose(perHead, [0, 2, 1, 3]), [0, 0, H * dh]);
  }
  const attended = b.layerNorm(
    g.add(
      b.dropout(
        b.linear(ctx, `${prefix}.attention.output.dense`),
        c.hiddenDropout,
        of && { axis: 1, rows: of.rows },
      ),
      queries,
    ),
    `${prefix}.attention.output.LayerNorm`,
  );
  return { attended, probs };
}

/**
 * Blockwise attention (the long-document encoders' and DeepPyramidion's before pooling): rows
 * attend only within consecutive blocks of `chunk`, so memory and time grow as n·c instead of
 * n². The rows are padded (masked) up to a multiple of the chunk and the padding dropped after.
 * With global rows (g of them at most), every block also attends to the g global keys and the
 * global rows' queries to all n keys: n·(c + g) + g·n instead of n·c.
 */
function blockwise(b: Blocks, q: Value, k: Value, v: Value, mask: Value, chunk: number, global?: GlobalRows) {
  const { g, config: c } = b;
  const d = c.hiddenSize;
  const H = c.numHeads;
  const dh = d / H;
  const n = dimOf(g, q, 1);
  const scale = g.scalar(1 / Math.sqrt(dh));
  const bias = (keep: Value) => g.mul(g.sub(g.scalar(1), keep), g.scalar(-10000));
  const mod = (a: Value, m: number) =>
    g.node('Mod', [a, g.int64(m)], {}, [{ dtype: 'int64', shape: [] }])[0]!;
  const pad = mod(g.sub(g.int64(chunk), mod(n, chunk)), chunk); // rows up to a multiple of the chunk
  const padded = (x: Value) => {
    const rest = x.shape!.slice(2) as number[];
    const batch = g.slice(g.shapeOf(x), [0], [1], [0], [1]);
    const shape = g.concat([batch, g.unsqueeze(pad, [0]), ...(rest.length ? [g.int64s(rest)] : [])], 0);
    return g.concat([x, g.constantOfShape(shape, 0, x.dtype, [x.shape![0]!, g.unknownDim(), ...rest])], 1);
  };
  // [B, n, d] → [B, nb, H, c, dh]
  const blocks = (x: Value) => g.transpose(g.reshape(padded(x), [0, -1, chunk, H, dh]), [0, 1, 3, 2, 4]);
  const heads = (x: Value) => g.transpose(g.reshape(x, [0, 0, H, dh]), [0, 2, 1, 3]); // [B, H, r, dh]
  // Global keys are reached through their own columns, so the blocks leave them out.
  const local = global ? g.mul(mask, g.sub(g.scalar(1), global.isGlobal)) : mask;
  let keep = g.reshape(padded(local), [0, -1, chunk]); // [B, nb, c]
  let keys = blocks(k);
  let values = blocks(v);
  // The first g rows: [B, g, ·] (fewer when n < g).
  const first = (x: Value) => g.slice(x, [0], [global!.count], [1]);
  if (global) {
    // Every block's keys and values get the g global ones after its own: [B, nb, H, c + g, dh].
    const nb = g.unsqueeze(dimOf(g, keep, 1), [0]);
    const everyBlock = (x: Value, rank: number) => {
      const shape = x.shape!.map((dim, i) => (i === 1 ? keep.shape![1]! : dim));
      const ones = (count: number) => (count ? [g.int64s(Array(count).fill(1))] : []);
      return g.expand(x, g.concat([...ones(1), nb, ...ones(rank - 2)], 0), shape);
    };
    const globalHeads = (x: Value) => everyBlock(g.unsqueeze(heads(first(x)), [1]), 5); // [B, nb, H, g, dh]
    keys = g.concat([keys, globalHeads(k)], 3);
    values = g.concat([values, globalHeads(v)], 3);
    keep = g.concat([keep, everyBlock(g.unsqueeze(first(global.isGlobal), [1]), 3)], 2); // [B, nb, c + g]
  }
  const scores = g.add(
    g.mul(g.matmul(blocks(q), g.transpose(keys, [0, 1, 2, 4, 3])), scale),
    bias(g.unsqueeze(keep, [2, 3])), // [B, nb, 1, 1, c (+ g)]
  );
  const probs = g.softmax(scores, -1); // [B, nb, H, c, c (+ g)]
  const out = g.matmul(b.dropout(probs, c.attentionDropout), values); // [B, nb, H, c, dh]
  const rows = g.reshape(g.transpose(out, [0, 1, 3, 2, 4]), [0, -1, d]); // [B, n + pad, d]
  let ctx = g.gather(rows, range(g, n), 1);
  if (global) {
    // The global rows' queries over every key; the other rows keep their blockwise context.
    const all = g.softmax(
      g.add(
        g.mul(g.matmul(heads(first(q)), g.transpose(heads(k), [0, 1, 3, 2])), scale),
        bias(g.unsqueeze(mask, [1, 2])), // [B, 1, 1, n]
      ),
      -1,
    ); // [B, H, g, n]
    const perHead = g.matmul(b.dropout(all, c.attentionDropout), heads(v)); // [B, H, g, dh]
    const globalCtx = g.reshape(g.transpose(perHead, [0, 2, 1, 3]), [0, 0, d]); // [B, g, d]
    const isGlobal = g.greater(g.unsqueeze(first(global.isGlobal), [2]), g.scalar(0)); // [B, g, 1]
    ctx = g.concat(
      [
        g.where(isGlobal, globalCtx, first(ctx)),
        g.slice(ctx, [global.count], [Number.MAX_SAFE_INTEGER], [1]),
      ],
      1,
    );
  }
  return { ctx, probs };
}
