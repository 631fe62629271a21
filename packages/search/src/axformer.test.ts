import type { AxformerMasks } from '@lat/core';
import { describe, expect, it } from 'vitest';
import { type AxformerLog, axformerSearch, hardAttentionKs, masksKey, randomRemoval } from './axformer.js';

const L = 3;
const H = 4;
const start: AxformerMasks = {
  ffn: [true, true, true],
  attention: [true, true, true],
  heads: Array.from({ length: L }, () => new Array(H).fill(true)),
  hardAttentionK: [0, 0, 0],
};

/**
 * A made-up task: layer 0's FFN and attention and head 1 of layer 1 matter (removing them costs
 * accuracy), layer 2's FFN hurts (removing it helps); hard attention with k ≥ 4 is harmless in
 * layers 1–2, layer 0 needs softmax.
 */
function metric(m: AxformerMasks): number {
  let acc = 0.8;
  if (!m.ffn[0]) acc -= 0.1;
  if (!m.attention[0]) acc -= 0.1;
  if (!m.attention[1] || !m.heads[1]![1]) acc -= 0.05;
  if (!m.ffn[2]) acc += 0.02;
  if (m.hardAttentionK[0]) acc -= 0.03;
  for (const l of [1, 2]) if (m.hardAttentionK[l] && m.hardAttentionK[l]! < 4) acc -= 0.01;
  // Each further removed head costs a little: ε decides whether they go.
  const heads = m.heads.reduce((n, h, l) => n + (m.attention[l] ? h.filter((x) => !x).length : 0), 0);
  return Math.round((acc - heads * 0.001) * 1e6) / 1e6;
}

describe('AxFormer greedy search', () => {
  it('removes what does not hurt, coarse to fine and top layer first; then hard attention', async () => {
    const r = await axformerSearch({ start, evaluate: metric, hardAttentionKs: [2, 4, 8] });
    expect(r.baseline).toBe(0.8);
    expect(r.masks.ffn).toEqual([true, false, false]);
    expect(r.masks.attention).toEqual([true, true, false]);
    expect(r.masks.heads[1]).toEqual([true, true, true, true]); // ε = 0: every head removal costs 0.001
    expect(r.masks.hardAttentionK).toEqual([0, 4, 0]); // layer 2 has no attention; layer 0 adopts none
    expect(r.accepted.map((s) => `${s.phase}${s.layer}${s.k ?? ''}`)).toEqual([
      'ffn2',
      'ffn1',
      'attention2',
      'hard-attention14',
    ]);
    expect(r.metric).toBeCloseTo(0.82, 9);
    // The first pass tries each FFN block top-down before any attention block.
    expect(r.log.steps.slice(0, 3).map((s) => `${s.phase}${s.layer}`)).toEqual(['ffn2', 'ffn1', 'ffn0']);
  });

  it('with ε > 0 also drops the heads whose loss it tolerates, never a block’s last head', async () => {
    const r = await axformerSearch({ start, epsilon: 0.0015, evaluate: metric });
    expect(r.masks.heads[0]!.filter(Boolean)).toHaveLength(1);
    expect(r.masks.heads[1]).toEqual([false, true, false, false]);
    for (const s of r.accepted) expect(s.metric).toBeGreaterThanOrEqual(s.current - 0.0015);
  });

  it('evaluates each candidate once and resumes from its log without re-evaluating', async () => {
    const keys: string[] = [];
    const counted = (m: AxformerMasks) => {
      keys.push(masksKey(m));
      return metric(m);
    };
    const full = await axformerSearch({ start, epsilon: 0.0015, evaluate: counted, hardAttentionKs: [2, 4] });
    expect(new Set(keys).size).toBe(keys.length);
    expect(full.evaluations).toBe(keys.length);

    let saved: AxformerLog | undefined;
    let calls = 0;
    const dying = (m: AxformerMasks) => {
      if (++calls > 12) throw new Error('interrupted');
      return metric(m);
    };
    await expect(
      axformerSearch({
        start,
        epsilon: 0.0015,
        evaluate: dying,
        hardAttentionKs: [2, 4],
        onStep: (_, log) => (saved = JSON.parse(JSON.stringify(log))),
      }),
    ).rejects.toThrow('interrupted');
    const resumed = await axformerSearch({
      start,
      epsilon: 0.0015,
      evaluate: metric,
      hardAttentionKs: [2, 4],
      resume: saved!,
    });
    expect(resumed.masks).toEqual(full.masks);
    expect(resumed.log.steps.map((s) => s.metric)).toEqual(full.log.steps.map((s) => s.metric));
    expect(resumed.evaluations).toBe(full.evaluations - 12);
    expect(resumed.log.steps.filter((s) => s.cached)).toHaveLength(11); // the baseline is not a step
  });

  it('rejects ε < 0 and a log from another search, in one line', async () => {
    await expect(axformerSearch({ start, epsilon: -0.1, evaluate: metric })).rejects.toThrow(
      '--epsilon: must be a number ≥ 0, got -0.1',
    );
    const { log } = await axformerSearch({ start, evaluate: metric });
    await expect(axformerSearch({ start, epsilon: 0.01, evaluate: metric, resume: log })).rejects.toThrow(
      /another --epsilon/,
    );
  });

  it('hard-attention k values are REFERENCE.md §5’s, below n', () => {
    expect(hardAttentionKs(128)).toEqual([2, 4, 8, 16, 32]);
    expect(hardAttentionKs(16)).toEqual([2, 4, 8]);
  });

  it('draws a seeded random control with as many removals of each kind', () => {
    const pruned: AxformerMasks = {
      ffn: [true, false, false],
      attention: [true, true, false],
      heads: [
        [true, false, true, true],
        [false, false, true, true],
        [true, true, true, true],
      ],
      hardAttentionK: [0, 0, 0],
    };
    const a = randomRemoval(start, pruned, 1);
    expect(randomRemoval(start, pruned, 1)).toEqual(a);
    expect(a.ffn.filter((x) => !x)).toHaveLength(2);
    expect(a.attention.filter((x) => !x)).toHaveLength(1);
    const removedHeads = a.heads.reduce(
      (n, h, l) => n + (a.attention[l] ? h.filter((x) => !x).length : 0),
      0,
    );
    expect(removedHeads).toBe(3);
    const seeds = new Set([1, 2, 3, 4, 5].map((s) => masksKey(randomRemoval(start, pruned, s))));
    expect(seeds.size).toBeGreaterThan(1);
  });
});
