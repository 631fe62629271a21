/**
 * AdapLeR training (REFERENCE.md §3): the encoder, classifier and Contribution Predictors train
 * jointly on CE + γ Σ_i (L − i)·KL_i; the thresholds η on CE + φ · mean_b Σ_i n_i with their own
 * Adam (lr 5e-4, no weight decay, clipped to [0.01, 1] after every step). The two groups minimise
 * different losses, so each batch runs two passes through the same graph — one whose gradients
 * go to the model's weights, one whose gradients go to η — as the reference's two gradient tapes.
 * The removal function's λ is annealed: `first` on the first step, then `base · growth^epoch`.
 */

import { LatError, type Runtime, type StateDict } from '@lat/core';
import {
  type AdaplerSetting,
  adapler,
  adaplerReducer,
  createAnytimeModel,
  etaRange,
  isAdaplerThreshold,
  lengthReport,
  type ModelConfig,
  taskLoss,
} from '@lat/layers';
import type { Encoded } from '../batches.js';
import { evaluate } from '../evaluate.js';
import { type MetricName, selectionMetric } from '../metrics.js';
import type { Objective, ObjectivePass } from './objective.js';

/** λ of the soft removal: `first` at step 0, then `base · growth^epoch`. */
export interface LambdaSchedule {
  first: number;
  base: number;
  growth: number;
}

/** The reference's schedule for 5 epochs: 1000, then 10 · 10^epoch. */
export const defaultLambdaSchedule: LambdaSchedule = { first: 1000, base: 10, growth: 10 };

/**
 * λ's schedule for a run of `epochs`, so that the last epoch trains at λ ≈ 1e5, close to the hard
 * removal evaluation uses. The reference switches its schedule on the epoch count: 3 epochs
 * 50 · 50^epoch, 10 epochs 10 · 3^epoch, otherwise 10 · 10^epoch (1e5 at the 5th). Other counts
 * here grow from 10 to 1e5 over the run, which is the 5-epoch schedule.
 */
export function lambdaScheduleFor(epochs: number): LambdaSchedule {
  if (epochs === 3) return { first: 1000, base: 50, growth: 50 };
  if (epochs === 10) return { first: 1000, base: 10, growth: 3 };
  return { first: 1000, base: 10, growth: 10 ** (4 / Math.max(1, epochs - 1)) };
}

/** Optimizer steps of the reference's SST-2 run: 67,349 rows in batches of 32, 5 epochs. */
export const referenceSteps = 5 * Math.ceil(67_349 / 32);

/**
 * η's learning rate for a run of `steps` optimizer steps. Adam moves each η by about its
 * learning rate per step whatever the size of its gradient, so φ only decides the direction and
 * the learning rate × steps decides how far η can go: the reference's 5e-4 over 10,525 steps
 * lets η cross its [0.01, 1] range several times, the same 5e-4 over a few hundred steps moves it
 * by < 0.1 from 0.25 and nothing is removed. Shorter runs get the reference's total travel, up
 * to 0.05 (η then still takes 20 steps to cross its range rather than jumping between the clips).
 */
export function etaLearningRateFor(steps: number): number {
  const d = defaultAdaplerConfig.etaLearningRate;
  return Math.min(0.05, d * Math.max(1, referenceSteps / Math.max(1, steps)));
}

/** Parses `first,base,growth` (e.g. `1000,10,10`). */
export function parseLambdaSchedule(text: string): LambdaSchedule {
  const parts = text.split(',').map(Number);
  if (parts.length !== 3 || !parts.every((v) => Number.isFinite(v) && v > 0))
    throw new LatError(
      'BAD_INPUT',
      `expected three positive numbers first,base,growth (λ = first at step 1, then base·growth^epoch), e.g. 1000,10,10; got '${text}'`,
      '--lambda-schedule',
    );
  const [first, base, growth] = parts as [number, number, number];
  return { first, base, growth };
}

export function lambdaAt(s: LambdaSchedule, step: number, epoch: number): number {
  return step === 0 ? s.first : s.base * s.growth ** epoch;
}

