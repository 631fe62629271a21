import { isLatError, WordPieceTokenizer } from '@lat/core';
import { describe, expect, it } from 'vitest';
import { createQuestionAnswerer } from './answerer.js';
import { buildFeatures } from './features.js';

const vocab = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  'where',
  'is',
  'the',
  'cafe',
  'zurich',
  'in',
  'a',
  'town',
  '.',
  'naive',
  'crepe',
  'lives',
  'word',
];
const tok = new WordPieceTokenizer(vocab);
const id = (t: string) => vocab.indexOf(t);

/** A stand-in span model that points at every occurrence of one token. */
const pointAt = (token: string) => async (features: { ids: number[] }[]) =>
  features.map((f) => {
    const hit = f.ids.map((i) => (i === id(token) ? 5 : 0));
    return { start: hit, end: hit };
  });

const filler = (n: number) => Array.from({ length: n }, () => 'a word').join(' ');

describe('features and the question-answering pipeline', () => {
  it('splits long contexts into strided windows and finds an answer in the second or the last one', async () => {
    for (const where of ['second', 'last']) {
      const context =
        where === 'second'
          ? `${filler(20)} the Café Crêpe is in Zürich . ${filler(60)}`
          : `${filler(80)} the Café Crêpe is in Zürich .`;
      const features = buildFeatures(
        tok,
        { question: 'where is the cafe', context },
        { maxSeqLength: 40, docStride: 16 },
      );
      expect(features.length).toBeGreaterThan(2);
      const qa = createQuestionAnswerer({
        tokenizer: tok,
        runSpanModel: pointAt('zurich'),
        features: { maxSeqLength: 40, docStride: 16 },
      });
      const a = await qa.answer({ question: 'where is the cafe', context }, {});
      expect(a.text).toBe('Zürich'); // exact characters of the original context, accents kept
      expect(context.slice(a.start, a.end)).toBe('Zürich');
    }
  });

  it('labels training answers with token positions, or [CLS] when outside the window', () => {
    const context = `${filler(30)} the naïve cafe .`;
    const start = context.indexOf('naïve');
    const features = buildFeatures(
      tok,
      { question: 'where', context, answer: { start, text: 'naïve cafe' } },
      { maxSeqLength: 24, docStride: 10 },
    );
    const inside = features.filter((f) => f.startPosition! > 0);
    expect(inside.length).toBeGreaterThan(0);
    for (const f of inside) {
      expect(context.slice(f.offsets[f.startPosition!]![0], f.offsets[f.endPosition!]![1])).toBe(
        'naïve cafe',
      );
    }
    expect(features.some((f) => f.startPosition === 0 && f.endPosition === 0)).toBe(true);
  });

  it('marks each context token max-context in exactly the window the reference rule picks, over many windows', () => {
    const context = filler(150); // 300 context tokens
    for (const [maxSeqLength, docStride] of [
      [24, 5],
      [24, 19],
      [24, 40], // a stride over the window is cut to it
      [40, 16],
      [400, 16], // one window
    ] as const) {
      const features = buildFeatures(tok, { question: 'where is', context }, { maxSeqLength, docStride });
      // Each window's span in context tokens (read from its offsets), then the rule by brute force.
      const tokenAt = new Map(tok.tokenize(context).map((p, t) => [p.start, t]));
      const spans = features.map((f) => {
        const first = f.sequenceIds.indexOf(1);
        const length = f.sequenceIds.filter((s) => s === 1).length;
        return { first, begin: tokenAt.get(f.offsets[first]![0])!, length };
      });
      expect(spans.at(-1)!.begin + spans.at(-1)!.length).toBe(300);
      for (let t = 0; t < 300; t++) {
        let best = -1;
        let bestScore = Number.NEGATIVE_INFINITY;
        spans.forEach(({ begin, length }, w) => {
          if (t < begin || t >= begin + length) return;
          const score = Math.min(t - begin, begin + length - 1 - t) + 0.01 * length;
          if (score > bestScore) [best, bestScore] = [w, score];
        });
        const marked = spans.flatMap(({ begin, length, first }, w) =>
          t >= begin && t < begin + length && features[w]!.maxContext[first + t - begin] ? [w] : [],
        );
        expect(marked).toEqual([best]);
      }
    }
  });

  it('rejects an empty question or context and answers that are not where they claim', () => {
    const bad = (q: string, c: string, answer?: { start: number; text: string }) => {
      try {
        buildFeatures(tok, { question: q, context: c, ...(answer ? { answer } : {}) });
        return undefined;
      } catch (e) {
        return isLatError(e) ? e.message : 'not a LatError';
      }
    };
    expect(bad('', 'the cafe')).toMatch(/question: the question is empty/);
    expect(bad('where', '  ')).toMatch(/context: the context is empty/);
    expect(bad('where', 'the cafe', { start: 2, text: 'cafe' })).toMatch(
      /answer_start: the answer 'cafe' is not at character 2/,
    );
    expect(bad('where', 'the cafe', { start: 40, text: 'cafe' })).toMatch(/not at character 40/);
  });
});
