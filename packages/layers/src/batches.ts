/**
 * Tokenised examples and the padded batches the anytime graph takes: shared by inference
 * (@lat/pipeline, @lat/qa) and training (@lat/train), so predicting never imports training code.
 */

import type { LengthSpec } from '@lat/core';
import type { EncodedBatch } from './anytime.js';

/** One tokenised example, unpadded. */
export interface Encoded {
  ids: number[];
  typeIds: number[];
  label: number;
  /** Span tasks: the answer's start and end token positions ([CLS] = 0 when absent). */
  span?: [number, number];
}

/** Pads a group of tokenised inputs to their longest one (padding id 0, attention mask 0). */
export function padBatch(
  items: readonly { ids: readonly number[]; typeIds: readonly number[] }[],
): EncodedBatch & { seq: number } {
  const seq = Math.max(...items.map((e) => e.ids.length));
  const inputIds = new BigInt64Array(items.length * seq);
  const attentionMask = new BigInt64Array(items.length * seq);
  const tokenTypeIds = new BigInt64Array(items.length * seq);
  items.forEach((e, b) => {
    for (let j = 0; j < e.ids.length; j++) {
      inputIds[b * seq + j] = BigInt(e.ids[j]!);
      attentionMask[b * seq + j] = 1n;
      tokenTypeIds[b * seq + j] = BigInt(e.typeIds[j]!);
    }
  });
  return { inputIds, attentionMask, tokenTypeIds, batch: items.length, seq };
}

/** Consecutive groups of `size` in the given order (the last may be smaller). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * A configuration for one padded batch of `seq` tokens: absolute keep counts larger than the
 * batch keep all of it (a short input at a long configuration runs at full length). Counts that
 * refer to a padded length stay as they are: each example already keeps min(count, its length).
 */
export function fitLengths(spec: LengthSpec | undefined, seq: number): LengthSpec | undefined {
  return spec?.form === 'absolute' && spec.paddedLength === undefined
    ? { form: 'absolute', lengths: spec.lengths.map((l) => Math.min(l, seq)) }
    : spec;
}
