import type { Value } from '@lat/core';
import type { Blocks } from './context.js';

/** What self-attention gives the rest of a layer: its output states and the probabilities reducers score from. */
export interface AttentionResult {
  /** States after attention, its output projection, residual and LayerNorm [B, n, d]. */
  attended: Value;
  /** Attention probabilities [B, H, n, n] (before dropout). */
  probs: Value;
}

/**
 * Multi-head self-attention over the current tokens with its residual and LayerNorm (canonical
 * BERT names under `prefix`). `mask` [B, n] is 1 for keys that may be attended to; `editScores`
 * lets a reducer change the scores before the softmax (masks, hard attention).
 */
export function selfAttention(
  b: Blocks,
  h: Value,
  mask: Value,
  prefix: string,
  editScores?: (scores: Value) => Value,
): AttentionResult {
  const { g, config: c } = b;
  const d = c.hiddenSize;
  const H = c.numHeads;
  const dh = d / H;
  const heads = (x: Value) => g.transpose(g.reshape(x, [0, 0, H, dh]), [0, 2, 1, 3]); // [B, H, n, dh]
  const q = heads(b.linear(h, `${prefix}.attention.self.query`));
  const k = heads(b.linear(h, `${prefix}.attention.self.key`));
  const v = heads(b.linear(h, `${prefix}.attention.self.value`));
  const keyBias = g.mul(g.sub(g.scalar(1), g.unsqueeze(mask, [1, 2])), g.scalar(-10000)); // [B, 1, 1, n]
  let scores = g.add(g.mul(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), g.scalar(1 / Math.sqrt(dh))), keyBias);
  if (editScores) scores = editScores(scores);
  const probs = g.softmax(scores, -1);
  const ctx = g.reshape(g.transpose(g.matmul(b.dropout(probs, c.attentionDropout), v), [0, 2, 1, 3]), [
    0,
    0,
    d,
  ]);
  const attended = b.layerNorm(
    g.add(b.dropout(b.linear(ctx, `${prefix}.attention.output.dense`), c.hiddenDropout), h),
    `${prefix}.attention.output.LayerNorm`,
  );
  return { attended, probs };
}
