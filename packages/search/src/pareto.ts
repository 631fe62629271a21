/** A point of the search: its cost (lower is better) and metric (higher is better). */
export interface Point {
  lengths: number[];
  cost: number;
  metric: number;
}

/** The non-dominated points (lower cost, higher metric), sorted by cost. */
export function paretoFrontier<T extends Pick<Point, 'cost' | 'metric'>>(points: readonly T[]): T[] {
  const sorted = [...points].sort((a, b) => a.cost - b.cost || b.metric - a.metric);
  const out: T[] = [];
  let best = Number.NEGATIVE_INFINITY;
  for (const p of sorted) {
    if (p.metric > best) {
      out.push(p);
      best = p.metric;
    }
  }
  return out;
}

/**
 * The frontier's area, as the LAT reference reports it: Σ (cost_{k+1} − cost_k) · metric_k over the
 * frontier sorted by cost, the last point extending to `upper`, divided by (upper − lower).
 */
export function frontierArea(frontier: readonly Point[], lower: number, upper: number): number {
  if (upper <= lower || frontier.length === 0) return 0;
  const pts = [...frontier].sort((a, b) => a.cost - b.cost);
  let area = 0;
  for (let k = 0; k < pts.length; k++) {
    const next = k + 1 < pts.length ? pts[k + 1]!.cost : upper;
    area += (Math.max(next, pts[k]!.cost) - pts[k]!.cost) * pts[k]!.metric;
  }
  return area / (upper - lower);
}
