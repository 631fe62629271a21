/**
 * SQuAD-style features: `[CLS] question [SEP] context-window [SEP]` (RoBERTa:
 * `<s> question </s></s> context-window </s>`, one token type). Long contexts are split into
 * overlapping windows whose starts are `docStride` tokens apart (as in the original BERT SQuAD
 * code); every context token keeps its character span in the original context.
 */
import { LatError, type Tokenizer } from '@lat/core';

/** Window sizes: tokens per window, stride between windows, question length limit. */
export interface FeatureOptions {
  maxSeqLength?: number;
  docStride?: number;
  maxQueryLength?: number;
}

/** One window of a question + context: its ids and the character offsets of its context tokens. */
export interface Feature {
  /** Which window of the example this is. */
  window: number;
  ids: number[];
  typeIds: number[];
  /** 1 for context tokens, 0 for question tokens, -1 for special tokens. */
  sequenceIds: number[];
  /** Character span in the context for context tokens; [0, 0] elsewhere. */
  offsets: [number, number][];
  /**
   * Per token: true for a context token this window gives the most context of all windows holding
   * it (min(tokens left, tokens right) + 0.01 · window length, first window on ties: the
   * reference's token_is_max_context); false elsewhere. Decoding only starts answers there.
   */
  maxContext: boolean[];
  /** Training: the answer's token positions in this window, or 0/0 ([CLS]) when it is not inside. */
  startPosition?: number;
  endPosition?: number;
}

/** A question about a context. */
export interface QaExampleInput {
  question: string;
  context: string;
  /** Training only: the answer's first character in the context and its text. */
  answer?: { start: number; text: string };
}

/** Splits a question + context into overlapping windows `docStride` tokens apart (the BERT SQuAD recipe). */
export function buildFeatures(tok: Tokenizer, ex: QaExampleInput, o: FeatureOptions = {}): Feature[] {
  const maxSeq = o.maxSeqLength ?? 384;
  const stride = o.docStride ?? 128;
  const maxQuery = o.maxQueryLength ?? 64;
  if (!ex.question.trim()) throw new LatError('BAD_INPUT', 'the question is empty', 'question');
  if (!ex.context.trim()) throw new LatError('BAD_INPUT', 'the context is empty', 'context');
  const question = tok.tokenize(ex.question).slice(0, maxQuery);
  const context = tok.tokenize(ex.context);
  const room = maxSeq - question.length - 2 - tok.pairSeparator.length;
  if (room < 1)
    throw new LatError('BAD_INPUT', `maxSeqLength ${maxSeq} leaves no room for the context`, 'maxSeqLength');
  if (stride < 1) throw new LatError('BAD_INPUT', 'docStride must be ≥ 1', 'docStride');

  let answerTokens: [number, number] | undefined;
  if (ex.answer) {
    const { start, text } = ex.answer;
    const end = start + text.length;
    if (start < 0 || end > ex.context.length || ex.context.slice(start, end) !== text) {
      throw new LatError(
        'BAD_DATA',
        `the answer '${text}' is not at character ${start} of the context`,
        'answer_start',
      );
    }
    const first = context.findIndex((p) => p.end > start);
    let last = -1;
    for (let i = context.length - 1; i >= 0; i--) {
      if (context[i]!.start < end) {
        last = i;
        break;
      }
    }
    if (first < 0 || last < first)
      throw new LatError('BAD_DATA', `the answer '${text}' covers no token`, 'answer_start');
    answerTokens = [first, last];
  }

  // As the original BERT code does, a stride longer than a window is cut to it: no token is skipped.
  const step = Math.min(stride, room);
  const begins: number[] = [];
  for (let begin = 0; ; begin += step) {
    begins.push(begin);
    if (begin + room >= context.length) break;
  }
  const spans = begins.map((begin) => ({ begin, length: Math.min(room, context.length - begin) }));
  const features: Feature[] = [];
  spans.forEach(({ begin }, w) => {
    const window = context.slice(begin, begin + room);
    const f: Feature = { window: w, ids: [], typeIds: [], sequenceIds: [], offsets: [], maxContext: [] };
    const push = (id: number, type: number, seq: number, off: [number, number], max = false) => {
      f.ids.push(id);
      f.typeIds.push(type);
      f.sequenceIds.push(seq);
      f.offsets.push(off);
      f.maxContext.push(max);
    };
    push(tok.clsId, 0, -1, [0, 0]);
    for (const p of question) push(p.id, 0, 0, [0, 0]);
    for (const id of tok.pairSeparator) push(id, 0, -1, [0, 0]);
    const contextStart = f.ids.length;
    window.forEach((p, j) =>
      push(p.id, tok.secondTypeId, 1, [p.start, p.end], maxContextWindow(spans, step, begin + j) === w),
    );
    push(tok.sepId, tok.secondTypeId, -1, [0, 0]);
    if (answerTokens) {
      const [a, b] = answerTokens;
      const inside = a >= begin && b < begin + window.length;
      f.startPosition = inside ? contextStart + a - begin : 0;
      f.endPosition = inside ? contextStart + b - begin : 0;
    }
    features.push(f);
  });
  return features;
}

/**
 * The window that gives context token `t` the most context on both sides (first on ties). Window
 * w begins at w · step and is no longer than the first window, so only the windows from
 * ⌊(t − first's length) / step⌋ to ⌊t / step⌋ can hold t: looking at those alone keeps building
 * the windows of a long context linear in its length (all windows for every token was quadratic).
 */
function maxContextWindow(
  spans: readonly { begin: number; length: number }[],
  step: number,
  t: number,
): number {
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  const last = Math.min(spans.length - 1, Math.floor(t / step));
  for (let w = Math.max(0, Math.floor((t - spans[0]!.length) / step)); w <= last; w++) {
    const { begin, length } = spans[w]!;
    if (t < begin || t >= begin + length) continue;
    const score = Math.min(t - begin, begin + length - 1 - t) + 0.01 * length;
    if (score > bestScore) {
      bestScore = score;
      best = w;
    }
  }
  return best;
}
