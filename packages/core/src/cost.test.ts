import { describe, expect, it } from 'vitest';
import { encoderFlops, encoderMacs } from './cost.js';

const bertBase = { hiddenSize: 768, intermediateSize: 3072, numLayers: 12 };

describe('LAT cost model', () => {
  it('reproduces the BERT-base check value at 384 tokens with the QA head', () => {
    expect(encoderMacs(bertBase, 384, undefined, { qaHead: true })).toBe(35_340_779_904);
    expect(encoderFlops(bertBase, 384, undefined, { qaHead: true })).toBe(2 * 35_340_779_904);
  });
  it('gives about 0.333× for the smallest LengthDrop configuration', () => {
    const smallest = [308, 247, 198, 159, 128, 103, 83, 67, 54, 44, 36, 29];
    const ratio =
      encoderMacs(bertBase, 384, smallest, { qaHead: true }) /
      encoderMacs(bertBase, 384, undefined, { qaHead: true });
    expect(ratio).toBeCloseTo(0.333, 3);
  });
});
