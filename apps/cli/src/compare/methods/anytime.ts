/**
 * What `plain` and `lat` share: a model fine-tuned by `lat train` into the method's directory
 * (resumed from its checkpoint after a kill, reused once finished), run as the anytime graph at
 * length configurations.
 */
import { join } from 'node:path';
import { keepCounts, LatError, type LengthSpec, lengthDefaults } from '@lat/core';
import type { Encoded } from '@lat/train';
import { type TrainFlags, trainCommand } from '../../commands/train.js';
import { averageMacs, devScorer, paddedMacs } from '../../evaluation.js';
import { specOptions } from '../../lengths.js';
import { type CliModel, loadCliModel, openPipeline, trainingState } from '../../model.js';
import type { DerivedMethod, MethodConfiguration, MethodContext } from '../method.js';
import { keptSpread } from '../spread.js';

/**
 * `lat train` into `<c.dir>/<o.into>` (default `model`; `o.dir`: that directory instead): reused
 * when finished, resumed when a checkpoint is there. `o.flags` adds to or overrides the shared flags
 * (e.g. `--method adapler`); `o.load` reads the result (default: loadCliModel).
 */
export async function trainInto(
  c: MethodContext,
  lengthDrop: boolean,
  o: {
    into?: string;
    dir?: string;
    flags?: Partial<TrainFlags>;
    load?: (dir: string) => Promise<CliModel>;
  } = {},
): Promise<CliModel> {
  const dir = o.dir ?? join(c.dir, o.into ?? 'model');
  const state = trainingState(dir);
  if (state !== 'finished') {
    const s = c.settings;
    const resume = state === 'checkpoint';
    await trainCommand(
      {
        model: s.model,
        task: s.task,
        train: s.train,
        dev: s.dev,
        out: dir,
        epochs: s.epochs,
        batchSize: s.batchSize,
        lr: s.lr,
        maxLength: s.maxLength,
        seed: s.seed,
        lengthDrop,
        lengthDropRatio: s.options.lengthDropRatio,
        numSandwich: lengthDefaults.numSandwich,
        gradAccumulation: 1,
        checkpointEvery: s.checkpointEvery,
        warmupRatio: 0.1,
        resume,
        ...(s.threads ? { threads: s.threads } : {}),
        ...o.flags,
      },
      c.quiet,
    );
  }
  return (o.load ?? loadCliModel)(dir);
}

/**
 * The starting checkpoint fine-tuned plainly (`lengthDrop` false) or with LengthDrop, for a method
 * that builds on it: the `plain` (`lat`) method's own model when that method is part of this report,
 * so it is trained once whichever method needs it first; otherwise trained into `<c.dir>/<into>`.
 * Same flags either way, so the same model.
 */
export function fineTuned(c: MethodContext, lengthDrop: boolean, into: string): Promise<CliModel> {
  const owner = c.peer(lengthDrop ? 'lat' : 'plain');
  return trainInto(c, lengthDrop, owner ? { dir: join(owner, 'model') } : { into });
}

/** The model as a text-classification pipeline (compare scores classification and regression). */
export async function openClassifier(model: CliModel, threads?: number) {
  const p = await openPipeline(model, { threads });
  if (p.task !== 'text-classification') {
    await p.dispose();
    throw new LatError(
      'UNSUPPORTED',
      'lat compare compares sequence classifiers; this is a span model',
      model.dir,
    );
  }
  return p;
}

/** The trained model as a derived method whose configurations are the given length specs. */
export async function anytimeMethod(
  c: MethodContext,
  model: CliModel,
  specs: readonly { label: string; spec?: LengthSpec }[],
  recipe: Record<string, unknown>,
): Promise<DerivedMethod> {
  const p = await openClassifier(model, c.settings.threads);
  const dev = devScorer(model, p, c.settings.dev, c.settings.task);
  const padded = c.settings.maxLength;
  const configurations = specs.map(
    ({ label, spec }): MethodConfiguration => ({
      label,
      settings: spec ? { ...spec } : { form: 'full' },
      evaluate: async () => ({
        metrics: await dev.score(spec),
        macs: averageMacs(model, dev.items, spec),
        paddedMacs: paddedMacs(model, padded, spec),
        ...(spec ? { kept: keptOf(model, dev.items, spec) } : {}),
      }),
      run: (items) => p.classifyTokens(items, specOptions(spec)),
      keptPositions: async (item) => (await p.classifyTokens([item], specOptions(spec)))[0]!.keptPositions,
    }),
  );
  return {
    recipe: { training: model.info?.recipe ?? null, ...recipe },
    modelDir: model.dir,
    params: [...model.weights.values()].reduce((n, t) => n + t.data.length, 0),
    configurations,
    release: () => p.dispose(),
  };
}

/** The spread of what each layer keeps of each dev input at `spec` (the counts the graph is fed). */
function keptOf(model: CliModel, items: readonly Encoded[], spec: LengthSpec) {
  const L = model.config.numLayers;
  const counts = items.map((e) =>
    Array.from(keepCounts(spec, new BigInt64Array(e.ids.length).fill(1n), 1, L), (c) =>
      Math.min(Number(c), e.ids.length),
    ),
  );
  return keptSpread(
    counts,
    items.map((e) => e.ids.length),
  );
}
