/**
 * AdapLeR in the CLI: `lat train --method adapler` (saliency targets from a fine-tuned model,
 * cached; then joint training of the encoder, classifier and Contribution Predictors with the
 * thresholds on their own optimiser), and eval / predict / bench of the trained model, which
 * report each input's kept tokens per layer and the MACs speed-up. An AdapLeR model directory
 * is a plain Hugging Face one plus `adapler.safetensors` (predictors and η); its
 * lat_training.json records `method: "adapler"`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LatError } from '@lat/core';
import {
  type AdaplerSetting,
  adaplerReducer,
  adaplerWeightsFile,
  createAnytimeModel,
  initialAdaplerWeights,
  isAdaplerWeight,
  type LengthReport,
  lengthReport,
  padBatch,
} from '@lat/layers';
import type { TextClassificationPipeline } from '@lat/pipeline';
import {
  type AdaplerConfig,
  adaplerDevEvaluator,
  adaplerObjective,
  dataFingerprint,
  defaultAdaplerConfig,
  type Encoded,
  encodeExamples,
  etaLearningRateFor,
  evaluate,
  type LambdaSchedule,
  lambdaScheduleFor,
  type MetricName,
  modelsFingerprint,
  parseLambdaSchedule,
  readExamples,
  readSaliencyFile,
  referenceSteps,
  saliencyTargets,
  selectionMetric,
  type TrainerSetup,
} from '@lat/train';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { resolveTask } from '../evaluation.js';
import type { LengthFlags } from '../lengths.js';
import { type CliModel, loadCliModel, runtimeFor } from '../model.js';
import { type Output, table } from '../output.js';

/** `lat train`'s AdapLeR flags. */
export interface AdaplerTrainFlags {
  gamma: number;
  /** Length penalties: one trains a model, several a φ sweep (see adapler-sweep.ts). */
  phi: number[];
  /** Default: the reference's 5e-4 scaled to the run's length (`etaLearningRateFor`). */
  etaLr?: number;
  /** Default: by the number of epochs (`lambdaScheduleFor`). */
  lambdaSchedule?: LambdaSchedule;
  /** The fine-tuned model(s), comma-separated, whose averaged saliency targets are used (default: --init-from, else --model). */
  saliencyModel?: string;
  /** Saliency targets computed before (a file from the cache). */
  saliency?: string;
}

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!(Number.isFinite(n) && n >= 0))
    throw new InvalidArgumentError(`${name} must be a number ≥ 0, got '${v}'`);
  return n;
};

/** `--phi 0.001` or a sweep `--phi 0.0001,0.001,0.01`: penalties ≥ 0, none repeated. */
export function parsePhiList(text: string): number[] {
  const phis = text.split(',').map((v) => positive('--phi')(v.trim()));
  if (new Set(phis).size !== phis.length)
    throw new InvalidArgumentError(`--phi ${text} repeats a φ; list each once`);
  return phis;
}

/** Adds the AdapLeR flags to `lat train`. */
export function adaplerTrainOptions(c: Command): Command {
  const d = defaultAdaplerConfig;
  return c
    .option(
      '--gamma <x>',
      'adapler: weight of the predictors’ KL to the saliency targets',
      positive('--gamma'),
      d.gamma,
    )
    .addOption(
      new Option(
        '--phi <x[,x…]>',
        'adapler: weight of the length penalty on the thresholds η; several: a φ sweep, one model each in <out>/phi-<φ>/ and <out>/frontier.json',
      )
        .argParser(parsePhiList)
        .default([d.phi], String(d.phi)),
    )
    .option(
      '--eta-lr <x>',
      `adapler: learning rate of the thresholds η (default: ${d.etaLearningRate} × ${referenceSteps} / the run's steps, within [${d.etaLearningRate}, 0.05])`,
      positive('--eta-lr'),
    )
    .option(
      '--lambda-schedule <first,base,growth>',
      'adapler: λ of the soft removal = first at step 1, then base·growth^epoch (default: by --epochs, ≈1e5 in the last epoch)',
      parseLambdaSchedule,
    )
    .option(
      '--saliency-model <dir>',
      'adapler: fine-tuned model(s), comma-separated, whose saliency targets are averaged (default: --init-from, else --model)',
    )
    .option('--saliency <file>', 'adapler: saliency targets computed before (saliency.*.bin from the cache)');
}

