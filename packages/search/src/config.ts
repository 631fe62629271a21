/** A length configuration: one non-increasing keep count per encoder layer. */
export type LengthConfig = readonly number[];

/** Whether `lengths` is a valid configuration for inputs of `maxLength` tokens. */
export function isValidConfig(lengths: LengthConfig, maxLength: number): boolean {
  let prev = maxLength;
  for (const l of lengths) {
    if (!Number.isInteger(l) || l < 1 || l > prev) return false;
    prev = l;
  }
  return true;
}
