/**
 * Longer inputs than a checkpoint was trained for: its learned position embeddings are copied
 * over the new positions, block after block (what Longformer and the long-document encoders do
 * before fine-tuning), so position p > 512 starts as p mod 512 — locally the pattern the model
 * knows — and training adapts it. RoBERTa's first `positionOffset` rows (padding) stay unique.
 */
import { LatError, type StateDict } from '@lat/core';
import type { ModelConfig } from './config.js';

const table = 'embeddings.position_embeddings.weight';

export function extendPositions(
  config: ModelConfig,
  weights: StateDict,
  positions: number,
): { config: ModelConfig; weights: StateDict } {
  const rows = positions + config.positionOffset;
  if (rows <= config.maxPositions) return { config, weights };
  const t = weights.get(table);
  if (!t) throw new LatError('MISSING_TENSORS', `weight ${table} is missing; check the checkpoint`, table);
  const d = config.hiddenSize;
  const learned = config.maxPositions - config.positionOffset;
  const data = new Float32Array(rows * d);
  for (let p = 0; p < rows; p++) {
    const from =
      p < config.positionOffset ? p : config.positionOffset + ((p - config.positionOffset) % learned);
    data.set(t.data.subarray(from * d, (from + 1) * d), p * d);
  }
  return {
    config: { ...config, maxPositions: rows },
    weights: new Map(weights).set(table, { dims: [rows, d], data }),
  };
}