/** What an AdapLeR run adds to the trainer, and what the recipe records. */
export interface AdaplerRun {
  setup: Pick<TrainerSetup<AdaplerSetting>, 'objective' | 'evaluateDev'>;
  recipe: {
    gamma: number;
    phi: number;
    etaLearningRate: number;
    lambdaSchedule: LambdaSchedule;
    saliency: { model: string; file: string; fromCache: boolean };
    baseline?: number;
  };
}

/**
 * Saliency targets for `train` (cached under `cacheDir`, or from --saliency), the objective and
 * the dev evaluator; `model.weights` get fresh predictors and η.
 */
export async function adaplerTraining(
  f: AdaplerTrainFlags & {
    model: string;
    initFrom?: string;
    threads?: number;
    keep?: 'best' | 'last';
    epochs: number;
    batchSize: number;
    gradAccumulation: number;
  },
  model: CliModel,
  data: { train: Encoded[]; dev?: Encoded[]; metrics: readonly MetricName[] },
  cacheDir: string,
  seed: number,
  out: Output,
): Promise<AdaplerRun> {
  const runtime = runtimeFor(f.threads);
  // The reference averages the targets of its 3 best fine-tuned checkpoints: a comma-separated list.
  const sources = (f.saliencyModel ?? f.initFrom ?? f.model).split(',');
  const teachers = await Promise.all(sources.map((dir) => (dir === f.model ? model : loadCliModel(dir))));
  teachers.forEach((t, i) => {
    if (t.config.numLabels !== model.config.numLabels || t.config.hiddenSize !== model.config.hiddenSize)
      throw new LatError(
        'BAD_CONFIG',
        'its embeddings or head differ from --model’s; the saliency model must be a fine-tuned --model',
        sources[i],
      );
  });
  const weights = teachers.map((t) => t.weights);
  let saliency: { targets: Float32Array[]; model: string; file: string; fromCache: boolean };
  if (f.saliency) {
    const expect = { model: modelsFingerprint(weights), data: dataFingerprint(data.train) };
    saliency = {
      targets: readSaliencyFile(f.saliency, expect),
      ...expect,
      file: f.saliency,
      fromCache: true,
    };
  } else {
    out.info(`saliency targets from ${sources.join(', ')} …`);
    saliency = await saliencyTargets(runtime, model.config, weights, data.train, { cacheDir });
  }
  out.info(`saliency targets ${saliency.fromCache ? 'read from' : 'written to'} ${saliency.file}`);
  // The reference's selection rule compares with the best fine-tuned model's dev score.
  let baseline: number | undefined;
  if (data.dev && f.keep === 'best') {
    for (const t of teachers) {
      const ft = await createAnytimeModel(runtime, t.config, t.weights, { selection: false });
      try {
        const m = (await evaluate(ft, data.dev, data.metrics)).metrics;
        baseline = Math.max(baseline ?? Number.NEGATIVE_INFINITY, selectionMetric(Object.keys(m)).of(m));
      } finally {
        await ft.release();
      }
    }
    out.info(`fine-tuned dev score ${baseline!.toFixed(4)}: epochs within 0.01 of it are picked by speed-up`);
  }
  for (const [name, t] of initialAdaplerWeights(model.config, seed)) model.weights.set(name, t);
  if (f.phi.length !== 1)
    throw new LatError('BAD_INPUT', `one run trains one φ, got ${f.phi.join(',')}`, '--phi');
  const steps = Math.ceil(Math.ceil(data.train.length / f.batchSize) / f.gradAccumulation) * f.epochs;
  const config: AdaplerConfig = {
    gamma: f.gamma,
    phi: f.phi[0]!,
    etaLearningRate: f.etaLr ?? etaLearningRateFor(steps),
    lambda: f.lambdaSchedule ?? lambdaScheduleFor(f.epochs),
    ...(baseline !== undefined ? { baseline } : {}),
  };
  out.info(
    `η learning rate ${config.etaLearningRate.toPrecision(3)}${f.etaLr === undefined ? ` (${steps} steps)` : ''}, λ ${config.lambda.first} then ${config.lambda.base}·${+config.lambda.growth.toPrecision(4)}^epoch`,
  );
  return {
    setup: {
      objective: adaplerObjective(config, saliency.targets),
      ...(data.dev
        ? { evaluateDev: adaplerDevEvaluator(runtime, model.config, data.dev, data.metrics) }
        : {}),
    },
    recipe: {
      gamma: config.gamma,
      phi: config.phi,
      etaLearningRate: config.etaLearningRate,
      lambdaSchedule: config.lambda,
      saliency: { model: saliency.model, file: saliency.file, fromCache: saliency.fromCache },
      ...(baseline !== undefined ? { baseline } : {}),
    },
  };
}

