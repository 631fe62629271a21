import type { Graph, Value } from '@lat/core';

/**
 * Drop-and-Restore: writes each kept row's new state `h` [B, k, d] back into the full-length
 * buffer `restored` [B, N, d] at its original position; rows that are not `valid` (unused slots
 * of an example keeping fewer than k) leave the buffer as it was.
 */
export function restoreRows(g: Graph, restored: Value, h: Value, positions: Value, valid: Value): Value {
  const pos3 = g.expand(g.unsqueeze(positions, [2]), g.shapeOf(h), h.shape);
  const validMask = g.greater(g.unsqueeze(valid, [2]), g.scalar(0));
  const update = g.where(validMask, h, g.gatherElements(restored, pos3, 1));
  return g.scatterElements(restored, pos3, update, 1);
}
