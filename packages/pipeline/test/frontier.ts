/** A frontier file of the tiny 2-layer test model (maxLength 64) with the given points. */
export function tinyFrontier(
  fingerprint: string,
  points: { lengths: number[]; cost: number; costRatio: number; metric: number; latencyMs?: number }[],
) {
  return {
    schemaVersion: 1,
    kind: 'lat-frontier',
    model: { name: 'tiny', fingerprint, numLayers: 2 },
    dataset: 'test',
    metric: { name: 'accuracy', higherIsBetter: true },
    lengthForm: 'ratio',
    maxLength: 64,
    costUnit: 'MACs',
    fullCost: 1,
    points,
    area: 0.8,
    search: { seed: 1, iterations: 1, evaluated: points.length, params: {} },
  };
}
