import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LatError, type LengthSpec, Rng, type StateDict, WordPieceTokenizer } from '@lat/core';
import { createAnytimeModel, createRandomWeights, type ModelConfig } from '@lat/layers';
import { loadModelDir, tokenizerOf } from '@lat/layers/node';
import { createNodeRuntime } from '@lat/runtime-node';
import {
  type Encoded,
  encodeExamples,
  evaluate,
  generateRaveTask,
  generateSentimentTask,
  getTask,
  padBatch,
  readExamples,
  syntheticModelConfig,
  Trainer,
  type TrainOptions,
} from '@lat/train';
import type { Report } from '../report.js';
import { flag, numFlag, repo, threads, time } from '../setup.js';

/**
 * The point of LengthDrop: accuracy against measured speed-up for the same model fine-tuned with
 * and without it, each layer keeping r of the input's tokens. Both runs start from `weights`.
 */
export async function curve(
  report: Report,
  title: string,
  o: {
    config: ModelConfig;
    weights: StateDict;
    train: Encoded[];
    dev: Encoded[];
    /** Timed at batch 1 for the speed-up row; its ids must be in the model's vocabulary. */
    speedInput: Encoded;
    options: Pick<TrainOptions, 'epochs' | 'batchSize' | 'learningRate'>;
    /** Add the reference's second stage: LengthDrop from the plain model, reverse KL, per-batch lengths. */
    referenceRecipe?: boolean;
  },
) {
  const runtime = createNodeRuntime({ threads });
  const ratios = [1, 0.8, 0.6, 0.4, 0.2, 0.1];
  report.heading(title);
  report.push(`| training | ${ratios.map((r) => `r=${r}`).join(' | ')} |`);
  report.push(`|---|${ratios.map(() => '---').join('|')}|`);
  const speed: string[] = [];
  const devSpeed: string[] = [];
  const lengthDrop = { ratioBound: 0.4, minLength: 2, numSandwich: 2 };
  const variants: [string, Partial<TrainOptions>, boolean][] = [
    ['plain', { lengthDrop: null }, false],
    ['LengthDrop', { lengthDrop }, false],
  ];
  if (o.referenceRecipe)
    variants.push([
      'LengthDrop from plain, reverse KL, per-batch',
      { lengthDrop, kd: 'reverse', lengthSampling: 'per-batch' },
      true,
    ]);
  let plainWeights = o.weights;
  for (const [name, options, fromPlain] of variants) {
    const started = performance.now();
    const r = await new Trainer({
      runtime,
      config: o.config,
      weights: fromPlain ? plainWeights : o.weights,
      train: o.train,
      metrics: ['accuracy'],
      outDir: join(repo, 'bench/results/.train-tmp'),
      options: { seed: 42, ...o.options, ...options },
    }).train();
    console.log(`  ${name} fine-tuning: ${((performance.now() - started) / 1000).toFixed(0)} s`);
    if (name === 'plain') plainWeights = r.weights;
    const model = await createAnytimeModel(runtime, o.config, r.weights, { keptPositions: false });
    const x = padBatch([o.speedInput]);
    const full = await time(() => model.run(x));
    // The whole dev set in batches of 32 (padded per batch), as evaluation and serving run it.
    const devSet = (spec?: LengthSpec) => evaluate(model, o.dev, ['accuracy'], spec);
    const fullDev = name === 'plain' ? await time(() => devSet(), 5) : 0;
    const cells: string[] = [];
    for (const ratio of ratios) {
      const spec: LengthSpec | undefined =
        ratio === 1 ? undefined : { form: 'ratio', ratios: new Array(o.config.numLayers).fill(ratio) };
      cells.push((100 * (await devSet(spec)).metrics['accuracy']!).toFixed(1));
      if (name === 'plain') {
        speed.push(`${(full / (await time(() => model.run(x, spec)))).toFixed(2)}×`);
        devSpeed.push(`${(fullDev / (await time(() => devSet(spec), 5))).toFixed(2)}×`);
      }
    }
    await model.release();
    report.push(`| ${name} accuracy % | ${cells.join(' | ')} |`);
    console.log(name, cells.join(' '));
  }
  report.push(
    `| measured speed-up (batch 1, a ${o.speedInput.ids.length}-token dev sentence) | ${speed.join(' | ')} |`,
  );
  report.push(
    `| measured speed-up (the ${o.dev.length} dev inputs, batches of 32) | ${devSpeed.join(' | ')} |`,
  );
  report.push(
    `\nRecipes (each ${o.options.epochs} epochs, batch ${o.options.batchSize}, lr ${o.options.learningRate}, AdamW weight decay 0.01, 10% warm-up, last epoch kept): plain — no LayerDrop; LengthDrop — ratio bound 0.4, 2 sandwich sub-models, LayerDrop 0.2 with lengths drawn over the layers that run, forward KL, lengths per example over real lengths${o.referenceRecipe ? "; the reference's second stage — the same LengthDrop started from the plain model's weights, reverse KL, lengths per batch over the padded length" : ''}.`,
  );
}

