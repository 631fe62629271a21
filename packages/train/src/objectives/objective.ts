/**
 * A training objective: what one batch's passes are for a token-reduction method. The trainer
 * runs `passes` forward/backward passes through one training graph per batch, each at the
 * reducer setting and loss weights `pass` returns, accumulates the gradients and takes one
 * optimizer step. A method adds a reducer (in @lat/layers) and an objective here; the trainer
 * loop does not change.
 */

import type { Rng } from '@lat/core';
import type { ReducerBatch, TokenReducer } from '@lat/layers';

export interface PassContext {
  /** Which pass of the batch, from 0. */
  index: number;
  /** Real (unpadded) length of each example. */
  lengths: readonly number[];
  /** The batch's padded length. */
  seq: number;
  numLayers: number;
  /** LayerDrop's switches for this pass (drawn before it): a skipped layer passes its input through. */
  layerOn: readonly boolean[];
  batch: ReducerBatch;
  /** The run's seeded generator (checkpointed: draw only from it). */
  rng: Rng;
}

export interface ObjectivePass<S> {
  setting: S;
  /** Loss weight per term name (`task`, `distillation`, or the reducer's own terms). */
  lossWeights: Readonly<Record<string, number>>;
}

export interface Objective<S> {
  readonly name: string;
  /** The reducer the training graph is built with. */
  readonly reducer: TokenReducer<S>;
  /** Passes per batch. */
  readonly passes: number;
  /** Pass whose outputs become the (detached) distillation teacher of the passes after it. */
  readonly teacherPass?: number;
  /** The setting and loss weights of one pass; called in pass order, so it may draw from `rng`. */
  pass(ctx: PassContext): ObjectivePass<S>;
}
