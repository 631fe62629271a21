/**
 * Trainable pooling (REFERENCE.md §4) trains end to end on the task loss alone: one pass per
 * batch through the pooled encoder; the scorers learn through the merge weights of the top-k.
 */

import { LatError, type LengthSpec } from '@lat/core';
import { type ModelConfig, poolingReducer, taskLoss } from '@lat/layers';
import type { Objective } from './objective.js';

export function poolingObjective(config: ModelConfig): Objective<LengthSpec | undefined> {
  if (!config.pooling)
    throw new LatError('BAD_CONFIG', 'pooling training needs a pooling schedule (--pooling)', 'pooling');
  return {
    name: 'pooling',
    reducer: poolingReducer(config.pooling),
    passes: 1,
    pass: () => ({ setting: undefined, lossWeights: { [taskLoss]: 1 } }),
  };
}
