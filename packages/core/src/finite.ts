import { LatError } from './errors.js';

/**
 * The model's outputs, or an error when any is NaN or infinite: scores or probabilities computed
 * from them would be meaningless (a config with a bad layer_norm_eps, weights holding NaN …).
 */
export function checkFinite<T extends ArrayLike<number>>(values: T, where = 'model'): T {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!))
      throw new LatError(
        'NON_FINITE',
        `the model computed ${values[i]} (output ${i}); its weights or config.json (layer_norm_eps, …) are broken`,
        where,
      );
  }
  return values;
}
