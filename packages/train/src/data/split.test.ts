import { describe, expect, it } from 'vitest';
import { selectionSplit } from './split.js';

const items = (n: number, positive: number) =>
  Array.from({ length: n }, (_, i) => ({ id: i, label: i < positive ? 1 : 0 }));

describe('selection split', () => {
  it('holds out 10% (≥ 500), stratified by label, seeded, disjoint from the rest', () => {
    const data = items(10_000, 3_000);
    const { selection, rest } = selectionSplit(data, { seed: 1 });
    expect(selection).toHaveLength(1_000);
    expect(rest).toHaveLength(9_000);
    expect(selection.filter((x) => x.label === 1)).toHaveLength(300);
    expect(new Set([...selection, ...rest].map((x) => x.id)).size).toBe(10_000);
    expect(selectionSplit(data, { seed: 1 }).selection).toEqual(selection);
    expect(selectionSplit(data, { seed: 2 }).selection).not.toEqual(selection);
  });

  it('takes at least 500 examples from a small file', () => {
    const { selection } = selectionSplit(items(2_000, 1_000), { seed: 0 });
    expect(selection).toHaveLength(500);
    expect(selection.filter((x) => x.label === 1)).toHaveLength(250);
  });

  it('stratifies regression scores by quintile', () => {
    const data = Array.from({ length: 1_000 }, (_, i) => ({ label: ((i * 37) % 1000) / 200 }));
    const { selection } = selectionSplit(data, { seed: 0, min: 10, regression: true });
    expect(selection).toHaveLength(100);
    for (let q = 0; q < 5; q++) expect(selection.filter((x) => Math.floor(x.label) === q)).toHaveLength(20);
  });

  it('rejects a single-class selection set and a file too small, in one line', () => {
    expect(() => selectionSplit(items(2_000, 0), { where: 'train.tsv' })).toThrow(
      /^train\.tsv: the selection set has a single class \(label 0\)/,
    );
    expect(() => selectionSplit(items(400, 200), { where: 'train.tsv' })).toThrow(
      'train.tsv: has 400 examples: too few to hold out a selection set of 500',
    );
  });
});
