import { Rng } from '@lat/core';
import { describe, expect, it } from 'vitest';
import { bestSpan, spanCandidates } from './decode.js';

describe('bestSpan', () => {
  // [CLS] who ? [SEP] the denver broncos won [SEP]
  const seq = [-1, 0, 0, -1, 1, 1, 1, 1, -1];
  const offsets: [number, number][] = [
    [0, 0],
    [0, 3],
    [3, 4],
    [0, 0],
    [0, 3],
    [4, 10],
    [11, 18],
    [19, 22],
    [0, 0],
  ];
  it('picks the highest-scoring valid span inside the context and maps it to characters', () => {
    const start = [9, 9, 0, 0, 0, 5, 1, 0, 9];
    const end = [9, 0, 9, 0, 0, 1, 4, 0, 9];
    const s = bestSpan(start, end, seq, offsets)!;
    expect([s.startToken, s.endToken, s.start, s.end]).toEqual([5, 6, 4, 18]);
    expect('the denver broncos won'.slice(s.start, s.end)).toBe('denver broncos');
  });
  it('never ends before it starts and respects the maximum length', () => {
    const start = [0, 0, 0, 0, 0, 0, 9, 0, 0];
    const end = [0, 0, 0, 0, 0, 9, 0, 0, 0];
    const s = bestSpan(start, end, seq, offsets, 1)!;
    expect(s.startToken).toBe(s.endToken);
  });
});

describe('decodeAnswers', () => {
  it('answers "" when the null score wins by more than the threshold (SQuAD v2)', async () => {
    const { decodeAnswers } = await import('./decode.js');
    const f = {
      sequenceIds: [-1, 0, -1, 1, 1, -1],
      offsets: [
        [0, 0],
        [0, 0],
        [0, 0],
        [0, 3],
        [4, 8],
        [0, 0],
      ] as [number, number][],
    };
    const logits = { start: [6, 0, 0, 2, 0, 0], end: [6, 0, 0, 0, 2, 0] };
    expect(decodeAnswers('the cafe', [f], [logits])[0]!.text).toBe('the cafe');
    expect(decodeAnswers('the cafe', [f], [logits], { nullThreshold: 0 })[0]!.text).toBe('');
    expect(decodeAnswers('the cafe', [f], [logits], { nullThreshold: 10 })[0]!.text).toBe('the cafe');
  });
});

describe('decoding as the reference pipeline', () => {
  it('starts answers only where the window gives the token the most context (two overlapping windows)', async () => {
    const { WordPieceTokenizer } = await import('@lat/core');
    const { buildFeatures } = await import('./features.js');
    const { decodeAnswers } = await import('./decode.js');
    const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'q', 'a', 'b', 'c', 'd', 'x', 'y'];
    const tok = new WordPieceTokenizer(vocab);
    // 12 context tokens; windows of 8 context tokens, stride 4: [0, 8) and [4, 12).
    const context = 'a b c d a b x d a y c d';
    const features = buildFeatures(tok, { question: 'q', context }, { maxSeqLength: 12, docStride: 4 });
    expect(features).toHaveLength(2);
    const at = (f: number, t: number) => 3 + t - 4 * f; // feature position of context token t
    // 'x' (token 6) sits near window 0's end (1 token right) and mid window 1 (2 left, 5 right).
    expect(features[0]!.maxContext[at(0, 6)]).toBe(false);
    expect(features[1]!.maxContext[at(1, 6)]).toBe(true);
    expect(features[0]!.maxContext[at(0, 2)]).toBe(true); // only in window 0
    const logits = features.map((f) => ({
      start: new Array(f.ids.length).fill(-10),
      end: new Array(f.ids.length).fill(-10),
    }));
    logits[0]!.start[at(0, 6)] = logits[0]!.end[at(0, 6)] = 9; // window 0 is sure of 'x'
    logits[1]!.start[at(1, 9)] = logits[1]!.end[at(1, 9)] = 4; // window 1 prefers 'y'
    expect(decodeAnswers(context, features, logits)[0]!.text).toBe('y');
    // Without the max-context check (exhaustive over windows) window 0's 'x' would win.
    const exhaustive = features.map(({ maxContext: _, ...f }) => f);
    expect(decodeAnswers(context, exhaustive, logits)[0]!.text).toBe('x');
  });

  it('keeps n-best start/end candidates and the maximum answer length', async () => {
    const { decodeAnswers } = await import('./decode.js');
    const n = 40;
    const f = {
      sequenceIds: Array.from({ length: n }, (_, i) => (i === 0 || i === n - 1 ? -1 : 1)),
      offsets: Array.from({ length: n }, (_, i) => [2 * i, 2 * i + 1] as [number, number]),
    };
    const start = Array.from({ length: n }, (_, i) => (i === 1 ? 10 : 0));
    const end = Array.from({ length: n }, (_, i) => (i === 35 ? 10 : i === 5 ? 3 : 0));
    const context = 'x '.repeat(n);
    // 1..35 is 35 tokens, over the maximum of 30: the best allowed span ends at token 5.
    const [best] = decodeAnswers(context, [f], [{ start, end }]);
    expect([best!.start, best!.end]).toEqual([2, 11]);
    expect(decodeAnswers(context, [f], [{ start, end }], { maxAnswerLength: 40 })[0]!.end).toBe(71);
    expect(decodeAnswers(context, [f], [{ start, end }]).length).toBeLessThanOrEqual(20);
  });
});

