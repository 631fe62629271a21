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
