import type { LengthSpec } from '@lat/core';
import { type AnytimeModel, chunk, fitLengths, padBatch } from '@lat/layers';
import type { SpanLogits, SpanModel } from './answerer.js';
import type { Feature } from './features.js';

/** One window's logits and what the anytime graph kept of it. */
export interface AnytimeSpanLogits extends SpanLogits {
  /** Per layer, the window positions kept. */
  keptPositions: number[][];
  /** Per layer, how many positions the graph kept (the keep counts fed to it). */
  keepCounts: number[];
}

/**
 * A span model over an anytime graph with a span head: `{ lengths }` picks the budget. Windows
 * run in padded batches of `batchSize` (similar lengths together, to pad little); each window
 * keeps its own count in ratio form and in absolute form with a padded length, so batching
 * changes no result there.
 */
export function anytimeSpanModel(
  model: AnytimeModel,
  o: { batchSize?: number } = {},
): SpanModel<{ lengths?: LengthSpec }, AnytimeSpanLogits> {
  return async (features: Feature[], options) => {
    // Windows of similar lengths share a batch (little padding); outputs come back in order.
    const order = features.map((_, i) => i).sort((a, b) => features[a]!.ids.length - features[b]!.ids.length);
    const out: AnytimeSpanLogits[] = new Array(features.length);
    for (const group of chunk(order, o.batchSize ?? 8)) {
      const x = padBatch(group.map((i) => features[i]!));
      const r = await model.run(x, fitLengths(options.lengths, x.seq));
      group.forEach((index, b) => {
        const row = (v: Float32Array) => v.subarray(b * x.seq, b * x.seq + features[index]!.ids.length);
        out[index] = {
          start: row(r.startLogits!),
          end: row(r.endLogits!),
          keptPositions: r.keptPositions.map((layer) => layer[b]!),
          keepCounts: r.keepCounts[b]!,
        };
      });
    }
    return out;
  };
}
