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

export interface Answer {
  text: string;
  /** Character range [start, end) in the context; -1/-1 for "no answer". */
  start: number;
  end: number;
  score: number;
  /** The window (feature) the answer was read from; -1 for "no answer". */
  window: number;
}

export interface DecodeOptions {
  maxAnswerLength?: number;
  /** SQuAD v2: answer "" when the null score ([CLS]) beats the best span by more than this. */
  nullThreshold?: number;
  /** How many answers to return, best first (one per window at most). */
  nBest?: number;
}

/** The best answers over every window of one example, mapped back to the original context. */
export function decodeAnswers(
  context: string,
  features: readonly { sequenceIds: number[]; offsets: [number, number][] }[],
  logits: readonly { start: ArrayLike<number>; end: ArrayLike<number> }[],
  o: DecodeOptions = {},
): Answer[] {
  const spans: Answer[] = [];
  let nullScore = Number.POSITIVE_INFINITY;
  features.forEach((f, i) => {
    const { start, end } = logits[i]!;
    nullScore = Math.min(nullScore, start[0]! + end[0]!);
    const s = bestSpan(start, end, f.sequenceIds, f.offsets, o.maxAnswerLength ?? 30);
    if (s)
      spans.push({
        text: context.slice(s.start, s.end),
        start: s.start,
        end: s.end,
        score: s.score,
        window: i,
      });
  });
  spans.sort((a, b) => b.score - a.score);
  const best = spans.slice(0, o.nBest ?? 1);
  if (o.nullThreshold !== undefined && (!best[0] || nullScore - best[0].score > o.nullThreshold)) {
    return [{ text: '', start: -1, end: -1, score: nullScore, window: -1 }, ...best].slice(0, o.nBest ?? 1);
  }
  return best;
}
