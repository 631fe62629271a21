import type { Value } from '@lat/core';
import type { Blocks } from './context.js';

/**
 * The span (question-answering) head `qa_outputs`: start and end logits per position. `states`
 * are full-length [B, N, d]; with `kept` they are only the rows that survived every layer (the
 * no-restore ablation, `fullLength` any [B, N] value): their logits go back to their positions, −10000 everywhere else.
 */
export function spanHead(
  b: Blocks,
  states: Value,
  kept?: { positions: Value; fullLength: Value },
): { start: Value; end: Value } {
  const { g } = b;
  const pick = (x: Value, j: number) => g.squeeze(g.slice(x, [j], [j + 1], [2]), [2]);
  const span = b.linear(states, 'qa_outputs'); // [B, n, 2]
  if (!kept) return { start: pick(span, 0), end: pick(span, 1) };
  const floor = g.constantOfShape(g.shapeOf(kept.fullLength), -10000, g.float, ['batch', 'seq']);
  return {
    start: g.scatterElements(floor, kept.positions, pick(span, 0), 1),
    end: g.scatterElements(floor, kept.positions, pick(span, 1), 1),
  };
}
