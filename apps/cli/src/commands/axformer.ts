/**
 * `lat axformer`: AxFormer's accuracy-driven pruning and selective hard attention (REFERENCE.md
 * §5) of a fine-tuned classifier. Decisions are made on a selection set held out from the
 * training file (stratified, seeded; `--select-on-dev` decides on --dev instead, as an ablation),
 * every candidate runs through one masked session, and the result is written as a physically
 * smaller model directory that every other command loads.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AxformerMasks,
  describeLayers,
  encoderMacs,
  LatError,
  type Runtime,
  type StateDict,
} from '@lat/core';
import { writeSafetensors } from '@lat/core/node';
import {
  axformerReducer,
  createAnytimeModel,
  type Encoded,
  fullMasks,
  layerShape,
  type ModelConfig,
  padBatch,
  parameterCount,
  prunedConfig,
  pruneModel,
  toHfConfig,
  toHfNames,
} from '@lat/layers';
import {
  type AxformerLog,
  type AxformerStep,
  axformerSearch,
  hardAttentionKs,
  parseAxformerLog,
  randomRemoval,
} from '@lat/search';
import {
  encodeExamples,
  evaluate,
  isRegression,
  readExamples,
  selectionMetric,
  selectionSplit,
} from '@lat/train';
import { type Command, InvalidArgumentError } from 'commander';
import { resolveTask } from '../evaluation.js';
import { type CliModel, loadCliModel, runtimeFor, trainingInfoFile, writeJson } from '../model.js';
import { type Output, table } from '../output.js';

export interface AxformerFlags {
  model: string;
  task?: string;
  train?: string;
  dev?: string;
  out: string;
  epsilon: number;
  hardAttention?: boolean;
  /** Decide on --dev instead of a split of --train (the selection-bias ablation). */
  selectOnDev?: boolean;
  seed: number;
  selectionFraction: number;
  selectionMin: number;
  maxLength?: number;
  batchSize: number;
  resume?: boolean;
  threads?: number;
}

/** The search log, kept in --out while the search runs (what --resume reads). */
export const axformerLogFile = 'lat_axformer_log.json';
/** The summary written with the pruned model. */
export const axformerFile = 'lat_axformer.json';

const tokenizerFiles = ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/** What a model's structure removed, per layer (for `lat info` and the summary). */
export function removedPerLayer(c: ModelConfig) {
  return Array.from({ length: c.numLayers }, (_, layer) => {
    const s = layerShape(c, layer);
    return {
      layer,
      attention: s.heads.length > 0,
      heads: [...s.heads],
      removedHeads: Array.from({ length: c.numHeads }, (_, h) => h).filter((h) => !s.heads.includes(h)),
      ffn: s.ffn,
      hardAttentionK: s.hardAttentionK ?? null,
    };
  });
}

/** One line per layer: what is left of it. */
export function structureLines(c: ModelConfig): string[] {
  const shapes = Array.from({ length: c.numLayers }, (_, i) => layerShape(c, i));
  return describeLayers(shapes, c.numHeads).map((d, i) => `layer ${i}: ${d}`);
}

function selectionData(model: CliModel, f: AxformerFlags) {
  const task = resolveTask(model, f.task);
  if (f.selectOnDev) {
    if (!f.dev) throw new LatError('BAD_INPUT', 'needs --dev <file> to decide on', '--select-on-dev');
    const examples = readExamples(f.dev, task).examples;
    return { task, source: `${f.dev} (dev: the selection-bias ablation)`, examples };
  }
  if (!f.train)
    throw new LatError(
      'BAD_INPUT',
      'pass the training file to hold the selection set out of (--train train.tsv)',
      '--train',
    );
  const { selection } = selectionSplit(readExamples(f.train, task).examples, {
    fraction: f.selectionFraction,
    min: f.selectionMin,
    seed: f.seed,
    regression: isRegression(task),
    where: f.train,
  });
  return {
    task,
    source: `${f.train} (stratified ${f.selectionFraction * 100}% split, seed ${f.seed})`,
    examples: selection,
  };
}

/** Sorted by length, so batches carry little padding (the metric does not depend on the order). */
const byLength = (items: Encoded[]) => [...items].sort((a, b) => a.ids.length - b.ids.length);

