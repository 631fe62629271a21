import { describe, expect, it } from 'vitest';
import { describeLayers, encoderFlops, encoderMacs } from './cost.js';

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

describe('cost of pruned layers (AxFormer)', () => {
  const whole = { heads: Array.from({ length: 12 }, (_, h) => h), ffn: true };
  const pruned = (layers: { heads: number[]; ffn: boolean; hardAttentionK?: number }[]) => ({
    ...bertBase,
    numHeads: 12,
    layers: [...layers, ...new Array(12 - layers.length).fill(whole)],
  });
  it('counts a whole layer as before', () => {
    expect(encoderMacs(pruned([]), 128)).toBe(encoderMacs(bertBase, 128));
  });
  it('drops a removed FFN block, a removed attention block and removed heads', () => {
    const n = 128;
    const d = 768;
    const full = encoderMacs(bertBase, n);
    expect(full - encoderMacs(pruned([{ ...whole, ffn: false }]), n)).toBe(2 * n * d * 3072 + n * d);
    expect(full - encoderMacs(pruned([{ heads: [], ffn: true }]), n)).toBe(
      4 * n * d * d + 2 * n * n * d + n * d,
    );
    // Half the heads: half of the projections and of the attention products.
    expect(full - encoderMacs(pruned([{ heads: [0, 1, 2, 3, 4, 5], ffn: true }]), n)).toBe(
      (4 * n * d * d + 2 * n * n * d) / 2,
    );
  });
  it('counts hard attention as k keys per query in probs·V', () => {
    const n = 128;
    expect(encoderMacs(bertBase, n) - encoderMacs(pruned([{ ...whole, hardAttentionK: 8 }]), n)).toBe(
      n * (n - 8) * 768,
    );
  });
  it('keeps every token in a layer without attention (nothing to rank tokens by)', () => {
    const noAttention = pruned([{ heads: [], ffn: true }]);
    const asked = new Array(12).fill(64);
    expect(encoderMacs(noAttention, 128, asked)).toBe(
      encoderMacs(noAttention, 128, [128, ...asked.slice(1)]),
    );
  });
  it('says in words what is left of each layer', () => {
    expect(
      describeLayers(
        [
          { heads: [0, 2], ffn: false, hardAttentionK: 8 },
          { heads: [], ffn: true },
          { heads: [0, 1, 2, 3], ffn: true },
        ],
        4,
      ),
    ).toEqual([
      'heads 0,2 of 4 (removed 1,3), hard attention k=8; FFN removed',
      'attention removed; FFN kept',
      'all 4 heads; FFN kept',
    ]);
  });
});
