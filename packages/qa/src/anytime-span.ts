import type { AnytimeModel, LengthSpec } from '@lat/layers';
import type { SpanModel } from './answerer.js';
import type { Feature } from './features.js';

/**
 * A span model over an anytime graph with a span head: `{ lengths }` picks the budget. Features
 * run in padded batches of `batchSize` (similar lengths together, to pad little); each example
 * keeps its own count in ratio form, so batching changes no result.
 */
export function anytimeSpanModel(
  model: AnytimeModel,
  o: { batchSize?: number } = {},
): SpanModel<{ lengths?: LengthSpec }> {
  const batchSize = Math.max(1, o.batchSize ?? 32);
  return async (features: Feature[], options) => {
    const out: { start: Float32Array; end: Float32Array }[] = new Array(features.length);
    const order = features.map((_, i) => i).sort((a, b) => features[a]!.ids.length - features[b]!.ids.length);
    for (let i = 0; i < order.length; i += batchSize) {
      const group = order.slice(i, i + batchSize);
      const n = Math.max(...group.map((j) => features[j]!.ids.length));
      const inputIds = new BigInt64Array(group.length * n);
      const attentionMask = new BigInt64Array(group.length * n);
      const tokenTypeIds = new BigInt64Array(group.length * n);
      group.forEach((j, b) => {
        const f = features[j]!;
        f.ids.forEach((id, t) => {
          inputIds[b * n + t] = BigInt(id);
          attentionMask[b * n + t] = 1n;
          tokenTypeIds[b * n + t] = BigInt(f.typeIds[t]!);
        });
      });
      const r = await model.run(
        { inputIds, attentionMask, tokenTypeIds, batch: group.length },
        options.lengths,
      );
      group.forEach((j, b) => {
        const len = features[j]!.ids.length;
        out[j] = {
          start: r.startLogits!.slice(b * n, b * n + len),
          end: r.endLogits!.slice(b * n, b * n + len),
        };
      });
    }
    return out;
  };
}
