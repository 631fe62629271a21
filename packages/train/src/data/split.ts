/**
 * The selection set AxFormer decides on (REFERENCE.md §5): held out from the training file,
 * stratified by label, 10% and at least 500 examples, seeded — never the dev set, which is
 * kept for the final report.
 */
import { LatError, Rng } from '@lat/core';

export interface SelectionSplitOptions {
  /** Share of the file held out (0.1). */
  fraction?: number;
  /** At least this many examples (500). */
  min?: number;
  seed?: number;
  /** Regression: labels are scores, stratified by quintile instead of by class. */
  regression?: boolean;
  /** Names the file in errors. */
  where?: string;
}

/** A stratified, seeded split of `items` into a selection set and the rest (both in file order). */
export function selectionSplit<T extends { label: number }>(
  items: readonly T[],
  o: SelectionSplitOptions = {},
): { selection: T[]; rest: T[] } {
  const fraction = o.fraction ?? 0.1;
  const min = o.min ?? 500;
  const where = o.where ?? 'training data';
  const n = items.length;
  if (!(fraction > 0 && fraction < 1))
    throw new LatError('BAD_INPUT', `the selection fraction must be in (0, 1), got ${fraction}`, where);
  const size = Math.max(Math.ceil(fraction * n), min);
  if (size >= n)
    throw new LatError(
      'BAD_INPUT',
      `has ${n} examples: too few to hold out a selection set of ${size} (10%, at least ${min}) and keep the rest`,
      where,
    );
  // Strata: class ids, or for regression quintiles of the sorted scores.
  const strata = new Map<number, number[]>();
  if (o.regression) {
    const order = items.map((_, i) => i).sort((a, b) => items[a]!.label - items[b]!.label);
    order.forEach((i, r) => {
      const q = Math.floor((5 * r) / n);
      strata.set(q, [...(strata.get(q) ?? []), i]);
    });
  } else items.forEach((x, i) => strata.set(x.label, [...(strata.get(x.label) ?? []), i]));
  const groups = [...strata.entries()].sort((a, b) => a[0] - b[0]);
  // Largest remainder: each stratum gets its share of `size`, the rounding goes to the biggest remainders.
  const quota = groups.map(([, idx]) => (size * idx.length) / n);
  const counts = quota.map(Math.floor);
  const byRemainder = quota
    .map((q, i) => [q - Math.floor(q), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let r = 0; r < size - counts.reduce((a, b) => a + b, 0); r++) counts[byRemainder[r]![1]]!++;
  const rng = new Rng(o.seed ?? 0);
  const chosen = new Set<number>();
  groups.forEach(([, idx], g) => {
    const a = [...idx];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    for (const i of a.slice(0, counts[g])) chosen.add(i);
  });
  const selection = items.filter((_, i) => chosen.has(i));
  if (!o.regression && new Set(selection.map((x) => x.label)).size < 2)
    throw new LatError(
      'BAD_INPUT',
      `the selection set has a single class (label ${selection[0]?.label}); pruning decisions need every class — check --task and the file's label column`,
      where,
    );
  return { selection, rest: items.filter((_, i) => !chosen.has(i)) };
}
