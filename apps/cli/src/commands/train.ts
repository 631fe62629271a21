import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LatError, lengthDefaults, type StateDict } from '@lat/core';
import { createAnytimeModel } from '@lat/layers';
import { anytimeSpanModel, spanItems, squadDevMetrics } from '@lat/qa';
import {
  type Encoded,
  lockOutputDir,
  type MetricName,
  type Objective,
  poolingObjective,
  readTokenized,
  type TrainEvent,
  Trainer,
  type TrainerSetup,
  type TrainOptions,
  type TrainResult,
  type TrainTask,
  writeModelFiles,
} from '@lat/train';
import { Option } from 'commander';
import { resolveTask } from '../evaluation.js';
import {
  type CliModel,
  incompleteFile,
  loadCliModel,
  loading,
  runtimeFor,
  type TrainingInfo,
  type TrainingRecipe,
  trainingInfoFile,
  writeJson,
} from '../model.js';
import type { Output } from '../output.js';
import { type PoolingFlags, withPoolingFlags } from '../pooling.js';
import { createProgress } from '../progress.js';
import { loadSquad } from '../squad.js';
import { type AdaplerRun, type AdaplerTrainFlags, adaplerTraining, withoutAdapler } from './adapler.js';

/** `lat train --method`: plain/LengthDrop training, AdapLeR, or trainable pooling. */
export const trainMethodOption = () =>
  new Option(
    '--method <method>',
    'lat: LengthDrop (or plain); adapler: per-input token removal (REFERENCE §3); pooling: trainable pooling (--pooling, REFERENCE §4)',
  )
    .choices(['lat', 'adapler', 'pooling'])
    .default('lat');

export interface TrainFlags extends Partial<AdaplerTrainFlags>, PoolingFlags {
  method?: 'lat' | 'adapler' | 'pooling';
  model: string;
  task: string;
  train: string;
  dev?: string;
  out: string;
  epochs: number;
  batchSize: number;
  lr: number;
  maxLength: number;
  seed: number;
  lengthDrop: boolean;
  lengthDropRatio: number;
  numSandwich: number;
  /** Default: 0.2 with LengthDrop, 0 for plain fine-tuning. */
  layerDrop?: number;
  kd?: 'forward' | 'reverse';
  lengthSampling?: 'per-example' | 'per-batch';
  keep?: 'best' | 'last';
  /** Start from these weights (e.g. a plain fine-tuned model: the reference's two-stage recipe). */
  initFrom?: string;
  gradAccumulation: number;
  checkpointEvery: number;
  warmupRatio: number;
  skipBadRows?: boolean;
  /** false: no tokenised-data cache (`--no-cache`). */
  cache?: boolean;
  cacheDir?: string;
  resume?: boolean;
  /** Resume even when the arguments or data differ from the checkpoint's. */
  force?: boolean;
  threads?: number;
}

export interface TrainSummary {
  out: string;
  /** How the model was trained (also in lat_training.json). */
  recipe: TrainingRecipe;
  steps: number;
  finalLoss: number;
  metrics?: Record<string, number>;
  stopped: boolean;
  seconds: number;
}

export async function trainCommand(f: TrainFlags, out: Output): Promise<TrainSummary> {
  // First: one run per --out (which must be writable), before any data is read.
  // Releasing it also removes an --out folder it created that the run left empty (it failed early).
  const release = lockOutputDir(f.out);
  try {
    return await trainLocked(f, out);
  } finally {
    release();
  }
}

