import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WordPieceTokenizer } from '@lat/core';
import { describe, expect, it } from 'vitest';
import { factQaSquad } from './long-context.js';
import { loadSquadSet } from './squad.js';
import { parseSquad } from './squad-eval.js';

/** Two articles of four paragraphs, each of three numbered sentences of 4–7 words. */
const sentence = (a: number, p: number, s: number) =>
  `${Array.from({ length: 3 + ((a + p + s) % 4) }, (_, w) => `a${a}p${p}s${s}w${w}`).join(' ')}.`;
const source = {
  version: '1.1',
  data: [0, 1].map((a) => ({
    title: `article ${a}`,
    paragraphs: [0, 1, 2, 3].map((p) => ({
      context: [0, 1, 2].map((s) => sentence(a, p, s)).join(' '),
      qas: [],
    })),
  })),
};
const sources = new Set(
  source.data.flatMap((a, ai) => a.paragraphs.flatMap((_, p) => [0, 1, 2].map((s) => sentence(ai, p, s)))),
);
const fact = /^The (favourite colour|home city|pet) of ([A-Z][a-z]+) is ([a-z]+)\.$/;
const options = { seed: 5, minLength: 40, maxLength: 60, documents: 30 };

describe('generated long-context fact retrieval (factQaSquad)', () => {
  const out = factQaSquad(source, options, 'tiny.json');
  const { questions } = parseSquad(out, 'out.json');

  it('hides the facts among the source sentences; the question picks one, answered at its characters', () => {
    expect(questions).toHaveLength(30);
    expect(out.lat_long_facts).toMatchObject({
      seed: 5,
      documents: 30,
      facts: 4,
      questions: 30,
      unit: 'words',
    });
    const slots = new Set<number>();
    for (const q of questions) {
      const a = q.answers[0]!;
      expect(q.context.slice(a.answerStart, a.answerStart + a.text.length)).toBe(a.text);
      const sentences = q.context.split(/(?<=\.) /);
      const facts = sentences.filter((s) => fact.test(s)).map((s) => s.match(fact)!.slice(1));
      expect(facts).toHaveLength(4);
      expect(new Set(facts.map((f) => f[1])).size).toBe(4); // four different people
      for (const s of sentences) if (!fact.test(s)) expect(sources.has(s)).toBe(true);
      // The question's relation and person select exactly the fact whose value is the answer.
      const [, relation, name] = q.question.match(/^What is the (.+) of ([A-Z][a-z]+)\?$/)!;
      const asked = facts.filter((f) => f[0] === relation && f[1] === name);
      expect(asked).toHaveLength(1);
      expect(asked[0]![2]).toBe(a.text);
      const answerSentence = sentences.findIndex((s) => s.startsWith(`The ${relation} of ${name} is`));
      slots.add(Math.floor((answerSentence / sentences.length) * 3));
      const words = q.context.split(' ').length;
      expect(words).toBeLessThanOrEqual(60);
      expect(words).toBeGreaterThanOrEqual(40 - 6); // within one sentence of the target
    }
    // The answer lies anywhere: in each third of the documents for some question.
    expect(slots).toEqual(new Set([0, 1, 2]));
  });

  it('is seeded: the same seed gives the same file, another seed another', () => {
    const again = JSON.stringify(factQaSquad(source, options, 'tiny.json'));
    expect(again).toBe(JSON.stringify(out));
    expect(JSON.stringify(factQaSquad(source, { ...options, seed: 6 }, 'tiny.json'))).not.toBe(again);
  });

  it('labels the answer tokens that a WordPiece tokenizer recovers the answer from', () => {
    const words = new Set(
      questions.flatMap((q) => `${q.question} ${q.context}`.toLowerCase().match(/\w+|[^\w\s]/g)!),
    );
    const tok = new WordPieceTokenizer(['[PAD]', '[UNK]', '[CLS]', '[SEP]', ...words]);
    const set = loadSquadSet(tok, out, { maxLength: 128, withAnswers: true });
    expect(set.skipped).toBe(0);
    set.features.forEach((windows, i) => {
      const a = questions[i]!.answers[0]!;
      const w = windows[0]!; // one window holds the whole document
      expect(windows).toHaveLength(1);
      expect(w.offsets[w.startPosition!]![0]).toBe(a.answerStart);
      expect(w.offsets[w.endPosition!]![1]).toBe(a.answerStart + a.text.length);
    });
  });

  it('measures with the given length and refuses bad options in one line', () => {
    const chars = factQaSquad(source, {
      ...options,
      length: (t) => t.length,
      minLength: 300,
      maxLength: 300,
    });
    for (const q of parseSquad(chars).questions) expect(q.context.length).toBeLessThanOrEqual(300 + 40);
    expect(() => factQaSquad(source, { ...options, minLength: 9, maxLength: 3 })).toThrow(/1 ≤ min ≤ max/);
    expect(() => factQaSquad(source, { ...options, facts: 0 })).toThrow(/facts must be 1\.\.24, got 0$/);
    expect(() => factQaSquad(source, { ...options, documents: 0 })).toThrow(/documents must be/);
    expect(() => factQaSquad({ data: [{ paragraphs: [{ qas: [] }] }] }, options, 'bad.json')).toThrow(
      /bad\.json#data\[0\]\.paragraphs\[0\]\.context/,
    );
  });

  const devPath = join(import.meta.dirname, '../../../../shared/fixtures/squad/dev-v1.1.json');
  it.skipIf(!existsSync(devPath))(
    'builds 2–4k-word documents of SQuAD v1.1 dev text (../shared/fixtures)',
    () => {
      const long = factQaSquad(JSON.parse(readFileSync(devPath, 'utf8')), {
        seed: 1,
        minLength: 2000,
        maxLength: 4000,
        documents: 20,
      });
      for (const q of parseSquad(long).questions) {
        const a = q.answers[0]!;
        expect(q.context.slice(a.answerStart, a.answerStart + a.text.length)).toBe(a.text);
        expect(q.context.split(/\s+/).length).toBeLessThanOrEqual(4000);
      }
      expect(long.lat_long_facts.meanLength).toBeGreaterThan(2000);
    },
  );
});
