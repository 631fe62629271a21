/** Linear warm-up then linear decay to zero, as in BERT fine-tuning. */
export function linearSchedule(
  step: number,
  peakLr: number,
  warmupSteps: number,
  totalSteps: number,
): number {
  if (step < warmupSteps) return (peakLr * (step + 1)) / warmupSteps;
  const left = totalSteps - step;
  return left <= 0 ? 0 : (peakLr * left) / Math.max(1, totalSteps - warmupSteps);
}
