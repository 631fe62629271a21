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
