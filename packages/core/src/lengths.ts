/**
 * Length configurations — lat's one place for their rules and defaults, used by layers (keep
 * counts fed to the graph), train (LengthDrop sampling), search (the smallest model, genes) and
 * the CLI (flags). A configuration lists, per layer, how many tokens it keeps: absolute counts
 * over the padded sequence (as the LAT reference uses), or ratios of each input's real length.
 */
import { LatError } from './errors.js';

/**
 * `paddedLength` says which padded length absolute counts refer to (the reference's
 * max_seq_length, e.g. 128): inputs may then come in batches padded to less, and each example
 * keeps min(count, its real length) tokens — the same tokens it keeps padded to `paddedLength`,
 * since padding ranks below every real token. Without it, counts refer to the batch as given.
 */
export type LengthSpec =
  | { form: 'absolute'; lengths: readonly number[]; paddedLength?: number }
  | { form: 'ratio'; ratios: readonly number[] };

/** LengthDrop's sampling bounds (Kim & Cho 2021, REFERENCE.md §1). */
export interface LengthDropOptions {
  /** length_drop_ratio_bound p: each layer keeps at least ceil((1 − p) · previous length). */
  ratioBound: number;
  /** Never sample below this many tokens. */
  minLength: number;
}

/** The defaults everything uses unless told otherwise. */
export const lengthDefaults = {
  /** LengthDrop's p. */
  ratioBound: 0.2,
  /** Training never samples fewer tokens, nor does the search ([CLS] and one more). */
  minLength: 2,
  /** Random sub-models per batch besides the full and the smallest one (the sandwich rule). */
  numSandwich: 2,
} as const;

/** The LAT paper's LengthDrop defaults (ratio bound 0.2, min length 2). */
export const defaultLengthDrop: LengthDropOptions = {
  ratioBound: lengthDefaults.ratioBound,
  minLength: lengthDefaults.minLength,
};

/**
 * Checks per-layer values: one per layer, finite, non-increasing; counts whole and ≥ 1 (and at
 * most `seqLen` when given), ratios in (0, 1]. `where` names the field or flag in errors.
 */
export function validateLengths(spec: LengthSpec, numLayers: number, seqLen?: number, where?: string): void {
  const values = spec.form === 'absolute' ? spec.lengths : spec.ratios;
  const field = where ?? (spec.form === 'absolute' ? 'lengths' : 'ratios');
  const fail = (msg: string): never => {
    throw new LatError('BAD_LENGTHS', msg, field);
  };
  if (values.length !== numLayers) fail(`expected ${numLayers} values (one per layer), got ${values.length}`);
  const padded = spec.form === 'absolute' ? spec.paddedLength : undefined;
  if (padded !== undefined && seqLen !== undefined && seqLen > padded)
    fail(`inputs have ${seqLen} tokens but the lengths refer to inputs padded to ${padded}`);
  const limit = padded ?? seqLen;
  let prev = spec.form === 'absolute' ? (limit ?? Number.POSITIVE_INFINITY) : 1;
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) fail(`value ${i + 1} is ${v}; use finite numbers`);
    if (spec.form === 'absolute') {
      if (!Number.isInteger(v) || v < 1) fail(`value ${i + 1} is ${v}; keep counts are whole numbers ≥ 1`);
      if (limit !== undefined && v > limit)
        fail(
          `value ${i + 1} is ${v} but the input${padded ? 's are padded to' : ' has'} only ${limit} tokens`,
        );
    } else if (v <= 0 || v > 1) fail(`value ${i + 1} is ${v}; ratios lie in (0, 1]`);
    if (v > prev)
      fail(`value ${i + 1} (${v}) is larger than the one before (${prev}); lengths must not increase`);
    prev = v;
  });
}

/**
 * Per-example keep counts [B × L]. Ratios become ceil(r · n) of each example's real length n (at
 * least 1); absolute counts are the same for every example. `undefined` means full length.
 */
export function keepCounts(
  spec: LengthSpec | undefined,
  attentionMask: BigInt64Array,
  batch: number,
  numLayers: number,
): BigInt64Array {
  const seqLen = attentionMask.length / batch;
  if (spec) validateLengths(spec, numLayers, seqLen);
  const out = new BigInt64Array(batch * numLayers);
  // Full length: every layer keeps every position (a run's fixed cost, so no pass over the mask).
  if (!spec) return out.fill(BigInt(seqLen));
  for (let b = 0; b < batch; b++) {
    let n = 0;
    for (let j = 0; j < seqLen; j++) n += Number(attentionMask[b * seqLen + j]);
    for (let i = 0; i < numLayers; i++) {
      let count = seqLen;
      if (spec.form === 'absolute')
        count =
          spec.paddedLength === undefined ? spec.lengths[i]! : Math.min(spec.lengths[i]!, Math.max(n, 1));
      else if (spec.form === 'ratio') count = Math.max(1, Math.ceil(spec.ratios[i]! * n - 1e-9));
      out[b * numLayers + i] = BigInt(count);
    }
  }
  return out;
}

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

/** The smallest sub-model: every running layer keeps ceil(previous · (1 − p)), never below minLength. */
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