describe('SQuAD v2 null threshold', () => {
  it('abstains below the threshold and tunes it on dev like the official script', async () => {
    const { tuneNullThreshold } = await import('./squad-eval.js');
    const q = (id: string, answer?: string) => ({
      id,
      question: '?',
      context: 'c',
      answers: answer ? [{ text: answer, answerStart: 0 }] : [],
      isImpossible: !answer,
    });
    const questions = [q('a', 'paris'), q('b', 'rome'), q('c'), q('d')];
    const answers = { a: 'paris', b: 'madrid', c: 'oslo', d: 'bern' };
    // a answers confidently; b is wrong anyway; c and d have no answer.
    const diff = { a: -3, b: 1, c: 2, d: -1 };
    const t = tuneNullThreshold(questions, answers, diff);
    // Answering only a (threshold in [-3, -1)): a right, b abstains (0), c and d abstain (right) → 3/4.
    expect(t).toEqual({ threshold: -3, f1: 75 });
  });
});

describe('n-best candidates of long windows', () => {
  // The decoding before the one-pass top-k: every candidate list from sorting all n positions,
  // the end list sorted again for every start candidate. Kept here as the reference.
  function sortedTop(v: ArrayLike<number>, n: number, k: number): number[] {
    return Array.from({ length: n }, (_, i) => i)
      .sort((a, b) => v[b]! - v[a]! || a - b)
      .slice(0, k);
  }
  function referenceCandidates(
    context: string,
    features: { sequenceIds: number[]; offsets: [number, number][]; maxContext?: boolean[] }[],
    logits: { start: number[]; end: number[] }[],
    nBest: number,
    maxLength: number,
  ) {
    const found = new Map<string, { start: number; end: number; score: number; window: number }>();
    features.forEach((f, i) => {
      const { start, end } = logits[i]!;
      for (const s of sortedTop(start, f.sequenceIds.length, nBest)) {
        if (f.sequenceIds[s] !== 1 || f.maxContext?.[s] === false) continue;
        for (const e of sortedTop(end, f.sequenceIds.length, nBest)) {
          if (f.sequenceIds[e] !== 1 || e < s || e - s + 1 > maxLength) continue;
          const a = { start: f.offsets[s]![0], end: f.offsets[e]![1], score: start[s]! + end[e]!, window: i };
          const key = `${a.start}:${a.end}`;
          if ((found.get(key)?.score ?? Number.NEGATIVE_INFINITY) < a.score) found.set(key, a);
        }
      }
    });
    return [...found.values()]
      .sort((a, b) => b.score - a.score)
      .slice(0, nBest)
      .map((a) => ({ text: context.slice(a.start, a.end), ...a }));
  }
  /** A window of n tokens: 5 question tokens, then context; logits on a coarse grid, so many tie. */
  function window(rng: Rng, n: number) {
    const sequenceIds = Array.from({ length: n }, (_, i) =>
      i === 0 || i === 6 || i === n - 1 ? -1 : i < 6 ? 0 : 1,
    );
    const offsets = sequenceIds.map((s, i) => (s === 1 ? [2 * i, 2 * i + 1] : [0, 0]) as [number, number]);
    const maxContext = sequenceIds.map((s) => s === 1 && rng.next() < 0.8);
    const logit = () => Math.round(rng.normal() * 4) / 2;
    return {
      f: { sequenceIds, offsets, maxContext },
      l: { start: Array.from({ length: n }, logit), end: Array.from({ length: n }, logit) },
    };
  }

  it('gives the same answers, scores and windows as sorting every position', () => {
    const rng = new Rng(7);
    for (const [windows, n, nBest, maxLength] of [
      [1, 4096, 20, 30],
      [3, 300, 20, 30],
      [2, 50, 5, 3],
      [1, 12, 20, 30],
      [2, 64, 0, 30],
    ] as const) {
      const ws = Array.from({ length: windows }, () => window(rng, n));
      const context = 'x '.repeat(n);
      const features = ws.map((w) => w.f);
      const logits = ws.map((w) => w.l);
      const { answers } = spanCandidates(context, features, logits, { nBest, maxAnswerLength: maxLength });
      expect(answers).toEqual(referenceCandidates(context, features, logits, nBest, maxLength));
      if (nBest > 0) expect(answers.length).toBeGreaterThan(0);
    }
  });

  it('reads each logit of a 4096-token window about once (no sort of every position per candidate)', () => {
    const n = 4096;
    const nBest = 20;
    const { f, l } = window(new Rng(3), n);
    let reads = 0;
    const counted = (v: number[]) =>
      new Proxy(v, {
        get(t, key, r) {
          if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
          return Reflect.get(t, key, r);
        },
      });
    spanCandidates('x '.repeat(n), [f], [{ start: counted(l.start), end: counted(l.end) }], { nBest });
    // One pass over each side, plus one start + end read per (start, end) candidate pair and the
    // null score. Sorting all positions costs ≈ n·log2(n) reads per sort, and 21 sorts were made.
    expect(reads).toBeLessThanOrEqual(2 * n + 2 * nBest * nBest + 2);
  });
});
