/**
 * Trainable pooling (REFERENCE.md §4) trains end to end on the task loss: one pass per batch
 * through the pooled encoder; the scorers learn through the merge weights of the top-k. Span
 * tasks may add the auxiliary scorer loss (`scorerLoss` > 0: its weight), which pulls the
 * scorers towards keeping the gold answer's rows (see @lat/layers' `keepSpanLoss`).
 */

import { LatError, type LengthSpec } from '@lat/core';
import { type ModelConfig, poolingReducer, scorerLoss, taskLoss } from '@lat/layers';
import type { Objective } from './objective.js';

export interface PoolingObjectiveOptions {
  /** Weight of the auxiliary scorer loss (span tasks); 0 (the default) builds none. */
  scorerLoss?: number;
}

export function poolingObjective(
  config: ModelConfig,
  o: PoolingObjectiveOptions = {},
): Objective<LengthSpec | undefined> {
  if (!config.pooling)
    throw new LatError('BAD_CONFIG', 'pooling training needs a pooling schedule (--pooling)', 'pooling');
  const weight = o.scorerLoss ?? 0;
  if (!Number.isFinite(weight) || weight < 0)
    throw new LatError('BAD_INPUT', `must be a number ≥ 0, got ${weight}`, 'scorerLoss');
  const lossWeights = { [taskLoss]: 1, ...(weight > 0 ? { [scorerLoss]: weight } : {}) };
  return {
    name: 'pooling',
    reducer: poolingReducer(config.pooling, { scorerLoss: weight > 0 }),
    passes: 1,
    pass: () => ({ setting: undefined, lossWeights }),
  };
}
