import { describe, expect, it } from 'vitest';
import { exactMatch, f1Score, normalizeAnswer } from './index.js';

describe('SQuAD v1.1 metrics', () => {
  it('normalises case, punctuation, articles and whitespace like the official script', () => {
    expect(normalizeAnswer('  The  Denver Broncos!  ')).toBe('denver broncos');
    expect(normalizeAnswer('an apple, a pear')).toBe('apple pear');
    expect(exactMatch('the Broncos', 'Broncos.')).toBe(true);
  });
  it('computes token-overlap F1', () => {
    // prediction tokens: [denver, broncos, team]; truth: [broncos]; precision 1/3, recall 1.
    expect(f1Score('Denver Broncos team', 'the Broncos')).toBeCloseTo(0.5);
    expect(f1Score('Carolina', 'Broncos')).toBe(0);
  });
});

describe('official scoring over a dataset', () => {
  it('takes the best of several references and splits SQuAD v2 into HasAns/NoAns', async () => {
    const { evaluateSquadPredictions } = await import('./squad-eval.js');
    const q = (id: string, answers: string[], isImpossible = false) => ({
      id,
      question: '?',
      context: '',
      answers: answers.map((text) => ({ text, answerStart: 0 })),
      isImpossible,
    });
    const v1 = evaluateSquadPredictions(
      [q('a', ['Denver Broncos', 'The Denver Broncos!']), q('b', ['1,000 people'])],
      { a: 'the  denver broncos', b: '1000 people' },
    );
    // a: exact after normalisation; b: "1000 people" vs "1000 people" (punctuation removed) → exact too.
    expect(v1).toMatchObject({ exact_match: 100, f1: 100, total: 2, missing: 0 });
    const v2 = evaluateSquadPredictions([q('a', ['Paris']), q('b', [], true), q('c', [], true)], {
      a: 'in Paris',
      b: '',
      c: 'Rome',
    });
    // HasAns a: EM 0, F1 = 2·(1/2·1)/(1.5) = 2/3; NoAns: b right, c wrong.
    expect(v2['HasAns_exact']).toBe(0);
    expect(v2['HasAns_f1']).toBeCloseTo(66.6667, 3);
    expect(v2['NoAns_exact']).toBe(50);
    expect(v2['exact']).toBeCloseTo(100 / 3, 4);
    expect(v2['total']).toBe(3);
  });
});
