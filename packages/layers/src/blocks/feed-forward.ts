import type { Value } from '@lat/core';
import type { Blocks } from './context.js';

/** The feed-forward sub-block with its residual and LayerNorm (canonical BERT names under `prefix`). */
export function feedForward(b: Blocks, x: Value, prefix: string): Value {
  const y = b.linear(b.activation(b.linear(x, `${prefix}.intermediate.dense`)), `${prefix}.output.dense`);
  return b.layerNorm(b.g.add(b.dropout(y, b.config.hiddenDropout), x), `${prefix}.output.LayerNorm`);
}