/**
 * The embedded tasks on a small random-initialised BERT, trained in seconds: sentiment (a few
 * words decide, so even a plain model keeps its accuracy) and rave reviews (counting, which a
 * plain model loses when tokens are dropped).
 */
export async function accuracyCurve(report: Report) {
  const tasks = [
    {
      name: 'embedded sentiment task',
      task: generateSentimentTask({ seed: 7, train: 2000, dev: 400 }),
      epochs: 6,
      lr: 2e-3,
    },
    {
      name: 'rave task (≥ 3 praise words)',
      task: generateRaveTask({ seed: 7, train: 2000, dev: 400 }),
      epochs: 10,
      lr: 1e-3,
    },
  ];
  for (const { name, task, epochs, lr } of tasks) {
    const tok = new WordPieceTokenizer(task.vocab);
    const config = syntheticModelConfig({ layers: 4, hidden: 64, heads: 4 });
    const dev = encodeExamples(task.dev, tok, 64);
    await curve(report, `Accuracy vs speed-up, ${name} (4 layers × 64), every layer keeps r of each input`, {
      config,
      weights: createRandomWeights(config, 1),
      train: encodeExamples(task.train, tok, 64),
      dev,
      speedInput: dev[0]!,
      options: { epochs, batchSize: 32, learningRate: lr },
    });
  }
}

/**
 * The same curve on real data: --model (a Hugging Face BERT checkpoint) fine-tuned on a seeded
 * subset of --sst2's train.tsv, scored on the whole dev.tsv. Loaded with the same package
 * functions `lat train` uses (loadModelDir, getTask, readExamples, encodeExamples).
 */
export async function sst2Curve(report: Report) {
  // `pnpm bench` runs in apps/bench: a relative path that is not there is taken from the repo root.
  const path = (p: string | undefined) => (p && !existsSync(p) ? resolve(repo, p) : p);
  const dataDir = path(flag('sst2'));
  const modelDir = path(flag('model'));
  if (!dataDir || !modelDir) {
    const why = `SST-2 curve skipped: pass --sst2 <GLUE SST-2 dir> and --model <Hugging Face BERT dir>`;
    console.log(`  ${why}`);
    report.push(`\n${why}.`);
    return;
  }
  const size = numFlag('sst2-train', 2000);
  const epochs = numFlag('sst2-epochs', 2);
  const learningRate = numFlag('sst2-lr', 1e-4, false);
  const maxLength = 128; // lat train's default
  const m = loadModelDir(modelDir);
  const tok = tokenizerOf(m);
  const task = getTask('sst2');
  if (m.config.numLabels !== task.labels.length)
    throw new LatError(
      'BAD_INPUT',
      `the model has ${m.config.numLabels} labels, SST-2 has ${task.labels.length}`,
      modelDir,
    );
  const all = readExamples(join(dataDir, 'train.tsv'), task).examples;
  const subset = new Rng(7)
    .permutation(all.length)
    .slice(0, size)
    .map((i) => all[i]!);
  const dev = encodeExamples(readExamples(join(dataDir, 'dev.tsv'), task).examples, tok, maxLength);
  const longest = dev.reduce((a, b) => (b.ids.length > a.ids.length ? b : a));
  const c = m.config;
  await curve(
    report,
    `Accuracy vs speed-up, SST-2 dev (${dev.length} sentences): ${m.dir.replace(/\/+$/, '').split('/').at(-1)} (${c.numLayers} layers × ${c.hiddenSize}) fine-tuned ${epochs} epochs on ${subset.length} train sentences, every layer keeps r of each input`,
    {
      config: c,
      weights: m.weights,
      train: encodeExamples(subset, tok, maxLength),
      dev,
      speedInput: longest,
      options: { epochs, batchSize: 32, learningRate },
      referenceRecipe: true,
    },
  );
}
