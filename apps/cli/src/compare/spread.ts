/** How much of each input a method keeps, summarised per layer (AdapLeR's per-input lengths vary most). */
import type { KeptSpread } from '@lat/search';

/**
 * `kept[i][l]`: tokens input i keeps in layer l; `lengths[i]`: its real length. Per layer: the mean
 * and the 10th, 50th and 90th percentiles of the kept fraction over the inputs.
 */
export function keptSpread(kept: readonly (readonly number[])[], lengths: readonly number[]): KeptSpread[] {
  const layers = kept[0]?.length ?? 0;
  return Array.from({ length: layers }, (_, l) => {
    const f = kept.map((k, i) => k[l]! / lengths[i]!).sort((a, b) => a - b);
    const q = (p: number) => f[Math.min(f.length - 1, Math.floor(p * f.length))]!;
    return { mean: f.reduce((a, b) => a + b, 0) / f.length, p10: q(0.1), p50: q(0.5), p90: q(0.9) };
  });
}
