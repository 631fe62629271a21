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

/** An answer: its text, its character span in the context and its score. */
export interface Answer {
  text: string;
  /** Character range [start, end) in the context; -1/-1 for "no answer". */
  start: number;
  end: number;
  score: number;
  /** The window (feature) the answer was read from; -1 for "no answer". */
  window: number;
}

/** How spans are decoded: candidates per side and the longest answer in tokens. */
export interface DecodeOptions {
  /** Longest answer in tokens (the reference's max_answer_length, 30). */
  maxAnswerLength?: number;
  /** SQuAD v2: answer "" when the null score ([CLS]) beats the best span by more than this. */
  nullThreshold?: number;
  /**
   * The reference's n_best_size (20): the start and end candidates taken from each window, and
   * the most answers returned, best first.
   */
  nBest?: number;
}

/** A window's logits and what decoding needs to know about its tokens. */
export interface DecodableFeature {
  sequenceIds: number[];
  offsets: [number, number][];
  /**
   * Per token: whether this window gives it the most context of all windows holding it (the
   * reference's token_is_max_context). Answers only start at such tokens; absent: every token.
   */
  maxContext?: boolean[];
}

/** The n-best answers of one example over all its windows, and its null ([CLS]) score. */
export function spanCandidates(
  context: string,
  features: readonly DecodableFeature[],
  logits: readonly { start: ArrayLike<number>; end: ArrayLike<number> }[],
  o: DecodeOptions = {},
): { answers: Answer[]; nullScore: number } {
  const nBest = o.nBest ?? 20;
  const maxLength = o.maxAnswerLength ?? 30;
  const found = new Map<string, Answer>();
  let nullScore = Number.POSITIVE_INFINITY;
  features.forEach((f, i) => {
    const { start, end } = logits[i]!;
    const n = f.sequenceIds.length;
    nullScore = Math.min(nullScore, start[0]! + end[0]!);
    const ends = topIndices(end, n, nBest);
    for (const s of topIndices(start, n, nBest)) {
      if (f.sequenceIds[s] !== 1 || f.maxContext?.[s] === false) continue;
      for (const e of ends) {
        if (f.sequenceIds[e] !== 1 || e < s || e - s + 1 > maxLength) continue;
        const a = {
          text: '',
          start: f.offsets[s]![0],
          end: f.offsets[e]![1],
          score: start[s]! + end[e]!,
          window: i,
        };
        const key = `${a.start}:${a.end}`;
        if ((found.get(key)?.score ?? Number.NEGATIVE_INFINITY) < a.score) found.set(key, a);
      }
    }
  });
  const answers = [...found.values()]
    .sort((a, b) => b.score - a.score)
    .slice(0, nBest)
    .map((a) => ({ ...a, text: context.slice(a.start, a.end) }));
  return { answers, nullScore };
}

/**
 * Positions of the k largest values among the first n, largest first (the lower position first on
 * ties). One pass that keeps the best k so far: it reads each value once, where sorting all n
 * positions of a 4k-token window cost more than the model's pooled layers.
 */
function topIndices(v: ArrayLike<number>, n: number, k: number): number[] {
  const top: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = v[i]!;
    if (top.length === k && !(x > values[k - 1]!)) continue;
    let at = top.length === k ? k - 1 : top.length;
    while (at > 0 && x > values[at - 1]!) {
      top[at] = top[at - 1]!;
      values[at] = values[at - 1]!;
      at--;
    }
    top[at] = i;
    values[at] = x;
  }
  return top;
}

/**
 * The best answers of one example over every window, decoded as the reference pipeline does
 * (n-best start/end candidates, max answer length, max-context starts), mapped back to the
 * original context; with a null threshold, "" first when the null score wins by more than it.
 */
export function decodeAnswers(
  context: string,
  features: readonly DecodableFeature[],
  logits: readonly { start: ArrayLike<number>; end: ArrayLike<number> }[],
  o: DecodeOptions = {},
): Answer[] {
  const { answers, nullScore } = spanCandidates(context, features, logits, o);
  if (o.nullThreshold !== undefined && (!answers[0] || nullScore - answers[0].score > o.nullThreshold)) {
    return [{ text: '', start: -1, end: -1, score: nullScore, window: -1 }, ...answers].slice(
      0,
      o.nBest ?? 20,
    );
  }
  return answers;
}
