import { checkFinite, type StateDict } from '@lat/core';
import type { AnytimeModel, LatSetting } from '@lat/layers';
import { chunk, type Encoded, padBatch } from './batches.js';
import { computeMetrics, type MetricName } from './metrics.js';

// Moved to @lat/core (inference checks its outputs too); re-exported for training code.
export { checkFinite } from '@lat/core';

export interface EvalResult {
  metrics: Record<string, number>;
  /** Predicted class ids, or scores for regression. */
  predictions: number[];
  /** Tokens each example kept in each layer [example][layer] (reducers that report kept positions). */
  kept: number[][];
}

/** Runs a model over encoded examples at one setting (LAT: a length configuration) and scores it. */
export async function evaluate<S = LatSetting>(
  model: AnytimeModel<S>,
  data: readonly Encoded[],
  metrics: readonly MetricName[],
  lengths?: S,
  o: { batchSize?: number; weights?: StateDict } = {},
): Promise<EvalResult> {
  const regression = model.config.numLabels === 1;
  const predictions: number[] = [];
  const kept: number[][] = [];
  for (const group of chunk(data, o.batchSize ?? 32)) {
    const out = await model.run(padBatch(group), lengths, o.weights);
    const logits = checkFinite(out.logits!);
    const C = model.config.numLabels;
    for (let b = 0; b < group.length; b++) {
      const row = logits.subarray(b * C, (b + 1) * C);
      predictions.push(regression ? row[0]! : argmax(row));
      if (out.keptPositions.length) kept.push(out.keptPositions.map((layer) => layer[b]!.length));
    }
  }
  return {
    metrics: computeMetrics(
      metrics,
      predictions,
      data.map((e) => e.label),
    ),
    predictions,
    kept,
  };
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}
