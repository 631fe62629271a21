/** Model knowledge per `model_type`, in one registry. */
import type { Architecture } from './architecture.js';
import { bert } from './bert.js';
import { distilbert } from './distilbert.js';
import { roberta } from './roberta.js';

export type { Architecture, ConfigKeys } from './architecture.js';
export * from './config.js';
export * from './positions.js';
export * from './pruning.js';
export * from './weights.js';

/** Every architecture lat supports, by Hugging Face `model_type`. */
export const architectures = { bert, distilbert, roberta } as const;

/** The registry entry of a config's architecture. */
export function architectureOf(c: { architecture: keyof typeof architectures }): Architecture {
  return architectures[c.architecture];
}
