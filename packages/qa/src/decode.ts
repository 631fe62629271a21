/** Span decoding: the best (start, end) over context tokens, mapped back to character offsets. */

export interface Span {
  /** Token positions, inclusive. */
  startToken: number;
  endToken: number;
  /** Character range [start, end) in the context string. */
  start: number;
  end: number;
  score: number;
}

/**
 * Highest start + end logit with start ≤ end < start + maxAnswerLength, both inside the context
 * (sequenceIds === 1 marks context tokens in a [CLS] question [SEP] context [SEP] encoding).
 */
export function bestSpan(
  startLogits: ArrayLike<number>,
  endLogits: ArrayLike<number>,
  sequenceIds: readonly number[],
  offsets: readonly (readonly [number, number])[],
  maxAnswerLength = 30,
): Span | undefined {
  let best: Span | undefined;
  for (let s = 0; s < sequenceIds.length; s++) {
    if (sequenceIds[s] !== 1) continue;
    for (let e = s; e < Math.min(sequenceIds.length, s + maxAnswerLength); e++) {
      if (sequenceIds[e] !== 1) break;
      const score = startLogits[s]! + endLogits[e]!;
      if (!best || score > best.score)
        best = { startToken: s, endToken: e, start: offsets[s]![0], end: offsets[e]![1], score };
    }
  }
  return best;
}