export async function axformerCommand(f: AxformerFlags, out: Output) {
  const model = await loadCliModel(f.model);
  if (model.span)
    throw new LatError(
      'BAD_INPUT',
      'lat axformer prunes classification and regression models; this is a span model',
      f.model,
    );
  if (!(f.epsilon >= 0)) throw new LatError('BAD_INPUT', `must be ≥ 0, got ${f.epsilon}`, '--epsilon');
  if (existsSync(join(f.out, 'config.json')) && !f.resume)
    throw new LatError('BAD_INPUT', 'already holds a model; choose another --out', f.out);
  const maxLength = f.maxLength ?? model.info?.maxLength ?? 128;
  const c = model.config;
  const sel = selectionData(model, f);
  const items = byLength(encodeExamples(sel.examples, model.tokenizer, maxLength));
  const dev =
    f.dev && !f.selectOnDev
      ? byLength(encodeExamples(readExamples(f.dev, sel.task).examples, model.tokenizer, maxLength))
      : undefined;
  const metric = selectionMetric(sel.task.metrics);
  const meanLength = Math.round(items.reduce((a, e) => a + e.ids.length, 0) / items.length);
  out.info(`selection set: ${items.length} examples from ${sel.source}; ${metric.name}, ε = ${f.epsilon}`);

  mkdirSync(f.out, { recursive: true });
  const logPath = join(f.out, axformerLogFile);
  const resume: AxformerLog | undefined =
    f.resume && existsSync(logPath)
      ? parseAxformerLog(JSON.parse(readFileSync(logPath, 'utf8')), logPath)
      : undefined;
  if (resume) out.info(`resuming: ${Object.keys(resume.evaluations).length} evaluations from ${logPath}`);

  const session = await createAnytimeModel(runtimeFor(f.threads), c, model.weights, {
    reducer: axformerReducer,
    keptPositions: false,
  });
  const score = async (data: Encoded[], masks: AxformerMasks) =>
    metric.of((await evaluate(session, data, sel.task.metrics, masks, { batchSize: f.batchSize })).metrics);
  const start = fullMasks(c);
  const started = Date.now();
  try {
    const result = await axformerSearch({
      start,
      epsilon: f.epsilon,
      ...(f.hardAttention ? { hardAttentionKs: hardAttentionKs(maxLength) } : {}),
      evaluate: (m) => score(items, m),
      cost: (m) => encoderMacs(prunedConfig(c, m), meanLength),
      ...(resume ? { resume } : {}),
      onStep: (s: AxformerStep, log) => {
        writeJson(logPath, log);
        out.event({ event: 'candidate', ...s });
        out.info(
          `pass ${s.pass} ${s.phase} layer ${s.layer}${s.head !== undefined ? ` head ${s.head}` : ''}${s.k ? ` k=${s.k}` : ''}: ${metric.name} ${s.metric.toFixed(4)} vs ${s.current.toFixed(4)} → ${s.accepted ? 'accepted' : 'kept'}${s.cached ? ' (cached)' : ''}`,
        );
      },
    });
    const pruned = pruneModel(c, model.weights, result.masks);
    writeSafetensors(join(f.out, 'model.safetensors'), toHfNames(pruned.weights, pruned.config), {
      format: 'pt',
    });
    writeJson(join(f.out, 'config.json'), toHfConfig(pruned.config));
    for (const name of tokenizerFiles)
      if (existsSync(join(model.dir, name))) copyFileSync(join(model.dir, name), join(f.out, name));
    writeJson(join(f.out, trainingInfoFile), {
      ...(model.info ?? { lengthDrop: null }),
      task: sel.task.name,
      metrics: [...sel.task.metrics],
      maxLength,
    });
    // The random-removal control: as many blocks and heads removed, at random (seeded).
    const control = randomRemoval(start, result.masks, f.seed);
    const devScores = dev
      ? {
          examples: dev.length,
          before: await score(dev, start),
          after: await score(dev, result.masks),
          control: await score(dev, control),
          latency: await devLatency(
            runtimeFor(f.threads),
            [c, model.weights],
            [pruned.config, pruned.weights],
            dev,
          ),
        }
      : null;
    const bytes = (dir: string) => {
      const p = join(dir, 'model.safetensors');
      return existsSync(p) ? statSync(p).size : null;
    };
    const summary = {
      command: 'axformer',
      task: sel.task.name,
      metric: metric.name,
      epsilon: f.epsilon,
      selection: { source: sel.source, examples: items.length, seed: f.seed, onDev: Boolean(f.selectOnDev) },
      baseline: result.baseline,
      final: result.metric,
      dev: devScores,
      parameters: {
        before: parameterCount(c),
        after: parameterCount(pruned.config),
        control: parameterCount(prunedConfig(c, control)),
      },
      bytes: { before: bytes(model.dir), after: bytes(f.out) },
      macs: {
        length: maxLength,
        before: encoderMacs(c, maxLength),
        after: encoderMacs(pruned.config, maxLength),
        meanLength,
        beforeAtMean: encoderMacs(c, meanLength),
        afterAtMean: encoderMacs(pruned.config, meanLength),
      },
      accepted: result.accepted,
      layers: removedPerLayer(pruned.config),
      evaluations: result.evaluations,
      seconds: (Date.now() - started) / 1000,
      out: f.out,
    };
    writeJson(join(f.out, axformerFile), { ...summary, log: result.log });
    out.result(summary, () => {
      out.info(`\n${structureLines(pruned.config).join('\n')}`);
      const d = devScores;
      const mmacs = (x: number) => (x / 1e6).toFixed(1);
      const rows: (string | number)[][] = [
        [`${metric.name} (selection)`, result.baseline.toFixed(4), result.metric.toFixed(4), ''],
        ...(d
          ? [[`${metric.name} (dev)`, d.before.toFixed(4), d.after.toFixed(4), d.control.toFixed(4)]]
          : []),
        ['parameters', summary.parameters.before, summary.parameters.after, summary.parameters.control],
        ['bytes', summary.bytes.before ?? '-', summary.bytes.after ?? '-', ''],
        [`MMACs at ${maxLength} tokens`, mmacs(summary.macs.before), mmacs(summary.macs.after), ''],
        ...(d
          ? [
              [
                'ms per dev example (batch 1)',
                d.latency.beforeMs.toFixed(3),
                d.latency.afterMs.toFixed(3),
                '',
              ],
            ]
          : []),
      ];
      out.info(table(rows, ['', 'fine-tuned', 'axformer', 'random control']));
      if (d)
        out.info(`measured speed-up ${d.latency.speedup.toFixed(2)}× on ${d.latency.examples} dev examples`);
      out.info(
        `${result.accepted.length} changes accepted, ${result.evaluations} evaluations in ${summary.seconds.toFixed(0)} s → ${f.out}`,
      );
    });
    return summary;
  } finally {
    await session.release();
  }
}

