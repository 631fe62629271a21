/** LengthDrop length sampling (Kim & Cho 2021, §1 of REFERENCE.md). */

/** LengthDrop's bounds: each layer keeps at least (1 − ratioBound) of the previous one's tokens, and at least minLength. */
export interface LengthDropOptions {
  /** length_drop_ratio_bound: each layer keeps at least ceil((1 - p) * previous length). */
  ratioBound: number;
  /** Never sample below this many tokens. */
  minLength: number;
}

/** The LAT paper's defaults (ratio bound 0.2). */
export const defaultLengthDrop: LengthDropOptions = { ratioBound: 0.2, minLength: 2 };

/**
 * Per-layer lengths drawn over the layers that run: a layer LayerDrop skips (`layerOn[i]` false)
 * keeps its input's count, and the next running layer draws relative to the last running one —
 * so no running layer ever shrinks past the bound, as in the reference's
 * `sample_length_configuration(…, layer_config)`.
 */
function drawLengths(
  n: number,
  layers: number,
  next: (lo: number, prev: number) => number,
  o: LengthDropOptions,
  layerOn?: readonly boolean[],
): number[] {
  const out: number[] = [];
  let prev = n;
  for (let i = 0; i < layers; i++) {
    if (layerOn?.[i] !== false) {
      const lo = Math.max(Math.min(o.minLength, prev), Math.ceil(prev * (1 - o.ratioBound)));
      prev = next(lo, prev);
    }
    out.push(prev);
  }
  return out;
}

/** The smallest sub-model: every running layer keeps ceil(previous * (1 - p)). */
export function smallestLengths(
  n: number,
  layers: number,
  o: LengthDropOptions = defaultLengthDrop,
  layerOn?: readonly boolean[],
): number[] {
  return drawLengths(n, layers, (lo) => lo, o, layerOn);
}

/**
 * A random sub-model: a running layer's length is uniform over the integers in
 * [ceil(l_prev (1 − p)), l_prev], l_prev being the last running layer's length (n at first).
 */
export function sampleLengths(
  n: number,
  layers: number,
  random: () => number,
  o: LengthDropOptions = defaultLengthDrop,
  layerOn?: readonly boolean[],
): number[] {
  return drawLengths(n, layers, (lo, prev) => lo + Math.floor(random() * (prev - lo + 1)), o, layerOn);
}
