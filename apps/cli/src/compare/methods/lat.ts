/**
 * `lat`: LengthDrop fine-tuning (sandwich rule, inplace distillation, LayerDrop) and the
 * evolutionary search of its accuracy/MACs frontier on the dev set; one configuration per frontier
 * point. Options: --length-drop-ratio, --search-ratio-bound, --iterations.
 */
import { lengthDefaults } from '@lat/core';
import { pointLengths } from '@lat/pipeline';
import { searchCommand } from '../../commands/search.js';
import type { CliModel } from '../../model.js';
import { loadFrontier } from '../../model.js';
import type { CompareMethod, DerivedMethod, MethodContext } from '../method.js';
import { anytimeMethod, trainInto } from './anytime.js';

export const latMethod: CompareMethod = {
  name: 'lat',
  summary: 'LengthDrop fine-tuning + evolutionary search of the accuracy/MACs frontier (Kim & Cho 2021)',
  options: ['lengthDropRatio', 'searchRatioBound', 'iterations'],
  inapplicable: ({ settings: { maxLength, options } }) => {
    // [CLS], one token and [SEP] at most: LengthDrop keeps at least minLength, nothing is left to drop.
    if (maxLength <= lengthDefaults.minLength + 1)
      return `--max-length ${maxLength} leaves no token to drop (LengthDrop keeps at least ${lengthDefaults.minLength})`;
    for (const [flag, p] of [
      ['--length-drop-ratio', options.lengthDropRatio],
      ['--search-ratio-bound', options.searchRatioBound],
    ] as const)
      if (!(p > 0 && p < 1)) return `${flag} ${p} is not a fraction in (0, 1) of a layer's tokens to drop`;
    if (options.iterations < 1) return '--iterations must be at least 1';
    return undefined;
  },
  derive: async (c) => searchedMethod(c, await trainInto(c, true), {}),
};

/**
 * The evolutionary search of a LengthDrop-trained model's frontier on the dev set (reused once
 * written next to the model), one configuration per frontier point; `recipe` adds to its recipe.
 */
export async function searchedMethod(
  c: MethodContext,
  model: CliModel,
  recipe: Record<string, unknown>,
): Promise<DerivedMethod> {
  const o = c.settings.options;
  const search = {
    iterations: o.iterations,
    population: 20,
    mutations: 30,
    crossovers: 30,
    scale: 100,
    ratioBound: o.searchRatioBound,
    seed: c.settings.seed,
  };
  // The frontier is written next to the model: a finished search is reused.
  let frontier = loadFrontier(model);
  if (!frontier) {
    frontier = await searchCommand(
      {
        model: model.dir,
        dev: c.settings.dev,
        task: c.settings.task,
        objective: 'macs',
        ...search,
        ...(c.settings.threads ? { threads: c.settings.threads } : {}),
      },
      c.quiet,
    );
  }
  const points = frontier.points.map((p) => ({
    label: p.lengths.map((l) => l.toFixed(2)).join(' '),
    spec: pointLengths(frontier, p),
  }));
  return anytimeMethod(c, model, points, {
    ...recipe,
    search: { objective: 'macs', ...search },
    area: frontier.area,
  });
}