async function trainLocked(f: TrainFlags, out: Output): Promise<TrainSummary> {
  const started = performance.now();
  const squad = f.task.toLowerCase() === 'squad';
  const initial = await withInitialWeights(f, withoutAdapler(await loadCliModel(f.model, { span: squad })));
  const { initFrom } = initial;
  const model = withPoolingFlags(f, initial.model, loading.warn);
  const run: Run = { f, model, out, started, ...(initFrom ? { initFrom } : {}) };
  if (squad && f.method === 'adapler')
    throw new LatError(
      'UNSUPPORTED',
      'AdapLeR is built for sequence classification; train SQuAD with --method lat',
      '--method',
    );
  if (squad) return trainSquad(run);
  const task = resolveTask(model, f.task);
  const regression = task.labels.length === 0;
  if ((regression ? 1 : task.labels.length) !== model.config.numLabels) {
    throw new LatError(
      'BAD_CONFIG',
      `the model's head has ${model.config.numLabels} labels but ${task.name} has ${regression ? 1 : task.labels.length}; set num_labels/id2label in config.json`,
      join(f.model, 'config.json'),
    );
  }
  const options = {
    onBadRow: f.skipBadRows ? ('skip' as const) : ('error' as const),
    maxLength: f.maxLength,
    ...(f.cache === false ? {} : { cacheDir: f.cacheDir ?? join(f.out, 'tokenized') }),
  };
  const read = (file: string) => {
    const r = readTokenized(file, task, model.tokenizer, options);
    if (r.skipped) out.info(`skipped ${r.skipped} bad rows in ${file} (first: ${r.skipReasons[0]})`);
    if (r.fromCache) out.info(`tokenised ${file} read from the cache in ${options.cacheDir}`);
    if (r.invalidUtf8)
      out.info(`warning: ${file} has ${r.invalidUtf8} byte sequences that are not UTF-8 (read as U+FFFD)`);
    return r.data;
  };
  const train = read(f.train);
  const dev = f.dev ? read(f.dev) : undefined;
  if (f.method === 'adapler') {
    const data = { train, ...(dev ? { dev } : {}), metrics: task.metrics };
    const cacheDir = options.cacheDir ?? join(f.out, 'tokenized');
    run.adapler = await adaplerTraining(
      f as TrainFlags & AdaplerTrainFlags,
      model,
      data,
      cacheDir,
      f.seed,
      out,
    );
  }
  const result = await runTrainer(run, {
    task: regression ? 'regression' : 'classification',
    train,
    ...(dev ? { dev } : {}),
    metrics: task.metrics,
    ...run.adapler?.setup,
  });
  return finish(run, result, { task: task.name, metrics: task.metrics });
}

/** One `lat train` run: its flags, the model it starts from, and where those weights came from. */
interface Run {
  f: TrainFlags;
  model: CliModel;
  out: Output;
  started: number;
  initFrom?: NonNullable<TrainingRecipe['initFrom']>;
  /** `--method adapler`: its objective, dev evaluator and recipe. */
  adapler?: AdaplerRun;
}

/** SQuAD: span training on every window; the official EM/F1 on the dev set at the end. */
async function trainSquad(run: Run): Promise<TrainSummary> {
  const { f, model, out } = run;
  const train = loadSquad(model, f.train, f.maxLength, true);
  if (train.skipped)
    out.info(`skipped ${train.skipped} questions in ${f.train} whose answer is not where answer_start says`);
  const dev = f.dev ? loadSquad(model, f.dev, f.maxLength, false) : undefined;
  const scoreDev = async (weights: StateDict) => {
    const m = await createAnytimeModel(runtimeFor(f.threads), model.config, weights, {
      head: 'span',
      keptPositions: false,
    });
    try {
      return await squadDevMetrics(anytimeSpanModel(m), dev!, {});
    } finally {
      await m.release();
    }
  };
  const result = await runTrainer(run, {
    task: 'span',
    train: spanItems(train),
    metrics: [],
    ...(f.scorerLoss ? { objective: poolingObjective(model.config, { scorerLoss: f.scorerLoss }) } : {}),
    // Keeping the best epoch scores the dev set after every epoch, else once at the end.
    ...(dev && f.keep === 'best' ? { evaluateDev: scoreDev } : {}),
  });
  if (dev) {
    result.metrics ??= await scoreDev(result.weights);
    out.info(
      `dev: exact match ${result.metrics['exact_match']!.toFixed(2)}, F1 ${result.metrics['f1']!.toFixed(2)}`,
    );
  }
  return finish(run, result, { task: 'squad', metrics: ['f1' as MetricName] });
}

