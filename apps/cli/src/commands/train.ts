import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LatError } from '@lat/core';
import {
  encodeExamples,
  readExamples,
  type TrainEvent,
  Trainer,
  type TrainOptions,
  writeModelFiles,
} from '@lat/train';
import cliProgress from 'cli-progress';
import {
  loadCliModel,
  resolveTask,
  runtimeFor,
  type TrainingInfo,
  trainingInfoFile,
  writeJson,
} from '../model.js';
import type { Output } from '../output.js';

export interface TrainFlags {
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
  layerDrop: number;
  gradAccumulation: number;
  checkpointEvery: number;
  warmupRatio: number;
  skipBadRows?: boolean;
  resume?: boolean;
  threads?: number;
}

export interface TrainSummary {
  out: string;
  steps: number;
  finalLoss: number;
  metrics?: Record<string, number>;
  stopped: boolean;
  seconds: number;
}

export async function trainCommand(f: TrainFlags, out: Output): Promise<TrainSummary> {
  const started = performance.now();
  const model = await loadCliModel(f.model);
  const task = resolveTask(model, f.task);
  const regression = task.labels.length === 0;
  if ((regression ? 1 : task.labels.length) !== model.config.numLabels) {
    throw new LatError(
      'BAD_CONFIG',
      `the model's head has ${model.config.numLabels} labels but ${task.name} has ${regression ? 1 : task.labels.length}; set num_labels/id2label in config.json`,
      join(f.model, 'config.json'),
    );
  }
  const onBadRow = f.skipBadRows ? 'skip' : 'error';
  const train = readExamples(f.train, task, { onBadRow });
  const dev = f.dev ? readExamples(f.dev, task, { onBadRow }) : undefined;
  for (const [file, r] of [
    [f.train, train],
    [f.dev, dev],
  ] as const) {
    if (r?.skipped) out.info(`skipped ${r.skipped} bad rows in ${file} (first: ${r.skipReasons[0]})`);
  }
  const encTrain = encodeExamples(train.examples, model.tokenizer, f.maxLength);
  const encDev = dev ? encodeExamples(dev.examples, model.tokenizer, f.maxLength) : undefined;
  const options: Partial<TrainOptions> = {
    epochs: f.epochs,
    batchSize: f.batchSize,
    learningRate: f.lr,
    seed: f.seed,
    warmupRatio: f.warmupRatio,
    gradAccumulation: f.gradAccumulation,
    checkpointEvery: f.checkpointEvery,
    lengthDrop: f.lengthDrop
      ? { ratioBound: f.lengthDropRatio, minLength: 2, numSandwich: f.numSandwich }
      : null,
    layerDrop: f.layerDrop,
  };
  mkdirSync(f.out, { recursive: true });
  const extraFiles: Record<string, string> = {};
  for (const name of ['vocab.txt', 'tokenizer_config.json', 'tokenizer.json', 'special_tokens_map.json']) {
    if (existsSync(join(f.model, name))) extraFiles[name] = join(f.model, name);
  }
  const bar = out.json
    ? undefined
    : new cliProgress.SingleBar(
        {
          format:
            'train |{bar}| {value}/{total} steps · loss {loss} · lr {lr} · {tps} tok/s · ETA {eta_formatted}',
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
  const onEvent = (e: TrainEvent) => {
    out.event({ event: e.type, ...e });
    if (!bar) return;
    if (e.type === 'step') {
      if (e.step === 1 || !bar.getTotal()) bar.start(e.totalSteps, 0, { loss: '-', lr: '-', tps: '-' });
      bar.update(e.step, {
        loss: e.loss.toFixed(4),
        lr: e.lr.toExponential(2),
        tps: Math.round(e.tokensPerSec),
      });
    } else if (e.type === 'eval') {
      bar.stop();
      out.info(
        `epoch ${e.epoch + 1}: ${Object.entries(e.metrics)
          .map(([k, v]) => `${k} ${v.toFixed(4)}`)
          .join(', ')}`,
      );
      bar.start(bar.getTotal(), e.step, { loss: '-', lr: '-', tps: '-' });
    }
  };
  const trainer = new Trainer({
    runtime: runtimeFor(f.threads),
    config: model.config,
    weights: model.weights,
    train: encTrain,
    ...(encDev ? { dev: encDev } : {}),
    metrics: task.metrics,
    options,
    outDir: f.out,
    extraFiles,
    onEvent,
  });
  const onSigint = () => trainer.stop();
  process.once('SIGINT', onSigint);
  let result: Awaited<ReturnType<Trainer['train']>>;
  try {
    result = await trainer.train(f.resume);
  } finally {
    bar?.stop();
    process.removeListener('SIGINT', onSigint);
  }
  // The trained model: an HF model directory lat (and transformers) can load.
  writeModelFiles(f.out, model.config, result.weights, extraFiles);
  const info: TrainingInfo = {
    task: task.name,
    metrics: task.metrics,
    maxLength: f.maxLength,
    lengthDrop: options.lengthDrop,
  };
  writeJson(join(f.out, trainingInfoFile), info);
  if (result.stopped)
    out.info(`stopped: checkpoint saved in ${join(f.out, 'checkpoint')} (continue with --resume)`);
  const summary: TrainSummary = {
    out: f.out,
    steps: result.steps,
    finalLoss: result.losses.at(-1) ?? Number.NaN,
    ...(result.metrics ? { metrics: result.metrics } : {}),
    stopped: result.stopped,
    seconds: (performance.now() - started) / 1000,
  };
  out.result({ command: 'train', ...summary }, () =>
    out.info(`trained ${summary.steps} steps in ${summary.seconds.toFixed(1)} s → ${f.out}`),
  );
  return summary;
}
