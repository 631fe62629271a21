import { LatError } from '@lat/core';

/**
 * A length configuration in one of its two forms: absolute keep counts per layer over the padded
 * sequence (as the LAT reference uses), or ratios of each input's real length.
 *
 * `paddedLength` says which padded length absolute counts refer to (the reference's
 * max_seq_length, e.g. 128): inputs may then come in batches padded to less, and each example
 * keeps min(count, its real length) tokens — the same tokens it keeps padded to `paddedLength`,
 * since padding ranks below every real token. Without it, counts refer to the batch as given.
 */
export type LengthSpec =
  | { form: 'absolute'; lengths: readonly number[]; paddedLength?: number }
  | { form: 'ratio'; ratios: readonly number[] };

/** Validates a configuration for `numLayers` layers and inputs padded to `seqLen`. */
export function validateLengths(spec: LengthSpec, numLayers: number, seqLen: number): void {
  const values = spec.form === 'absolute' ? spec.lengths : spec.ratios;
  const field = spec.form === 'absolute' ? 'lengths' : 'ratios';
  const fail = (msg: string): never => {
    throw new LatError('BAD_LENGTHS', msg, field);
  };
  if (values.length !== numLayers) fail(`expected ${numLayers} values (one per layer), got ${values.length}`);
  const padded = spec.form === 'absolute' ? spec.paddedLength : undefined;
  if (padded !== undefined && seqLen > padded)
    fail(`inputs have ${seqLen} tokens but the lengths refer to inputs padded to ${padded}`);
  const limit = padded ?? seqLen;
  let prev = spec.form === 'absolute' ? limit : 1;
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) fail(`value ${i + 1} is ${v}; use finite numbers`);
    if (spec.form === 'absolute') {
      if (!Number.isInteger(v) || v < 1) fail(`value ${i + 1} is ${v}; keep counts are whole numbers ≥ 1`);
      if (v > limit)
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
 * Per-example keep counts [B × L] for the graph's `keep_counts` input. Ratios become
 * ceil(r · n) of each example's real length n (at least 1); absolute counts are the same for every
 * example. `undefined` means full length.
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
  for (let b = 0; b < batch; b++) {
    let n = 0;
    for (let j = 0; j < seqLen; j++) n += Number(attentionMask[b * seqLen + j]);
    for (let i = 0; i < numLayers; i++) {
      let count = seqLen;
      if (spec?.form === 'absolute')
        count =
          spec.paddedLength === undefined ? spec.lengths[i]! : Math.min(spec.lengths[i]!, Math.max(n, 1));
      else if (spec?.form === 'ratio') count = Math.max(1, Math.ceil(spec.ratios[i]! * n - 1e-9));
      out[b * numLayers + i] = BigInt(count);
    }
  }
  return out;
}