async function runTrainer<S>(
  { f, model, out, initFrom }: Run,
  data: {
    task: TrainTask;
    train: Encoded[];
    dev?: Encoded[];
    metrics: readonly MetricName[];
    evaluateDev?: TrainerSetup['evaluateDev'];
    objective?: Objective<S>;
  },
): Promise<TrainResult & { signal?: NodeJS.Signals; options: TrainOptions }> {
  const progress = out.json
    ? undefined
    : createProgress(out.info, { tty: Boolean(process.stderr.isTTY), epochs: f.epochs });
  const onEvent = (e: TrainEvent) => {
    out.event({ event: e.type, ...e });
    if (e.type === 'step') progress?.step(e);
    else if (e.type === 'eval')
      progress?.line(
        `epoch ${e.epoch + 1}: ${Object.entries(e.metrics)
          .map(([k, v]) => `${k} ${v.toFixed(4)}`)
          .join(', ')}`,
      );
  };
  const trainer = new Trainer<S>({
    runtime: runtimeFor(f.threads),
    config: model.config,
    weights: model.weights,
    task: data.task,
    train: data.train,
    ...(data.dev ? { dev: data.dev } : {}),
    ...(data.evaluateDev ? { evaluateDev: data.evaluateDev } : {}),
    ...(data.objective ? { objective: data.objective } : {}),
    metrics: data.metrics,
    options: {
      epochs: f.epochs,
      batchSize: f.batchSize,
      learningRate: f.lr,
      seed: f.seed,
      warmupRatio: f.warmupRatio,
      gradAccumulation: f.gradAccumulation,
      checkpointEvery: f.checkpointEvery,
      lengthDrop: data.objective ? null : lengthDropOf(f),
      ...(f.layerDrop !== undefined ? { layerDrop: f.layerDrop } : {}),
      ...(f.kd ? { kd: f.kd } : {}),
      ...(f.lengthSampling ? { lengthSampling: f.lengthSampling } : {}),
      ...(f.keep ? { keep: f.keep } : {}),
    },
    outDir: f.out,
    extraFiles: tokenizerFiles(f.model),
    onEvent,
    run: {
      model: model.fingerprint,
      ...(initFrom ? { initFrom: initFrom.fingerprint } : {}),
      ...(f.scorerLoss ? { scorerLoss: f.scorerLoss } : {}),
    },
  });
  // Ctrl-C, `timeout`, Docker, systemd: save a checkpoint at the next step boundary and stop.
  let signal: NodeJS.Signals | undefined;
  const onSignal = (s: NodeJS.Signals) => {
    signal = s;
    trainer.stop();
  };
  for (const s of stopSignals) process.once(s, onSignal);
  try {
    return {
      ...(await trainer.train(f.resume, { force: Boolean(f.force) })),
      ...(signal ? { signal } : {}),
      options: trainer.options,
    };
  } finally {
    progress?.stop();
    for (const s of stopSignals) process.removeListener(s, onSignal);
  }
}

const stopSignals = ['SIGINT', 'SIGTERM'] as const;

/** The model with its weights replaced by --init-from's, which must have the same shapes. */
async function withInitialWeights(
  f: TrainFlags,
  model: CliModel,
): Promise<{ model: CliModel; initFrom?: Run['initFrom'] }> {
  if (!f.initFrom) return { model };
  const from = await loadCliModel(f.initFrom, { span: model.span });
  for (const [name, t] of model.weights) {
    const w = from.weights.get(name);
    if (!w || w.dims.join('x') !== t.dims.join('x')) {
      throw new LatError(
        'BAD_CONFIG',
        `${name} is ${w ? `[${w.dims}]` : 'missing'} there but [${t.dims}] in --model; --init-from needs a model of the same architecture and head`,
        f.initFrom,
      );
    }
  }
  return {
    model: { ...model, weights: new Map([...model.weights.keys()].map((n) => [n, from.weights.get(n)!])) },
    initFrom: {
      dir: f.initFrom,
      fingerprint: from.fingerprint,
      ...(from.info?.recipe ? { recipe: from.info.recipe } : {}),
    },
  };
}

