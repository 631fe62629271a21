/** LengthDrop length sampling (Kim & Cho 2021, §1 of REFERENCE.md). */

export interface LengthDropOptions {
  /** length_drop_ratio_bound: each layer keeps at least ceil((1 - p) * previous length). */
  ratioBound: number;
  /** Never sample below this many tokens. */
  minLength: number;
}

export const defaultLengthDrop: LengthDropOptions = { ratioBound: 0.2, minLength: 2 };

/** The smallest sub-model: every layer keeps ceil(previous * (1 - p)). */
export function smallestLengths(
  n: number,
  layers: number,
  o: LengthDropOptions = defaultLengthDrop,
): number[] {
  const out: number[] = [];
  let prev = n;
  for (let i = 0; i < layers; i++) {
    prev = Math.max(Math.min(o.minLength, prev), Math.ceil(prev * (1 - o.ratioBound)));
    out.push(prev);
  }
  return out;
}

/** A random sub-model: layer i's length uniform over the integers in [ceil(l_{i-1}(1-p)), l_{i-1}]. */
export function sampleLengths(
  n: number,
  layers: number,
  random: () => number,
  o: LengthDropOptions = defaultLengthDrop,
): number[] {
  const out: number[] = [];
  let prev = n;
  for (let i = 0; i < layers; i++) {
    const lo = Math.max(Math.min(o.minLength, prev), Math.ceil(prev * (1 - o.ratioBound)));
    prev = lo + Math.floor(random() * (prev - lo + 1));
    out.push(prev);
  }
  return out;
}