/** AdapLeR's training hyper-parameters (the reference's SST-2 values in `defaultAdaplerConfig`). */
export interface AdaplerConfig {
  /** Weight of the (L − i)-weighted KL to the saliency targets, for the model's weights. */
  gamma: number;
  /** Weight of the soft length Σ_i n_i, for the thresholds. */
  phi: number;
  /** The thresholds' Adam learning rate (on the run's warm-up/decay schedule). */
  etaLearningRate: number;
  lambda: LambdaSchedule;
  /**
   * Model selection (the reference's rule): among epochs whose dev selection metric exceeds
   * `baseline − 0.01` (the fine-tuned model's dev score), the one with the highest dev MACs
   * speed-up (`macs_speedup` among the metrics); without one, or when no epoch qualifies, the best metric.
   */
  baseline?: number;
}

export const defaultAdaplerConfig: Omit<AdaplerConfig, 'baseline'> = {
  gamma: 0.005,
  phi: 0.0005,
  etaLearningRate: 5e-4,
  lambda: defaultLambdaSchedule,
};

/**
 * The objective. `saliency[i]` holds training example i's targets, one per token (see
 * `saliencyTargets`); a batch's are padded with zeros.
 */
export function adaplerObjective(
  c: AdaplerConfig,
  saliency: readonly Float32Array[],
): Objective<AdaplerSetting> {
  return {
    name: 'adapler',
    reducer: adaplerReducer,
    passes: 2,
    pass({ index, examples, lengths, seq, step, epoch }): ObjectivePass<AdaplerSetting> {
      const targets = new Float32Array(examples.length * seq);
      examples.forEach((e, b) => {
        const s = saliency[e];
        if (!s || s.length !== lengths[b])
          throw new LatError(
            'BAD_DATA',
            `training example ${e} has ${lengths[b]} tokens but ${s ? `${s.length} saliency targets` : 'no saliency targets'}; the targets come from another data file or max length — compute them for this one`,
            'saliency',
          );
        targets.set(s, b * seq);
      });
      const setting = { lambda: lambdaAt(c.lambda, step, epoch), saliency: targets };
      return index === 0
        ? {
            setting,
            lossWeights: { [taskLoss]: 1, [adapler.klLoss]: c.gamma },
            updates: (name) => !isAdaplerThreshold(name),
          }
        : {
            setting,
            lossWeights: { [taskLoss]: 1, [adapler.lengthLoss]: c.phi },
            updates: isAdaplerThreshold,
          };
    },
    ownParameters: {
      owns: isAdaplerThreshold,
      learningRate: c.etaLearningRate,
      project: (_name, eta) => {
        for (let i = 0; i < eta.length; i++) eta[i] = Math.min(etaRange[1], Math.max(etaRange[0], eta[i]!));
      },
    },
    selectionScore(metrics) {
      const { macs_speedup: speedup, ...rest } = metrics;
      const score = selectionMetric(Object.keys(rest)).of(rest);
      // Qualifying epochs rank above every other, by speed-up; the rest by their score.
      if (c.baseline === undefined || speedup === undefined || !(score > c.baseline - 0.01)) return score;
      return 1e6 + speedup;
    },
  };
}

/**
 * Scores the dev set with hard removal (what `TrainerSetup.evaluateDev` takes): the task's
 * metrics, `macs_speedup` and the mean kept tokens of the first and last layer.
 */
export function adaplerDevEvaluator(
  runtime: Runtime,
  config: ModelConfig,
  dev: readonly Encoded[],
  metrics: readonly MetricName[],
  batchSize = 64,
): (weights: StateDict) => Promise<Record<string, number>> {
  return async (weights) => {
    const model = await createAnytimeModel<AdaplerSetting>(runtime, config, weights, {
      reducer: adaplerReducer,
    });
    try {
      const r = await evaluate(model, dev, metrics, undefined, { batchSize });
      const report = lengthReport(
        config,
        dev.map((e) => e.ids.length),
        r.kept,
      );
      return {
        ...r.metrics,
        macs_speedup: report.macsSpeedup,
        mean_kept_first: report.meanKept[0]!,
        mean_kept_last: report.meanKept.at(-1)!,
      };
    } finally {
      await model.release();
    }
  };
}
