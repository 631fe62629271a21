import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { longContextSeparator, longContextSquad } from './long-context.js';
import { parseSquad } from './squad-eval.js';

/** Three articles of five paragraphs; each paragraph has 6–10 words and one question. */
const words = (article: number, p: number) =>
  Array.from({ length: 6 + ((article + p) % 5) }, (_, w) => `a${article}p${p}w${w}`).join(' ');
const squad = {
  version: '1.1',
  data: [0, 1, 2].map((a) => ({
    title: `article ${a}`,
    paragraphs: [0, 1, 2, 3, 4].map((p) => {
      const context = words(a, p);
      const text = `a${a}p${p}w3`;
      return {
        context,
        qas: [
          {
            id: `q${a}.${p}`,
            question: `where is ${text}?`,
            answers: [{ text, answer_start: context.indexOf(text) }],
          },
        ],
      };
    }),
  })),
};

describe('long-context SQuAD', () => {
  const options = { seed: 7, minLength: 30, maxLength: 40 };

  it('hides each paragraph among other articles’ paragraphs, keeping every answer at its characters', () => {
    const out = longContextSquad(squad, options, 'tiny.json');
    const { questions } = parseSquad(out, 'out.json');
    const source = parseSquad(squad).questions;
    expect(questions.map((q) => q.id)).toEqual(source.map((q) => q.id));
    questions.forEach((q, i) => {
      const s = source[i]!;
      const a = q.answers[0]!;
      // The answer's offsets round-trip: the same text at the moved start.
      expect(q.context.slice(a.answerStart, a.answerStart + a.text.length)).toBe(a.text);
      expect(q.context.indexOf(s.context)).toBe(a.answerStart - s.answers[0]!.answerStart);
      const parts = q.context.split(longContextSeparator);
      expect(parts.filter((p) => p === s.context)).toHaveLength(1);
      // Distractors come only from other articles, never twice.
      const article = q.id.split('.')[0]!.slice(1);
      for (const p of parts) if (p !== s.context) expect(p.startsWith(`a${article}p`)).toBe(false);
      expect(new Set(parts).size).toBe(parts.length);
      const length = parts.reduce((n, p) => n + p.split(' ').length, 0);
      expect(length).toBeLessThanOrEqual(40);
      expect(length).toBeGreaterThanOrEqual(30 - 9); // within one paragraph of the target
    });
    expect(out.lat_long_context).toMatchObject({ seed: 7, paragraphs: 15, questions: 15, overLong: 0 });
    // The source slot is drawn: the answer paragraph is not always first.
    expect(
      new Set(
        questions.map((q) =>
          q.context.startsWith(parseSquad(squad).questions.find((s) => s.id === q.id)!.context),
        ),
      ).size,
    ).toBe(2);
  });

  it('is seeded: the same seed gives the same file, another seed another', () => {
    const a = JSON.stringify(longContextSquad(squad, options));
    expect(JSON.stringify(longContextSquad(squad, options))).toBe(a);
    expect(JSON.stringify(longContextSquad(squad, { ...options, seed: 8 }))).not.toBe(a);
  });

  it('measures with the given length, keeps over-long paragraphs alone and honours limit', () => {
    const chars = longContextSquad(squad, {
      seed: 1,
      minLength: 10,
      maxLength: 10,
      length: (t) => t.length,
      limit: 4,
    });
    expect(chars.lat_long_context).toMatchObject({ paragraphs: 4, overLong: 4 });
    const { questions } = parseSquad(chars);
    expect(questions.map((q) => q.context)).toEqual(
      parseSquad(squad)
        .questions.slice(0, 4)
        .map((q) => q.context),
    );
  });

  it('refuses bad lengths and files with one article in one line', () => {
    expect(() => longContextSquad(squad, { seed: 1, minLength: 40, maxLength: 30 })).toThrow(/1 ≤ min ≤ max/);
    expect(() => longContextSquad({ data: [squad.data[0]] }, options, 'one.json')).toThrow(/at least two/);
    expect(() => longContextSquad({ data: [{ paragraphs: [{ qas: [] }] }] }, options, 'bad.json')).toThrow(
      /bad\.json#data\[0\]\.paragraphs\[0\]\.context/,
    );
  });

  const devPath = join(import.meta.dirname, '../../../../shared/fixtures/squad/dev-v1.1.json');
  it.skipIf(!existsSync(devPath))(
    'builds 1–4k-word documents from the SQuAD v1.1 dev set (../shared/fixtures)',
    () => {
      const out = longContextSquad(JSON.parse(readFileSync(devPath, 'utf8')), {
        seed: 1,
        minLength: 1000,
        maxLength: 4000,
        limit: 50,
      });
      const { questions } = parseSquad(out);
      expect(out.lat_long_context.paragraphs).toBe(50);
      for (const q of questions)
        for (const a of q.answers)
          expect(q.context.slice(a.answerStart, a.answerStart + a.text.length)).toBe(a.text);
      expect(out.lat_long_context.meanLength).toBeGreaterThan(1000);
      expect(out.lat_long_context.meanLength).toBeLessThanOrEqual(4000);
    },
  );
});
