import { LatError } from '@lat/core';
import type { FrontierPoint } from './frontier-file.js';

/** A budget: a fraction of the full model's cost, a latency, or a floor on the metric. */
export type Budget = { costRatio: number } | { latencyMs: number } | { minMetric: number };

/** "0.5", "50%" → cost ratio; "10ms" → latency; "acc>=0.9" or "metric>=0.9" → metric floor. */
export function parseBudget(text: string): Budget {
  const s = text.trim().toLowerCase();
  let m = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (m) return checkRatio(Number(m[1]) / 100, text);
  m = /^(\d+(?:\.\d+)?)\s*ms$/.exec(s);
  if (m) return { latencyMs: Number(m[1]) };
  m = /^(?:acc|accuracy|metric|f1|score)\s*>=\s*(\d+(?:\.\d+)?)$/.exec(s);
  if (m) return { minMetric: Number(m[1]) };
  m = /^(\d*\.?\d+)$/.exec(s);
  if (m) return checkRatio(Number(m[1]), text);
  throw new LatError(
    'BAD_BUDGET',
    `cannot read '${text}'; use a cost fraction (0.5 or 50%), a latency (10ms) or a metric floor (acc>=0.9)`,
    'budget',
  );
}

function checkRatio(r: number, text: string): Budget {
  if (!(r > 0 && r <= 1))
    throw new LatError(
      'BAD_BUDGET',
      `'${text}' is not a fraction in (0, 1] of the full model's cost`,
      'budget',
    );
  return { costRatio: r };
}

/** What a budget picks among: a point's cost, cost relative to the full model, metric and latency. */
export type BudgetPoint = Pick<FrontierPoint, 'cost' | 'costRatio' | 'metric' | 'latencyMs'>;

/**
 * The best point within a cost or latency budget, or the cheapest one meeting a metric floor —
 * of a LAT frontier (`FrontierFile`) or of an AdapLeR φ sweep (`AdaplerFrontierFile`).
 */
export function pick<P extends BudgetPoint>(frontier: { points: readonly P[] }, budget: Budget): P {
  const pts = [...frontier.points].sort((a, b) => a.cost - b.cost);
  if ('minMetric' in budget) {
    const hit = pts.find((p) => p.metric >= budget.minMetric);
    if (!hit) {
      const best = Math.max(...pts.map((p) => p.metric));
      throw new LatError(
        'BAD_BUDGET',
        `no configuration reaches ${budget.minMetric}; the best on this frontier scores ${best}`,
        'budget',
      );
    }
    return hit;
  }
  const within =
    'costRatio' in budget
      ? pts.filter((p) => p.costRatio <= budget.costRatio + 1e-12)
      : pts.filter((p) => p.latencyMs !== undefined && p.latencyMs <= budget.latencyMs);
  if ('latencyMs' in budget && pts.every((p) => p.latencyMs === undefined)) {
    throw new LatError(
      'BAD_BUDGET',
      'this frontier has no latencies; run `lat bench` or `lat search --objective latency` first',
      'budget',
    );
  }
  if (within.length === 0) {
    const cheapest = pts[0]!;
    const what =
      'costRatio' in budget
        ? `${(cheapest.costRatio * 100).toFixed(1)}% of the full cost`
        : `${cheapest.latencyMs!.toFixed(2)} ms`;
    throw new LatError(
      'BAD_BUDGET',
      `nothing fits this budget; the smallest configuration needs ${what}`,
      'budget',
    );
  }
  return within.reduce((a, b) => (b.metric > a.metric ? b : a));
}
