/**
 * `lat demo`: the whole journey on an embedded default, no downloads — a small BERT, LengthDrop
 * training on the generated rave task (a review is a rave when it has at least three praise
 * words: counting, so dropping tokens costs accuracy and the frontier is a real trade-off), the
 * evolutionary search, predictions at three budgets, a latency check and a bundle for the
 * playground.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '@lat/core/node';
import { createRandomWeights, toHfConfig, toHfNames } from '@lat/layers';
import { generateRaveTask, syntheticModelConfig } from '@lat/train';
import type { Output } from '../output.js';
import { frontierAscii } from '../plot.js';
import { benchCommand } from './bench.js';
import { exportCommand } from './export.js';
import { predictCommand } from './predict.js';
import { searchCommand } from './search.js';
import { trainCommand } from './train.js';

export interface DemoFlags {
  out: string;
  epochs: number;
  iterations: number;
  threads?: number;
  /** Also write the bundle where the playground serves its default from. */
  playground?: string;
}

export async function demoCommand(f: DemoFlags, out: Output) {
  const started = performance.now();
  const step = (s: string) => out.info(`\n== ${s}`);
  step('1/6 generating the embedded task and a fresh 4-layer BERT');
  const task = generateRaveTask({ seed: 7, train: 2000, dev: 400 });
  const data = join(f.out, 'data');
  const base = join(f.out, 'base-model');
  mkdirSync(data, { recursive: true });
  mkdirSync(base, { recursive: true });
  const tsv = (rows: typeof task.train) =>
    `sentence\tlabel\n${rows.map((e) => `${e.textA}\t${e.label}`).join('\n')}\n`;
  writeFileSync(join(data, 'train.tsv'), tsv(task.train));
  writeFileSync(join(data, 'dev.tsv'), tsv(task.dev));
  const config = syntheticModelConfig({ layers: 4, hidden: 64, heads: 4 });
  writeFileSync(join(base, 'config.json'), JSON.stringify(toHfConfig(config), null, 2));
  writeFileSync(join(base, 'vocab.txt'), `${task.vocab.join('\n')}\n`);
  writeFileSync(join(base, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true }));
  writeSafetensors(join(base, 'model.safetensors'), toHfNames(createRandomWeights(config, 1), config));
  out.info(`${task.train.length} training and ${task.dev.length} dev examples in ${data}; model in ${base}`);

  step('2/6 fine-tuning with LengthDrop (sandwich rule + inplace distillation + LayerDrop)');
  const model = join(f.out, 'model');
  await trainCommand(
    {
      model: base,
      task: 'sst2',
      train: join(data, 'train.tsv'),
      dev: join(data, 'dev.tsv'),
      out: model,
      epochs: f.epochs,
      batchSize: 32,
      lr: 1e-3,
      maxLength: 64,
      seed: 42,
      lengthDrop: true,
      lengthDropRatio: 0.4,
      numSandwich: 2,
      layerDrop: 0.2,
      gradAccumulation: 1,
      checkpointEvery: 0,
      warmupRatio: 0.1,
      ...(f.threads ? { threads: f.threads } : {}),
    },
    out,
  );

  step('3/6 evolutionary search of the accuracy / MACs frontier on the dev set');
  const frontier = await searchCommand(
    {
      model,
      dev: join(data, 'dev.tsv'),
      objective: 'macs',
      iterations: f.iterations,
      population: 20,
      mutations: 30,
      crossovers: 30,
      seed: 42,
      scale: 100,
      // Beyond the trained sub-models (0.4): layer 0 may keep as little as 10%. Layer 0 sees every
      // token and dominates the cost, so this is where praise words get lost and accuracy falls
      // step by step (0.75 left the first layer at >= 25%, already perfect: a 3-4 point frontier).
      ratioBound: 0.9,
      plot: join(f.out, 'frontier.svg'),
      ...(f.threads ? { threads: f.threads } : {}),
    },
    out,
  );

  out.info(`\n${frontierAscii(frontier)}`);

  step('4/6 predictions at three budgets: full length, a middle frontier point, the cheapest one');
  const examples = [
    'a witty , moving and superb story with a fresh cast .',
    'the plot is witty but the script is long and the actor is tired .',
    'it was a story about a cast and a script .',
  ];
  const pts = frontier.points;
  const budgets = [undefined, pts[Math.floor(pts.length / 2)]!, pts[0]!];
  for (const p of budgets) {
    // Round the budget up so the point itself fits it.
    const budget = p ? `${Math.ceil(p.costRatio * 1000) / 10}%` : undefined;
    out.info(`-- ${budget ? `budget ${budget}` : 'full length'}`);
    await predictCommand(
      {
        model,
        texts: examples,
        ...(budget ? { budget } : {}),
        explain: p === pts[0],
        maxLength: 64,
        ...(f.threads ? { threads: f.threads } : {}),
      },
      out,
    );
  }

  step('5/6 measured latency per frontier point (batch 1, 64 tokens)');
  await benchCommand(
    { model, seq: 64, batch: 1, runs: 20, save: true, ...(f.threads ? { threads: f.threads } : {}) },
    out,
  );

  step('6/6 exporting a bundle for the playground');
  const bundle = join(f.out, 'bundle');
  await exportCommand({ model, out: bundle, examples }, out);
  if (f.playground) await exportCommand({ model, out: f.playground, examples }, out);
  const metrics = frontier.points.map((p) => p.metric);
  out.result(
    {
      command: 'demo',
      out: f.out,
      seconds: (performance.now() - started) / 1000,
      frontierPoints: frontier.points.length,
      metricRange: [Math.min(...metrics), Math.max(...metrics)],
    },
    () =>
      out.info(
        `\nfrontier: ${frontier.points.length} points, ${frontier.metric.name} ${(100 * Math.min(...metrics)).toFixed(1)}–${(100 * Math.max(...metrics)).toFixed(1)}%, cost ${(100 * frontier.points[0]!.costRatio).toFixed(0)}–${(100 * frontier.points.at(-1)!.costRatio).toFixed(0)}% of the full model` +
          `\ndone in ${((performance.now() - started) / 1000).toFixed(0)} s — everything is in ${f.out}`,
      ),
  );
}