/** Whether a model directory holds an AdapLeR model. */
export const isAdaplerModel = (dir: string) => existsSync(join(dir, adaplerWeightsFile));

/**
 * A model directory with its predictors and η, checked when read (a missing weight or η out of
 * range is an error naming adapler.safetensors).
 */
export async function loadAdaplerModel(dir: string): Promise<CliModel> {
  const model = await loadCliModel(dir);
  if (!model.adapler)
    throw new LatError(
      'NOT_FOUND',
      `not an AdapLeR model: it has no ${adaplerWeightsFile}; train one with \`lat train --method adapler\``,
      dir,
    );
  return model;
}

/** The model without AdapLeR's predictors and η: what training starts from (it makes fresh ones when it needs them). */
export function withoutAdapler(model: CliModel): CliModel {
  if (!model.adapler) return model;
  const { adapler: _adapler, ...rest } = model;
  return { ...rest, weights: new Map([...model.weights].filter(([name]) => !isAdaplerWeight(name))) };
}

/** The AdapLeR model and a labelled data file, tokenised as the model was trained. */
async function withDevData(dir: string, dev: string, taskName?: string) {
  const model = await loadAdaplerModel(dir);
  const task = resolveTask(model, taskName);
  const items = encodeExamples(
    readExamples(dev, task).examples,
    model.tokenizer,
    model.info?.maxLength ?? 128,
  );
  return { model, task, items };
}

/** The inference session: hard removal, per-input counts (a batch equals its inputs alone). */
export const openAdapler = (model: CliModel, threads?: number) =>
  createAnytimeModel<AdaplerSetting>(runtimeFor(threads), model.config, model.weights, {
    reducer: adaplerReducer,
  });

/** The per-input length summary as JSON and as lines for people. */
function describeLengths(r: LengthReport, out: Output) {
  out.info(
    `mean input length ${r.meanInputLength.toFixed(1)} · MACs speed-up ${r.macsSpeedup.toFixed(2)}× (full MACs at each input's real length / realised, predictors included)`,
  );
  out.info(
    table(
      r.meanKept.map((mean, i) => [
        i + 1,
        mean.toFixed(2),
        r.minKept[i]!,
        r.maxKept[i]!,
        histogramLine(r.histogram[i]!),
      ]),
      ['layer', 'mean kept', 'min', 'max', 'histogram (kept tokens: inputs)'],
    ),
  );
}

function histogramLine(h: number[]): string {
  const parts = h.flatMap((n, k) => (n ? [`${k}:${n}`] : []));
  return parts.length > 12 ? `${parts.slice(0, 12).join(' ')} …` : parts.join(' ');
}

export interface AdaplerEvalFlags {
  model: string;
  dev: string;
  task?: string;
  threads?: number;
}

/** `lat eval` of an AdapLeR model: the metrics, per-input lengths and the MACs speed-up. */
export async function adaplerEval(f: AdaplerEvalFlags, out: Output) {
  const { model, task, items } = await withDevData(f.model, f.dev, f.task);
  const m = await openAdapler(model, f.threads);
  try {
    const r = await evaluate(m, items, task.metrics, undefined, { batchSize: 32 });
    const lengths = lengthReport(
      model.config,
      items.map((e) => e.ids.length),
      r.kept,
    );
    const summary = {
      command: 'eval',
      method: 'adapler',
      model: f.model,
      task: task.name,
      examples: items.length,
      metrics: r.metrics,
      lengths,
    };
    out.result(summary, () => {
      out.info(
        `${task.name} dev: ${items.length} examples · ${Object.entries(r.metrics)
          .map(([k, v]) => `${k} ${v.toFixed(4)}`)
          .join(', ')}`,
      );
      describeLengths(lengths, out);
    });
    return summary;
  } finally {
    await m.release();
  }
}

/** One text through an AdapLeR model. */
export interface AdaplerPrediction {
  text: string;
  label: string | number;
  logits: number[];
  tokens: string[];
  /** Tokens kept in each layer, their positions and the tokens themselves. */
  lengths: number[];
  keptPositions: number[][];
  keptTokens: string[][];
  /** Realised MACs (predictors included) and the speed-up over the full model at this length. */
  macs: number;
  macsSpeedup: number;
  latencyMs: number;
}

/**
 * `lat predict` with an AdapLeR model (directory or bundle, opened as a pipeline): each text's
 * label, kept tokens per layer and realised MACs. Length flags do not apply: it picks them per input.
 */
