/**
 * A latency objective: per-layer latency measured at a few lengths on the target device, linearly
 * interpolated, summed over layers, plus the fixed cost outside the layers — so the frontier can be
 * made for Node or for a browser.
 */
export interface LatencyTable {
  /** Where it was measured, e.g. "onnxruntime-node cpu, 2 threads". */
  device?: string;
  /** Input tokens the table was measured for (the fixed cost depends on it). */
  seq?: number;
  /** Lengths at which each layer was timed, ascending. */
  lengths: number[];
  /** perLayerMs[i][j]: layer i at lengths[j] tokens. */
  perLayerMs: number[][];
  /** Time outside the layers (embeddings, head, session overhead), measured on its own. */
  fixedMs: number;
}

/** Piecewise-linear interpolation of (xs, ys) at x, clamped to the table's ends. */
export function interpolate(xs: readonly number[], ys: readonly number[], x: number): number {
  if (x <= xs[0]!) return ys[0]! * (x / xs[0]!);
  for (let j = 1; j < xs.length; j++) {
    if (x <= xs[j]!) {
      const t = (x - xs[j - 1]!) / (xs[j]! - xs[j - 1]!);
      return ys[j - 1]! + t * (ys[j]! - ys[j - 1]!);
    }
  }
  const n = xs.length;
  const slope = n > 1 ? (ys[n - 1]! - ys[n - 2]!) / (xs[n - 1]! - xs[n - 2]!) : ys[0]! / xs[0]!;
  return ys[n - 1]! + slope * (x - xs[n - 1]!);
}

/** A cost function that estimates a configuration's latency from a measured per-layer table. */
export function latencyObjective(table: LatencyTable): (lengths: readonly number[]) => number {
  return (lengths) =>
    lengths.reduce((sum, l, i) => sum + interpolate(table.lengths, table.perLayerMs[i]!, l), table.fixedMs);
}
