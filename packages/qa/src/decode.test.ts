import { describe, expect, it } from 'vitest';
import { bestSpan } from './decode.js';

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