export async function adaplerPredict(
  p: TextClassificationPipeline,
  f: LengthFlags & { model: string; explain?: boolean },
  texts: string[],
  out: Output,
) {
  const flag = (['budget', 'latency', 'lengths', 'ratios'] as const).find((k) => f[k] !== undefined);
  if (flag)
    throw new LatError(
      'BAD_INPUT',
      `an AdapLeR model picks each input's lengths itself; drop it (a cheaper AdapLeR model is another point of the φ-sweep frontier)`,
      `--${flag}`,
    );
  const predictions: AdaplerPrediction[] = [];
  for (const text of texts) {
    const t0 = performance.now();
    const [r] = await p(text);
    const latencyMs = performance.now() - t0;
    predictions.push({
      text,
      label: p.config.numLabels === 1 ? r!.score : r!.label,
      logits: r!.logits,
      tokens: r!.tokens,
      lengths: r!.lengths,
      keptPositions: r!.keptPositions,
      keptTokens: r!.keptPositions.map((ps) => ps.map((i) => r!.tokens[i]!)),
      macs: r!.macs,
      macsSpeedup: r!.fullMacs / r!.macs,
      latencyMs,
    });
  }
  out.result({ command: 'predict', method: 'adapler', model: f.model, predictions }, () => {
    for (const x of predictions) {
      out.info(`${x.label}  ${x.text}`);
      out.info(
        `  kept per layer ${x.lengths.join(',')} of ${x.tokens.length} · ${x.macsSpeedup.toFixed(2)}× fewer MACs · ${x.latencyMs.toFixed(2)} ms`,
      );
      if (f.explain) x.keptTokens.forEach((t, i) => out.info(`  layer ${i + 1}: ${t.join(' ')}`));
    }
  });
  return predictions;
}

/**
 * `lat bench` of an AdapLeR model over real inputs (its decisions depend on the text): batch-1
 * wall clock of the full model and of AdapLeR over the --dev inputs, median of `runs` passes,
 * with the MACs speed-up of the same inputs.
 */
export async function adaplerBench(
  f: { model: string; dev?: string; task?: string; runs: number; threads?: number },
  out: Output,
) {
  if (!f.dev)
    throw new LatError(
      'BAD_INPUT',
      'AdapLeR keeps tokens by content: bench it on real inputs (--dev <file>)',
      '--dev',
    );
  const { model, items } = await withDevData(f.model, f.dev, f.task);
  const runtime = runtimeFor(f.threads);
  const full = await createAnytimeModel(runtime, model.config, model.weights, {
    selection: false,
    keptPositions: false,
  });
  const m = await openAdapler(model, f.threads);
  try {
    const batches = items.map((e) => padBatch([e]));
    const pass = async (run: (x: (typeof batches)[number]) => Promise<unknown>) => {
      const t0 = performance.now();
      for (const x of batches) await run(x);
      return performance.now() - t0;
    };
    const median = async (run: (x: (typeof batches)[number]) => Promise<unknown>) => {
      await pass(run); // warm-up
      const times: number[] = [];
      for (let i = 0; i < Math.max(1, f.runs); i++) times.push(await pass(run));
      return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
    };
    const fullMs = await median((x) => full.run(x));
    const adaplerMs = await median((x) => m.run(x));
    const kept: number[][] = [];
    for (const x of batches) kept.push((await m.run(x)).keptPositions.map((l) => l[0]!.length));
    const lengths = lengthReport(
      model.config,
      items.map((e) => e.ids.length),
      kept,
    );
    const result = {
      command: 'bench',
      method: 'adapler',
      model: f.model,
      inputs: items.length,
      batch: 1,
      threads: f.threads ?? null,
      fullMsPerInput: fullMs / items.length,
      adaplerMsPerInput: adaplerMs / items.length,
      speedup: fullMs / adaplerMs,
      macsSpeedup: lengths.macsSpeedup,
      lengths,
    };
    out.result(result, () => {
      out.info(`batch-1 latency over ${items.length} inputs of ${f.dev} (median of ${f.runs} passes)`);
      out.info(
        table(
          [
            ['full', result.fullMsPerInput.toFixed(3), '1.00×', '1.00×'],
            [
              'adapler',
              result.adaplerMsPerInput.toFixed(3),
              `${result.speedup.toFixed(2)}×`,
              `${lengths.macsSpeedup.toFixed(2)}×`,
            ],
          ],
          ['model', 'ms/input', 'speed-up', 'MACs speed-up'],
        ),
      );
      describeLengths(lengths, out);
    });
    return result;
  } finally {
    await m.release();
    await full.release();
  }
}
