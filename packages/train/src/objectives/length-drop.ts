/**
 * LengthDrop (REFERENCE.md §1): per batch the full model learns the task and becomes the teacher;
 * the smallest sub-model and `numSandwich` random ones (lengths sampled per example) learn from it
 * by distillation (the sandwich rule with inplace distillation). Losses are scaled by 1/passes.
 * With `null` it is plain fine-tuning: one full-length pass on the task, through a graph without
 * LAT's selection ops (at full length they select every row, in order: the same loss and gradients).
 */

import { sampleLengths, smallestLengths } from '@lat/core';
import { distillationLoss, type LatSetting, latReducer, taskLoss } from '@lat/layers';
import type { Objective } from './objective.js';

/** LengthDrop during training: the length bounds and how many random sub-models join the sandwich. */
export interface LengthDropConfig {
  /** length_drop_ratio_bound p: each layer keeps at least ceil((1 − p) · previous). */
  ratioBound: number;
  minLength: number;
  /** Random sub-models per batch besides the full and the smallest one. */
  numSandwich: number;
}

/** How LengthDrop draws a pass's lengths (see `TrainOptions.lengthSampling`). */
export type LengthSampling = 'per-example' | 'per-batch';

export function lengthDropObjective(
  ld: LengthDropConfig | null,
  sampling: LengthSampling = 'per-example',
): Objective<LatSetting> {
  const passes = ld ? ld.numSandwich + 2 : 1;
  return {
    name: ld ? 'length-drop' : 'plain',
    reducer: ld ? latReducer : null,
    passes,
    teacherPass: 0,
    pass({ index, lengths, seq, numLayers, layerOn, rng }) {
      const counts = passLengths(index, lengths, seq, numLayers, ld, layerOn, sampling, () => rng.next());
      return {
        setting: { form: 'counts', counts },
        lossWeights:
          index === 0
            ? { [taskLoss]: 1 / passes, [distillationLoss]: 0 }
            : { [taskLoss]: 0, [distillationLoss]: 1 / passes },
      };
    },
  };
}

/**
 * Keep counts [example][layer] of one sandwich pass: pass 0 is the full model, pass 1 the smallest,
 * later passes random sub-models (all full without LengthDrop). Lengths are drawn over the layers
 * that run (a LayerDrop-skipped layer passes all its input tokens through), per example over its
 * real length or, 'per-batch', once over the padded length `seq` for every example.
 */
export function passLengths(
  pass: number,
  lengths: readonly number[],
  seq: number,
  layers: number,
  ld: LengthDropConfig | null,
  layerOn: readonly boolean[],
  sampling: LengthSampling,
  random: () => number,
): number[][] {
  const draw = (n: number) =>
    pass === 0 || !ld
      ? new Array<number>(layers).fill(n)
      : pass === 1
        ? smallestLengths(n, layers, ld, layerOn)
        : sampleLengths(n, layers, random, ld, layerOn);
  if (sampling === 'per-batch') {
    const shared = draw(seq);
    return lengths.map(() => [...shared]);
  }
  return lengths.map(draw);
}
