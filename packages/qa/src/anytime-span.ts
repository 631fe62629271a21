import type { AnytimeModel, LengthSpec } from '@lat/layers';
import type { SpanModel } from './answerer.js';
import type { Feature } from './features.js';

/** A span model over an anytime graph with a span head: `{ lengths }` picks the budget. */
export function anytimeSpanModel(model: AnytimeModel): SpanModel<{ lengths?: LengthSpec }> {
  return async (features: Feature[], options) => {
    const out = [];
    for (const f of features) {
      const r = await model.run(
        {
          inputIds: BigInt64Array.from(f.ids, BigInt),
          attentionMask: new BigInt64Array(f.ids.length).fill(1n),
          tokenTypeIds: BigInt64Array.from(f.typeIds, BigInt),
          batch: 1,
        },
        options.lengths,
      );
      out.push({ start: r.startLogits!, end: r.endLogits! });
    }
    return out;
  };
}
