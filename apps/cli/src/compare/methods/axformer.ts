/**
 * `axformer`: AxFormer (REFERENCE.md §5). A plain fine-tuned model (the `plain` method's when it
 * is in the report, else trained here, in `fine-tuned/`) is pruned by `lat axformer`'s greedy
 * search — FFN blocks, attention blocks, then heads — deciding on a stratified selection split of
 * the training file (never on dev): a removal is kept only when the selection metric drops by at
 * most ε (`--epsilon`, default 0: not at all). The search log in `pruned/` makes it resumable. One configuration: the physically smaller model, at full length.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLatError } from '@lat/core';
import { readExamples, selectionSplit } from '@lat/train';
import { axformerCommand, axformerFile } from '../../commands/axformer.js';
import { loadCliModel } from '../../model.js';
import type { CompareMethod, MethodContext, PreflightContext } from '../method.js';
import { anytimeMethod, fineTuned } from './anytime.js';

/** `lat axformer`'s defaults: 10% of the training file held out, at least this many examples. */
const selection = { fraction: 0.1, min: 500 };

/**
 * Why ε or the training file cannot give a pruning run, or undefined (for `inapplicable`): a
 * negative ε, or a training file too small (or of one class) for the selection split.
 */
export function pruningProblem({ settings, task }: PreflightContext): string | undefined {
  const { epsilon } = settings.options;
  if (!(epsilon >= 0)) return `--epsilon ${epsilon} is not a tolerated drop ≥ 0`;
  try {
    selectionSplit(readExamples(settings.train, task).examples, { ...selection, where: '--train' });
    return undefined;
  } catch (e) {
    if (isLatError(e)) return e.message;
    throw e;
  }
}

/** Fine-tunes (with or without LengthDrop; see `fineTuned`) and prunes into `c.dir`, reusing what is finished. */
export async function pruneInto(c: MethodContext, lengthDrop: boolean) {
  const s = c.settings;
  const model = await fineTuned(c, lengthDrop, 'fine-tuned');
  const out = join(c.dir, 'pruned');
  const summaryPath = join(out, axformerFile);
  if (!existsSync(summaryPath))
    await axformerCommand(
      {
        model: model.dir,
        task: s.task,
        train: s.train,
        out,
        epsilon: s.options.epsilon,
        seed: s.seed,
        selectionFraction: selection.fraction,
        selectionMin: selection.min,
        maxLength: s.maxLength,
        batchSize: 64,
        // Continues from the search log a killed run left (every evaluation is cached there).
        resume: true,
        ...(s.threads ? { threads: s.threads } : {}),
      },
      c.quiet,
    );
  const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as Record<string, unknown>;
  const pruning = {
    epsilon: summary['epsilon'],
    selection: summary['selection'],
    baseline: summary['baseline'],
    final: summary['final'],
    // Neither the evaluation count nor a step's `cached`: a resumed search reports only what it
    // evaluated itself, and the same search must give the same recipe killed or not.
    accepted: (summary['accepted'] as { cached?: boolean }[]).map(({ cached: _, ...step }) => step),
  };
  return { model: await loadCliModel(out), pruning };
}

export const axformerMethod: CompareMethod = {
  name: 'axformer',
  summary:
    'AxFormer: greedy pruning of FFN blocks, attention blocks and heads on a selection split of --train (Nagarajan et al. 2022)',
  options: ['epsilon'],
  inapplicable: pruningProblem,
  derive: async (c) => {
    const { model, pruning } = await pruneInto(c, false);
    return anytimeMethod(c, model, [{ label: 'pruned' }], { pruning });
  },
};
