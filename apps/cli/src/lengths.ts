/** Turning --lengths / --ratios / --budget / --latency into a length configuration. */
import { encoderMacs, LatError, type ModelConfig } from '@lat/core';
import type { LengthSpec } from '@lat/layers';
import { type FrontierFile, type FrontierPoint, parseBudget, pick } from '@lat/search';

export interface LengthFlags {
  lengths?: string;
  ratios?: string;
  budget?: string;
  latency?: string;
}

/** Comma-separated numbers; the reference's tuple form `(100, 90, 80)` is accepted too. */
function numbers(flag: string, text: string): number[] {
  const parts = text
    .trim()
    .replace(/^\((.*)\)$/s, '$1')
    .split(',')
    .map((s) => s.trim());
  const out = parts.map(Number);
  const bad = parts.findIndex((p, i) => p === '' || !Number.isFinite(out[i]!));
  if (bad >= 0)
    throw new LatError('BAD_LENGTHS', `'${parts[bad]}' is not a number; give comma-separated numbers`, flag);
  return out;
}

/**
 * The configuration asked for, and the frontier point it came from (when a budget picked it).
 * `--lengths` are absolute keep counts over inputs padded to `paddedLength` (the reference's
 * --length_config over max_seq_length), whatever length a batch is padded to.
 */
export function lengthsFromFlags(
  f: LengthFlags,
  config: ModelConfig,
  frontier: FrontierFile | undefined,
  paddedLength: number,
): { spec?: LengthSpec; point?: FrontierPoint } {
  const given = [f.lengths, f.ratios, f.budget, f.latency].filter((x) => x !== undefined).length;
  if (given > 1)
    throw new LatError('BAD_INPUT', 'give only one of --lengths, --ratios, --budget, --latency', '--lengths');
  if (f.lengths !== undefined) {
    const lengths = numbers('--lengths', f.lengths);
    checkShape('--lengths', lengths, config.numLayers);
    return { spec: { form: 'absolute', lengths, paddedLength } };
  }
  if (f.ratios !== undefined) {
    const ratios = numbers('--ratios', f.ratios);
    checkShape('--ratios', ratios, config.numLayers);
    return { spec: { form: 'ratio', ratios } };
  }
  const budgetText =
    f.budget ??
    (f.latency !== undefined ? (/ms$/.test(f.latency) ? f.latency : `${f.latency}ms`) : undefined);
  if (budgetText === undefined) return {};
  const budget = parseBudget(budgetText);
  if (!frontier) {
    throw new LatError(
      'NOT_FOUND',
      'a budget needs a frontier: run `lat search` first or pass --frontier <file>',
      '--budget',
    );
  }
  const point = pick(frontier, budget);
  return {
    spec: pointSpec(frontier, point.lengths),
    point,
  };
}

function checkShape(flag: string, values: number[], layers: number) {
  if (values.length !== layers) {
    throw new LatError(
      'BAD_LENGTHS',
      `expected ${layers} values (one per layer), got ${values.length}`,
      flag,
    );
  }
  values.forEach((v, i) => {
    if (v <= 0)
      throw new LatError('BAD_LENGTHS', `value ${i + 1} is ${v}; lengths must be ≥ 1 (ratios > 0)`, flag);
    if (i > 0 && v > values[i - 1]!) {
      throw new LatError(
        'BAD_LENGTHS',
        `value ${i + 1} (${v}) is larger than the one before; lengths must not increase`,
        flag,
      );
    }
  });
}

/** A frontier point's lengths as a configuration, in the frontier's length form. */
export function pointSpec(frontier: FrontierFile, lengths: number[]): LengthSpec {
  return frontier.lengthForm === 'ratio'
    ? { form: 'ratio', ratios: lengths }
    : { form: 'absolute', lengths, paddedLength: frontier.paddedLength ?? frontier.maxLength };
}

/** MACs of running one input of `seqLen` tokens at keep counts `counts`. */
export function macsFor(config: ModelConfig, seqLen: number, counts?: readonly number[]): number {
  return encoderMacs(config, seqLen, counts);
}