function lengthDropOf(f: TrainFlags) {
  return f.lengthDrop && f.method !== 'pooling'
    ? { ratioBound: f.lengthDropRatio, minLength: lengthDefaults.minLength, numSandwich: f.numSandwich }
    : null;
}

/** Tokenizer files travel with the weights. */
function tokenizerFiles(modelDir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of ['vocab.txt', 'tokenizer_config.json', 'tokenizer.json', 'special_tokens_map.json']) {
    if (existsSync(join(modelDir, name))) files[name] = join(modelDir, name);
  }
  return files;
}

function finish(
  { f, model, out, started, initFrom, adapler }: Run,
  result: TrainResult & { signal?: NodeJS.Signals; options: TrainOptions },
  t: { task: string; metrics: readonly MetricName[] },
): TrainSummary {
  const o = result.options;
  const recipe: TrainingRecipe = {
    method: adapler ? 'adapler' : model.config.pooling ? 'pooling' : o.lengthDrop ? 'lengthdrop' : 'plain',
    epochs: o.epochs,
    batchSize: o.batchSize,
    learningRate: o.learningRate,
    warmupRatio: o.warmupRatio,
    weightDecay: o.weightDecay,
    seed: o.seed,
    layerDrop: o.layerDrop,
    kd: o.kd,
    lengthSampling: o.lengthSampling,
    keep: o.keep,
    ...(result.best ? { best: result.best } : {}),
    ...(initFrom ? { initFrom } : {}),
    ...(adapler ? { adapler: adapler.recipe } : {}),
    ...(f.scorerLoss ? { scorerLoss: f.scorerLoss } : {}),
  };
  const info: TrainingInfo = {
    task: t.task,
    metrics: [...t.metrics],
    maxLength: f.maxLength,
    lengthDrop: adapler ? null : lengthDropOf(f),
    recipe,
    ...(result.metrics?.['null_threshold'] !== undefined
      ? { nullThreshold: result.metrics['null_threshold'] }
      : {}),
  };
  writeJson(join(f.out, trainingInfoFile), info);
  if (result.stopped) {
    // No half-trained model where `lat search` would take it: the checkpoint holds the weights.
    const how = `stopped by ${result.signal ?? 'request'} at step ${result.steps}`;
    writeJson(join(f.out, incompleteFile), { reason: how });
    out.info(`${how}: checkpoint saved in ${join(f.out, 'checkpoint')} (continue with --resume)`);
  } else {
    // The trained model: an HF model directory lat (and transformers) can load.
    writeModelFiles(f.out, model.config, result.weights, tokenizerFiles(f.model));
    rmSync(join(f.out, incompleteFile), { force: true });
  }
  const summary: TrainSummary = {
    out: f.out,
    recipe,
    steps: result.steps,
    finalLoss: result.losses.at(-1) ?? Number.NaN,
    ...(result.metrics ? { metrics: result.metrics } : {}),
    stopped: result.stopped,
    seconds: (performance.now() - started) / 1000,
  };
  out.result({ command: 'train', ...summary }, () =>
    out.info(`trained ${summary.steps} steps in ${summary.seconds.toFixed(1)} s → ${f.out}`),
  );
  if (result.signal)
    // Exit like a process killed by the signal (130 SIGINT, 143 SIGTERM), so `lat train && …` stops.
    throw Object.assign(
      new LatError('INTERRUPTED', `training stopped by ${result.signal}; continue with --resume`, f.out),
      { exitCode: 128 + (result.signal === 'SIGINT' ? 2 : 15) },
    );
  return summary;
}
