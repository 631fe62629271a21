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
  /** Indices of the batch's examples in the training set (per-example targets are indexed by them). */
  examples: readonly number[];
  /** Optimizer steps taken so far and the current epoch (annealing schedules). */
  step: number;
  epoch: number;
}

export interface ObjectivePass<S> {
  setting: S;
  /** Loss weight per term name (`task`, `distillation`, or the reducer's own terms). */
  lossWeights: Readonly<Record<string, number>>;
  /**
   * The weights this pass's gradients go to (default: all). Methods whose parameter groups
   * minimise different losses (AdapLeR: the model CE + KL, the thresholds CE + length) run one
   * pass per group.
   */
  updates?: (name: string) => boolean;
}

/**
 * Weights an objective trains with their own Adam settings: learning rate `learningRate` on the
 * run's schedule, no weight decay, left out of the gradient-norm clipping of the others, and
 * projected by `project` after every step (AdapLeR's η: clipped to [0.01, 1]).
 */
export interface OwnParameters {
  owns(name: string): boolean;
  learningRate: number;
  project(name: string, data: Float32Array): void;
}

export interface Objective<S> {
  readonly name: string;
  /** The reducer the training graph is built with; null: none (a plain encoder, no selection ops). */
  readonly reducer: TokenReducer<S> | null;
  /** Passes per batch. */
  readonly passes: number;
  /** Pass whose outputs become the (detached) distillation teacher of the passes after it. */
  readonly teacherPass?: number;
  /** The setting and loss weights of one pass; called in pass order, so it may draw from `rng`. */
  pass(ctx: PassContext): ObjectivePass<S>;
  /** Weights with an optimiser setting of their own. */
  readonly ownParameters?: OwnParameters;
  /**
   * The score `keep: 'best'` maximises over epochs' dev metrics (default: the task's selection
   * metric, see `selectionMetric`).
   */
  selectionScore?(metrics: Record<string, number>): number;
}
