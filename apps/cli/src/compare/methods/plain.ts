/** `plain`: fine-tuning without LengthDrop; one configuration, the full model. */
import type { CompareMethod } from '../method.js';
import { anytimeMethod, trainInto } from './anytime.js';

export const plainMethod: CompareMethod = {
  name: 'plain',
  summary: 'plain fine-tuning (no LengthDrop, no LayerDrop), run at full length',
  options: [],
  inapplicable: () => undefined,
  derive: async (c) => anytimeMethod(c, await trainInto(c, false), [{ label: 'full' }], {}),
};