/**
 * Measured latency of the fine-tuned and the pruned model (plain graphs) over the dev set at
 * batch 1, alternating the two for three rounds and keeping each one's median: ms per example.
 */
async function devLatency(
  runtime: Runtime,
  [c0, w0]: [ModelConfig, StateDict],
  [c1, w1]: [ModelConfig, StateDict],
  dev: Encoded[],
) {
  const data = dev.slice(0, 300);
  const models = [
    await createAnytimeModel(runtime, c0, w0, { selection: false, keptPositions: false }),
    await createAnytimeModel(runtime, c1, w1, { selection: false, keptPositions: false }),
  ];
  const times: number[][] = [[], []];
  try {
    for (let round = 0; round < 3; round++)
      for (const [i, m] of models.entries()) {
        const t0 = performance.now();
        for (const e of data) await m.run(padBatch([e]));
        times[i]!.push((performance.now() - t0) / data.length);
      }
  } finally {
    for (const m of models) await m.release();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
  const [beforeMs, afterMs] = [median(times[0]!), median(times[1]!)];
  return { examples: data.length, beforeMs, afterMs, speedup: beforeMs / afterMs };
}

const number = (name: string, ok: (x: number) => boolean, what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || !ok(n)) throw new InvalidArgumentError(`${name} must be ${what}, got '${v}'`);
  return n;
};
const whole = (name: string) => number(name, (x) => Number.isInteger(x) && x > 0, 'a whole number > 0');

/** Registers `lat axformer` on the program. */
export function registerAxformer(program: Command, out: () => Output, threads: () => { threads?: number }) {
  program
    .command('axformer')
    .description(
      'AxFormer: prune FFN blocks, attention blocks and heads that do not help the task, then hard attention; writes a smaller model',
    )
    .requiredOption('--model <dir>', 'a fine-tuned classification model directory')
    .option('--task <name>', 'task (default: the one the model was trained on)')
    .option('--train <file>', 'training data: the selection set is held out of it')
    .option('--dev <file>', 'dev data: reported before and after (never decided on, unless --select-on-dev)')
    .requiredOption('--out <dir>', 'directory for the pruned model')
    .option(
      '--epsilon <x>',
      'tolerated metric drop per accepted removal',
      number('--epsilon', (x) => x >= 0, 'a number ≥ 0'),
      0,
    )
    .option('--hard-attention', 'then try top-k hard attention per layer, top layer first')
    .option('--select-on-dev', 'ablation: decide on --dev instead of a split of --train (selection bias)')
    .option(
      '--seed <n>',
      'seed of the selection split',
      number('--seed', (x) => Number.isInteger(x) && x >= 0, 'a whole number'),
      0,
    )
    .option(
      '--selection-fraction <x>',
      'share of --train held out',
      number('--selection-fraction', (x) => x > 0 && x < 1, 'in (0, 1)'),
      0.1,
    )
    .option('--selection-min <n>', 'at least this many selection examples', whole('--selection-min'), 500)
    .option(
      '--max-length <n>',
      'tokens per input (default: the training one, else 128)',
      whole('--max-length'),
    )
    .option('--batch-size <n>', 'evaluation batch size', whole('--batch-size'), 64)
    .option('--resume', `continue an interrupted run from <out>/${axformerLogFile}`)
    .action(async (o) => {
      await axformerCommand({ ...o, ...threads() }, out());
    });
}
