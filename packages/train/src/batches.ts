import type { Tokenizer } from '@lat/core';
import type { Encoded } from '@lat/layers';
import type { Example } from './data/examples.js';

// Padding and batching live in @lat/layers (inference uses them too); re-exported for training code.
export { chunk, type Encoded, padBatch } from '@lat/layers';

/** Tokenises examples once; the result is reused for every epoch and evaluation. */
export function encodeExamples(
  examples: readonly Example[],
  tokenizer: Tokenizer,
  maxLength: number,
): Encoded[] {
  return examples.map((e) => {
    const enc = tokenizer.encode(e.textA, e.textB, { maxLength });
    return { ids: enc.ids, typeIds: enc.typeIds, label: e.label };
  });
}
