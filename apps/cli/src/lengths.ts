/** Turning --lengths / --ratios / --budget / --latency into the pipeline's length options. */
import { LatError, type LengthSpec } from '@lat/core';
import type { ModelConfig, ModelDtype } from '@lat/layers';
import type { LengthOptions } from '@lat/pipeline';

export interface LengthFlags {
  lengths?: string;
  ratios?: string;
  budget?: string;
  latency?: string;
  /** q8: run the int8 graph, with the q8 frontier (`lat search --dtype q8`). */
  dtype?: ModelDtype;
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
 * The length options the flags ask for (none: the full model); budgets are picked by the pipeline.
 * `--lengths` are absolute keep counts over inputs padded to `paddedLength` (the reference's
 * --length_config over max_seq_length), whatever length a batch is padded to.
 */
export function lengthOptionsFromFlags(
  f: LengthFlags,
  config: ModelConfig,
  hasFrontier: boolean,
  paddedLength: number,
): LengthOptions {
  const given = [f.lengths, f.ratios, f.budget, f.latency].filter((x) => x !== undefined).length;
  if (given > 1)
    throw new LatError('BAD_INPUT', 'give only one of --lengths, --ratios, --budget, --latency', '--lengths');
  if (f.lengths !== undefined) {
    const lengths = numbers('--lengths', f.lengths);
    checkShape('--lengths', lengths, config.numLayers);
    return { lengths, paddedLength };
  }
  if (f.ratios !== undefined) {
    const ratios = numbers('--ratios', f.ratios);
    checkShape('--ratios', ratios, config.numLayers);
    return { ratios };
  }
  if ((f.budget ?? f.latency) !== undefined && !hasFrontier) {
    throw new LatError(
      'NOT_FOUND',
      'a budget needs a frontier: run `lat search` first or pass --frontier <file>',
      f.budget !== undefined ? '--budget' : '--latency',
    );
  }
  if (f.latency !== undefined) return { budget: /ms$/.test(f.latency) ? f.latency : `${f.latency}ms` };
  return f.budget !== undefined ? { budget: f.budget } : {};
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

/** A configuration as the options that ask for it. */
export function specOptions(spec: LengthSpec | undefined): LengthOptions {
  if (!spec) return {};
  if (spec.form === 'ratio') return { ratios: spec.ratios };
  return {
    lengths: spec.lengths,
    ...(spec.paddedLength !== undefined ? { paddedLength: spec.paddedLength } : {}),
  };
}
