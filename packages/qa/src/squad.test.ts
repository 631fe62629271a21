import { WordPieceTokenizer } from '@lat/core';
import { describe, expect, it } from 'vitest';
import { loadSquadSet, spanItems, squadScores } from './squad.js';

const cities = ['oslo', 'lima', 'rome'];
const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'where', 'is', 'it', 'a', 'film', '.', ...cities];
const tok = new WordPieceTokenizer(vocab);
const filler = (n: number) => Array.from({ length: n }, () => 'a film').join(' ');
const squad = {
  version: '1.1',
  data: [
    {
      title: 't',
      paragraphs: Array.from({ length: 20 }, (_, i) => {
        const city = cities[i % 3]!;
        // Long enough for several windows; the answer sits in a later one.
        const context = `${filler(10 + i)} ${city} .`;
        return {
          context,
          qas: [
            {
              id: `q${i}`,
              question: 'where is it',
              answers: [{ text: city, answer_start: context.indexOf(city) }],
            },
          ],
        };
      }),
    },
  ],
};

describe('SQuAD sets', () => {
  it('builds labelled windows and scores a span model, giving it many questions per call', async () => {
    // At 16 tokens the default stride (16) is longer than a window's 10 context tokens: windows
    // must still cover every token, so every answer is in one.
    const set = loadSquadSet(tok, squad, { maxLength: 16, withAnswers: true });
    expect(set.questions).toHaveLength(20);
    expect(set.features.every((windows) => windows.some((w) => (w.startPosition ?? 0) > 0))).toBe(true);
    expect(set.features.every((f) => f.length > 1)).toBe(true);
    const items = spanItems(set);
    expect(items).toHaveLength(set.features.flat().length);
    // A labelled window's span points at the city's token.
    const labelled = items.filter((x) => x.span![0] > 0);
    expect(labelled.every((x) => cities.includes(vocab[x.ids[x.span![0]]!]!))).toBe(true);

    let calls = 0;
    const pointAtCities = async (features: { ids: number[] }[]) => {
      calls++;
      return features.map((f) => {
        const hit = f.ids.map((i) => (cities.includes(vocab[i]!) ? 5 : 0));
        return { start: hit, end: hit };
      });
    };
    const scores = await squadScores(pointAtCities, set, {});
    expect(scores['exact_match']).toBe(100);
    expect(scores['f1']).toBe(100);
    expect(calls).toBe(2); // 16 questions, then 4
  });

  it('counts and skips questions whose answer is not where the file says', () => {
    const broken = structuredClone(squad);
    broken.data[0]!.paragraphs[0]!.qas[0]!.answers[0]!.answer_start += 1;
    const set = loadSquadSet(tok, broken, { maxLength: 16, withAnswers: true });
    expect(set.skipped).toBe(1);
    expect(set.questions).toHaveLength(19);
  });
});
