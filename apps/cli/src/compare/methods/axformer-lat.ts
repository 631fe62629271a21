/**
 * `axformer+lat`: AxFormer composed with LAT (REFERENCE.md §5): LengthDrop fine-tuning (the `lat`
 * method's model when it is in the report, else in `fine-tuned/`), AxFormer pruning of that model on a selection split of --train (in `pruned/`), then
 * LAT's evolutionary search of the pruned model's lengths on the dev set; one configuration per
 * frontier point. Options: lat's (--length-drop-ratio, --search-ratio-bound, --iterations) and --epsilon.
 */
import type { CompareMethod } from '../method.js';
import { pruneInto, pruningProblem } from './axformer.js';
import { latMethod, searchedMethod } from './lat.js';

export const axformerLatMethod: CompareMethod = {
  name: 'axformer+lat',
  summary: 'AxFormer pruning of a LengthDrop-trained model, then LAT lengths searched on the pruned model',
  options: [...latMethod.options, 'epsilon'],
  inapplicable: (c) => latMethod.inapplicable(c) ?? pruningProblem(c),
  derive: async (c) => {
    const { model, pruning } = await pruneInto(c, true);
    return searchedMethod(c, model, { pruning });
  },
};
