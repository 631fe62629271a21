import type { WordPieceTokenizer } from '@lat/core';
import type { EncodedBatch } from '@lat/layers';
import type { Example } from './data/examples.js';

/** One tokenised example, unpadded. */
export interface Encoded {
  ids: number[];
  typeIds: number[];
  label: number;
  /** Span tasks: the answer's start and end token positions ([CLS] = 0 when absent). */
  span?: [number, number];
}

/** Tokenises examples once; the result is reused for every epoch and evaluation. */
export function encodeExamples(
  examples: readonly Example[],
  tokenizer: WordPieceTokenizer,
  maxLength: number,
): Encoded[] {
  return examples.map((e) => {
    const enc = tokenizer.encode(e.textA, e.textB, { maxLength });
    return { ids: enc.ids, typeIds: enc.typeIds, label: e.label };
  });
}

/** Pads a group of examples to their longest one. */
export function padBatch(items: readonly Encoded[]): EncodedBatch & { seq: number } {
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
