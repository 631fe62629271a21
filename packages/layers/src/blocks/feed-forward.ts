import type { Value } from '@lat/core';
import type { Blocks, FirstRowOf } from './context.js';

/**
 * The feed-forward sub-block with its residual and LayerNorm (canonical BERT names under `prefix`);
 * `of`: x is the first row of the layer's rows (see `FirstRowOf`).
 */
export function feedForward(b: Blocks, x: Value, prefix: string, of?: FirstRowOf): Value {
  const y = b.linear(b.activation(b.linear(x, `${prefix}.intermediate.dense`)), `${prefix}.output.dense`);
  return b.layerNorm(b.g.add(b.dropout(y, b.config.hiddenDropout, of), x), `${prefix}.output.LayerNorm`);
}
