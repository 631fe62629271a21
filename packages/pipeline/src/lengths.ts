/** Turning a call's `{ budget }`, `{ latencyMs }`, `{ ratios }` or `{ lengths }` into a length configuration. */
import { keepCounts, LatError, type LengthSpec, validateLengths } from '@lat/core';
import { fitLengths, type ModelConfig, poolingMacs } from '@lat/layers';
import { type Budget, type FrontierFile, type FrontierPoint, parseBudget, pick } from '@lat/search';

/** How much of the model to run; give at most one. Nothing means the full model. */
export interface LengthOptions {
  /**
   * A point of the model's frontier: a cost fraction (`0.5`, `'50%'`), a latency (`'10ms'`) or a
   * metric floor (`'acc>=0.9'`); the best point within it is used.
   */
  budget?: number | string | Budget;
  /** The most accurate frontier point measured to run within this many milliseconds (`lat bench --save`). */
  latencyMs?: number;
  /** Per layer, the fraction of each input's tokens to keep (non-increasing, in (0, 1]). */
  ratios?: readonly number[];
  /** Per layer, how many tokens to keep (non-increasing; inputs shorter than a count keep all). */
  lengths?: readonly number[];
  /**
   * With `lengths`: the padded length the counts refer to (the LAT reference's max_seq_length,
   * as its --length_config): each input keeps min(count, its length), as it would padded to it.
   */
  paddedLength?: number;
}

const lengthKeys = ['budget', 'latencyMs', 'ratios', 'lengths'] as const;

/** The configuration a call asked for, and the frontier point it came from (for budgets). */
export function resolveLengths(
  o: LengthOptions,
  numLayers: number,
  frontier?: FrontierFile,
): { spec?: LengthSpec; point?: FrontierPoint } {
  const given = lengthKeys.filter((k) => o[k] !== undefined);
  if (given.length > 1)
    throw new LatError(
      'BAD_INPUT',
      `give only one of ${lengthKeys.join(', ')}; got ${given.join(' and ')}`,
      given[1],
    );
  if (o.paddedLength !== undefined && o.lengths === undefined)
    throw new LatError(
      'BAD_INPUT',
      'paddedLength goes with lengths (the counts it refers to)',
      'paddedLength',
    );
  if (o.lengths !== undefined) {
    const spec: LengthSpec = {
      form: 'absolute',
      lengths: [...o.lengths],
      ...(o.paddedLength !== undefined ? { paddedLength: o.paddedLength } : {}),
    };
    validateLengths(spec, numLayers, o.paddedLength ?? Number.POSITIVE_INFINITY);
    return { spec };
  }
  if (o.ratios !== undefined) {
    const spec: LengthSpec = { form: 'ratio', ratios: [...o.ratios] };
    validateLengths(spec, numLayers, 1);
    return { spec };
  }
  const budget =
    o.latencyMs !== undefined
      ? { latencyMs: o.latencyMs }
      : typeof o.budget === 'number'
        ? parseBudget(String(o.budget))
        : typeof o.budget === 'string'
          ? parseBudget(o.budget)
          : o.budget;
  if (budget === undefined) return {};
  if (!frontier) {
    throw new LatError(
      'NOT_FOUND',
      "a budget needs the model's frontier: run `lat search` (it writes frontier.json next to the model and `lat export` puts it in the bundle), or pass { frontier }",
      o.latencyMs !== undefined ? 'latencyMs' : 'budget',
    );
  }
  const point = pick(frontier, budget);
  return { spec: pointLengths(frontier, point), point };
}

/** An AdapLeR model picks each input's lengths itself: a budget or lengths asked of it are an error. */
export function refuseAdaplerLengths(o: LengthOptions): void {
  const given = Object.entries(o).find(([, v]) => v !== undefined)?.[0];
  if (given)
    throw new LatError(
      'UNSUPPORTED',
      `this AdapLeR model picks each input's lengths itself, so it takes no ${given}; for a cheaper or more accurate model pick another point of the φ-sweep frontier (one AdapLeR model per φ)`,
      given,
    );
}

/** A frontier point's lengths as a configuration, in the frontier's length form. */
export function pointLengths(frontier: FrontierFile, point: FrontierPoint): LengthSpec {
  return frontier.lengthForm === 'ratio'
    ? { form: 'ratio', ratios: point.lengths }
    : { form: 'absolute', lengths: point.lengths, paddedLength: frontier.paddedLength ?? frontier.maxLength };
}

/**
 * MACs of one input of `tokens` real tokens whose layers kept `counts` (the graph's keep counts;
 * counts above the input's length keep all of it).
 */
export function inputMacs(config: ModelConfig, tokens: number, counts?: readonly number[]): number {
  const rows = counts?.map((c) => Math.min(c, tokens));
  // A pooled model's rows per layer are its schedule's, its blockwise layers attend n·c, its scorers cost too.
  return poolingMacs(config, tokens, rows);
}

/** MACs of one input of `tokens` real tokens run at a configuration (full length when undefined). */
export function macsAt(config: ModelConfig, tokens: number, spec?: LengthSpec): number {
  if (!spec) return inputMacs(config, tokens);
  const mask = new BigInt64Array(tokens).fill(1n);
  return inputMacs(
    config,
    tokens,
    Array.from(keepCounts(fitLengths(spec, tokens), mask, 1, config.numLayers), Number),
  );
}
