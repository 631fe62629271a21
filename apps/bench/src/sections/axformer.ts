/**
 * AxFormer (`--sections axformer`): for each model and each seed of the selection split,
 * `lat axformer` (the built CLI) prunes on a split of the training file and reports the dev
 * accuracy of the fine-tuned model, the pruned one and the random-removal control of the same
 * size, parameters, bytes, MACs and the measured latency of both models in the same run.
 * - SST-2 fixture models (`--sst2 <dir> --axformer-models a,b`): fine-tuned on all of train.tsv
 *   elsewhere, so the selection set was seen in fine-tuning. The selection split is the
 *   contract's 10% of train.tsv (`--axformer-fraction`); `--axformer-sst2-seeds 3,1` gives each
 *   model its own number of seeds (a big model's 10% runs are long).
 * - A generated sentiment task, done by the book: per seed the selection split is held out
 *   first, a 4-layer model is fine-tuned on the rest, then pruned on the held-out split; and,
 *   per seed, AxFormer + LAT against LAT alone at equal MACs.
 * - AxFormer + LAT against LAT alone on SST-2 (`--axformer-lat-models a,b`): a LengthDrop
 *   fine-tune of each fixture model, pruned per seed of the selection split; with
 *   `--axformer-lat-ratio-bound 0.9` both are also searched below the trained ratio bound.
 * Every run's files stay in `--axformer-out <dir>` (default: a fresh temporary folder), and a
 * run whose result is already there is reused: a long section can be run in parts and resumed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { LatError } from '@lat/core';
import { writeSafetensors } from '@lat/core/node';
import { createRandomWeights, toHfConfig, toHfNames } from '@lat/layers';
import { generateSentimentTask, selectionSplit, syntheticModelConfig } from '@lat/train';
import { fmt, mean, pm, type Report } from '../report.js';
import { flag, numFlag, repo, threads } from '../setup.js';

interface Summary {
  dev: {
    before: number;
    after: number;
    control: number;
    latency: { beforeMs: number; afterMs: number; speedup: number };
  };
  parameters: { before: number; after: number };
  bytes: { before: number; after: number };
  macs: { before: number; after: number; length: number };
  accepted: unknown[];
  layers: { attention: boolean; removedHeads: number[]; ffn: boolean; hardAttentionK: number | null }[];
  evaluations: number;
  seconds: number;
}

const bin = join(repo, 'apps/cli/dist/bin.js');

function lat(args: string[]): string {
  const r = spawnSync(process.execPath, [bin, ...args, '--threads', String(threads), '--json'], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`lat ${args[0]} failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').at(-1)!;
}

/** `lat train --model base --train train --out out …args`, unless an earlier run of the section left a model there. */
function fineTune(base: string, train: string, out: string, args: string[]) {
  if (existsSync(join(out, 'lat_training.json'))) return;
  lat(['train', '--model', base, '--task', 'sst2', '--train', train, '--out', out, ...args]);
}

/** The generated task's recipe: 3 epochs at lr 2e-3 on 32 tokens, `more` before the seed. */
const generatedRecipe = (seed: number, more: string[] = []) => [
  '--epochs',
  '3',
  '--lr',
  '2e-3',
  '--max-length',
  '32',
  ...more,
  '--seed',
  String(seed),
];

/** One `lat axformer` run (ε = 0, hard attention), its summary printed in a line. */
function prune(
  model: string,
  train: string,
  dev: string,
  out: string,
  seed: number,
  extra: string[],
): Summary {
  const done = join(out, 'lat_axformer.json');
  const reused = existsSync(done);
  const s = JSON.parse(
    reused
      ? readFileSync(done, 'utf8')
      : lat(
          [
            'axformer',
            '--model',
            model,
            '--task',
            'sst2',
            '--train',
            train,
            '--dev',
            dev,
            '--out',
            out,
          ].concat(['--seed', String(seed), '--hard-attention', ...extra]),
        ),
  ) as Summary;
  console.log(
    `    seed ${seed}${reused ? ' (reused)' : ''}: dev ${fmt(s.dev.before * 100, 1)} → ${fmt(s.dev.after * 100, 1)} (control ${fmt(s.dev.control * 100, 1)}), params ${s.parameters.before} → ${s.parameters.after}, ${fmt(s.dev.latency.speedup)}× measured, ${s.evaluations} evaluations in ${fmt(s.seconds, 0)} s`,
  );
  return s;
}

const tableHead = [
  '\n| model | dev acc fine-tuned | dev acc AxFormer | dev acc random control | params | bytes | MMACs (full length) | ms/example (batch 1) | speed-up | removed (per seed) |',
  '|---|---|---|---|---|---|---|---|---|---|',
];

/** One table row over the seeds: mean ± std, and what each seed removed. */
function row(name: string, f: Summary[]): string {
  const removed = f
    .map((s) =>
      s.layers
        .map((l, i) =>
          [
            l.ffn ? '' : `F${i}`,
            l.attention ? (l.removedHeads.length ? `h${i}:${l.removedHeads.join('')}` : '') : `A${i}`,
            l.hardAttentionK ? `k${i}=${l.hardAttentionK}` : '',
          ]
            .filter(Boolean)
            .join(' '),
        )
        .filter(Boolean)
        .join(' '),
    )
    .join(' / ');
  const p0 = f[0]!;
  return `| ${name} | ${pm(f.map((s) => s.dev.before))} | ${pm(f.map((s) => s.dev.after))} | ${pm(f.map((s) => s.dev.control))} | ${fmt(p0.parameters.before / 1e6, 2)} → ${pm(
    f.map((s) => s.parameters.after),
    1e-6,
    2,
  )} M | ${fmt(p0.bytes.before / 1e6, 1)} → ${pm(
    f.map((s) => s.bytes.after),
    1e-6,
  )} MB | ${fmt(p0.macs.before / 1e6, 0)} → ${pm(
    f.map((s) => s.macs.after),
    1e-6,
  )} | ${fmt(mean(f.map((s) => s.dev.latency.beforeMs)), 3)} → ${fmt(mean(f.map((s) => s.dev.latency.afterMs)), 3)} | ${pm(
    f.map((s) => s.dev.latency.speedup),
    1,
  )}× | ${removed} |`;
}

const legend =
  '\nremoved: F = feed-forward block, A = attention block, h<layer>:<heads> = removed heads, k<layer> = hard-attention k. Latency: plain graphs of both models, alternating, median of 3 rounds over ≤ 300 dev examples at batch 1, in the same run.';

export async function axformerRuns(report: Report) {
  if (!existsSync(bin)) {
    console.log('  AxFormer skipped: build the CLI first');
    report.push('\nAxFormer skipped: the CLI was not built.');
    return;
  }
  const seeds = numFlag('axformer-seeds', 3);
  const kept = flag('axformer-out');
  const out = kept ? resolve(kept) : mkdtempSync(join(tmpdir(), 'lat-bench-axformer-'));
  mkdirSync(out, { recursive: true });
  generated(report, seeds, out);
  const path = (p: string | undefined) => (p && !existsSync(p) ? resolve(repo, p) : p);
  const data = path(flag('sst2'));
  const list = (name: string) => flag(name)?.split(',').map(path) as string[] | undefined;
  const models = list('axformer-models');
  const latModels = list('axformer-lat-models');
  if (!data || !(models?.length || latModels?.length)) {
    const why =
      'AxFormer on SST-2 skipped: pass --sst2 <GLUE SST-2 dir> and --axformer-models <dir,dir> and/or --axformer-lat-models <dir,dir>';
    console.log(`  ${why}`);
    report.push(`\n${why}.`);
    return;
  }
  const fraction = numFlag('axformer-fraction', 0.1, false);
  if (models?.length)
    sst2Table(report, out, data, models, fraction, seedsPerModel('axformer-sst2-seeds', models, seeds));
  if (latModels?.length)
    sst2WithLat(
      report,
      out,
      data,
      latModels,
      fraction,
      seedsPerModel('axformer-lat-seeds', latModels, seeds),
    );
  console.log(`  pruned models (and their lat_axformer.json) in ${out}`);
}

/** `--<name> 3,1`: one number of seeds per model (default: `seeds` each). */
function seedsPerModel(name: string, models: string[], seeds: number): number[] {
  const perModel = flag(name)?.split(',').map(Number) ?? models.map(() => seeds);
  if (perModel.length !== models.length || perModel.some((n) => !(Number.isInteger(n) && n > 0)))
    throw new LatError(
      'BAD_INPUT',
      `must list one whole number of seeds per model, got ${flag(name)}`,
      `--${name}`,
    );
  return perModel;
}

/** The SST-2 fixture models, pruned on each seed of the selection split. */
function sst2Table(
  report: Report,
  out: string,
  data: string,
  models: string[],
  fraction: number,
  perModel: number[],
) {
  report.push(
    `\n### AxFormer on SST-2 fixture models (selection: stratified ${fraction * 100}% of train.tsv, at least 500 examples, seeds ${perModel.join('/')}; the models were fine-tuned on all of train.tsv, selection set included; ε = 0, hard attention; dev = GLUE dev, never decided on; MACs at 128 tokens)`,
    ...tableHead,
  );
  for (const [i, model] of models.entries()) {
    console.log(`  ${basename(model)}`);
    const runs = Array.from({ length: perModel[i]! }, (_, seed) =>
      prune(
        model,
        join(data, 'train.tsv'),
        join(data, 'dev.tsv'),
        join(out, `${basename(model)}-${seed}`),
        seed,
        ['--selection-fraction', String(fraction)],
      ),
    );
    report.push(row(basename(model), runs));
  }
  report.push(legend);
}

/** Rows of train.tsv a SST-2 LengthDrop fine-tune sees, and its recipe (`lat compare`'s SST-2 `lat` method). */
const sst2LatRows = 2000;
const sst2LatRecipe = [
  '--epochs',
  '2',
  '--lr',
  '1e-4',
  '--max-length',
  '128',
  '--length-drop-ratio',
  '0.4',
  '--seed',
  '42',
];

/**
 * AxFormer + LAT on SST-2: each fixture model is LengthDrop-fine-tuned once (into
 * `<out>/<name>-lengthdrop`; a LengthDrop model already there is used as it is, and the recipe
 * its lat_training.json records is reported), then pruned on each seed of the selection split.
 */
function sst2WithLat(
  report: Report,
  out: string,
  data: string,
  models: string[],
  fraction: number,
  perModel: number[],
) {
  /** `--axformer-lat-ratio-bound 0.9`: both models searched a second time, below what LengthDrop trained. */
  const below = flag('axformer-lat-ratio-bound') ? [numFlag('axformer-lat-ratio-bound', 1, false)] : [];
  const rows = join(out, `sst2-train-${sst2LatRows}.tsv`);
  const lines = readFileSync(join(data, 'train.tsv'), 'utf8').split('\n');
  writeFileSync(rows, `${lines.slice(0, sst2LatRows + 1).join('\n')}\n`);
  for (const [i, base] of models.entries()) {
    const model = join(out, `${basename(base)}-lengthdrop`);
    console.log(`  AxFormer + LAT vs LAT alone (SST-2, ${basename(base)}, ${perModel[i]} seeds)`);
    fineTune(base, rows, model, sst2LatRecipe);
    const t = JSON.parse(readFileSync(join(model, 'lat_training.json'), 'utf8'));
    const recipe = `${t.recipe.epochs} epoch(s), lr ${t.recipe.learningRate}, max length ${t.maxLength}, LengthDrop ratio bound ${t.lengthDrop.ratioBound}, seed ${t.recipe.seed}`;
    withLat(
      report,
      `SST-2, ${basename(base)}, ${perModel[i]} seed(s) of the stratified ${fraction * 100}% selection split of train.tsv; one LengthDrop fine-tune of the fixture on the first ${sst2LatRows.toLocaleString('en')} rows of train.tsv (${recipe}), searched as it is for LAT alone (one search, the same for every seed), and pruned per seed with ε = 0 and hard attention; the fixture had seen the selection set`,
      join(data, 'dev.tsv'),
      Array.from({ length: perModel[i]! }, (_, seed) => ({
        model,
        pruned: `${model}-pruned-${seed}`,
        seed,
        train: join(data, 'train.tsv'),
        extra: ['--selection-fraction', String(fraction)],
      })),
      [undefined, ...below],
    );
  }
}

/** The generated task: hold the selection set out, fine-tune on the rest, prune on the held-out set. */
function generated(report: Report, seeds: number, out: string) {
  const task = generateSentimentTask({ seed: 11, train: 3000, dev: 500 });
  const tsv = (rows: { textA: string; label: number }[]) =>
    `sentence\tlabel\n${rows.map((e) => `${e.textA}\t${e.label}`).join('\n')}\n`;
  const dir = join(out, 'generated');
  const base = join(dir, 'base');
  mkdirSync(base, { recursive: true });
  writeFileSync(join(dir, 'train.tsv'), tsv(task.train));
  writeFileSync(join(dir, 'dev.tsv'), tsv(task.dev));
  const config = syntheticModelConfig({ layers: 4, hidden: 64, heads: 4 });
  writeFileSync(join(base, 'config.json'), JSON.stringify(toHfConfig(config)));
  writeFileSync(join(base, 'vocab.txt'), `${task.vocab.join('\n')}\n`);
  writeSafetensors(join(base, 'model.safetensors'), toHfNames(createRandomWeights(config, 1), config));
  report.push(
    `\n### AxFormer on a generated sentiment task (3,000 train / 500 dev; per seed the selection split — 500 examples, the minimum — is held out before fine-tuning a 4×64 BERT on the rest; ε = 0, hard attention; MACs at 32 tokens)`,
    ...tableHead,
  );
  console.log('  generated sentiment task, 4×64 BERT');
  const runs = Array.from({ length: seeds }, (_, seed) => {
    const { rest } = selectionSplit(task.train, { seed });
    writeFileSync(join(dir, `rest-${seed}.tsv`), tsv(rest));
    const model = join(dir, `fine-tuned-${seed}`);
    fineTune(base, join(dir, `rest-${seed}.tsv`), model, generatedRecipe(seed, ['--no-length-drop']));
    return prune(model, join(dir, 'train.tsv'), join(dir, 'dev.tsv'), join(dir, `pruned-${seed}`), seed, []);
  });
  report.push(row('generated sentiment, 4×64', runs), legend);
  console.log(`  AxFormer + LAT vs LAT alone (generated task, LengthDrop, ${seeds} seeds)`);
  const latRuns = Array.from({ length: seeds }, (_, seed) => {
    const model = join(dir, `lengthdrop-${seed}`);
    fineTune(base, join(dir, `rest-${seed}.tsv`), model, generatedRecipe(seed));
    return { model, pruned: `${model}-pruned`, seed, train: join(dir, 'train.tsv'), extra: [] };
  });
  withLat(
    report,
    `generated task, ${seeds} seeds; per seed a LengthDrop-trained 4×64 model, pruned with ε = 0 and hard attention on that seed's held-out split`,
    join(dir, 'dev.tsv'),
    latRuns,
  );
}

/** One seed of AxFormer + LAT against LAT alone. */
interface LatRun {
  /** A LengthDrop-trained model, searched as it is (LAT alone). */
  model: string;
  /** Where `model` pruned on this seed's selection split goes; then searched (AxFormer + LAT). */
  pruned: string;
  seed: number;
  /** The file the selection split is drawn from, and more `lat axformer` flags. */
  train: string;
  extra: string[];
}

/**
 * AxFormer + LAT against LAT alone at equal MACs, per seed: a LengthDrop model is searched as it
 * is, and pruned on the seed's selection split first, then searched (lengths searched *after*
 * pruning); each frontier's best dev accuracy within the same MAC budgets — fractions of the
 * unpruned model's full-length MACs — mean ± std over the seeds that have a point there. Both
 * searches score on dev, as `lat search` does, so both share that bias. Seeds that share one
 * LengthDrop model share its search (its frontier is reused).
 */
function withLat(
  report: Report,
  what: string,
  dev: string,
  runs: LatRun[],
  bounds: (number | undefined)[] = [undefined],
) {
  type Point = { cost: number; metric: number };
  /**
   * `lat search` of a model directory (8 iterations) down to the ratio bound LengthDrop trained, or
   * to `bound` (searching below it), or the frontier an earlier run left there.
   */
  const search = (m: string, bound: number | undefined) => {
    const saved = join(m, bound === undefined ? 'frontier.json' : `frontier-rb${bound}.json`);
    const below = bound === undefined ? [] : ['--ratio-bound', String(bound), '--out', saved];
    if (!existsSync(saved)) lat(['search', '--model', m, '--dev', dev, '--iterations', '8', ...below]);
    return JSON.parse(readFileSync(saved, 'utf8')) as { fullCost: number; points: Point[] };
  };
  const budgets = [1, 0.75, 0.5, 0.35, 0.25, 0.2, 0.15];
  const best = (ps: Point[], budget: number) => {
    const ok = ps.filter((p) => p.cost <= budget * (1 + 1e-9));
    return ok.length ? Math.max(...ok.map((p) => p.metric)) : undefined;
  };
  /** Per seed, per budget: LAT alone and AxFormer + LAT, for each search bound in turn. */
  const perSeed = runs.map(({ model, pruned, seed, train, extra }) => {
    const s = prune(model, train, dev, pruned, seed, extra);
    const frontiers = bounds.flatMap((bound) => [search(model, bound), search(pruned, bound)]);
    const full = frontiers[0]!.fullCost;
    const at = budgets.map((b) => frontiers.map((f) => best(f.points, b * full)));
    const lowest = (ps: Point[]) => fmt((Math.min(...ps.map((p) => p.cost)) / full) * 100, 1);
    console.log(
      `    seed ${seed}: ${at.map((xs, i) => `${budgets[i]! * 100}% ${xs.map((x) => fmt((x ?? Number.NaN) * 100, 1)).join(' / ')}`).join(', ')}; cheapest points ${frontiers.map((f) => `${lowest(f.points)}%`).join(' / ')}`,
    );
    return { s, at };
  });
  const cell = (xs: (number | undefined)[]) => {
    const have = xs.filter((x): x is number => x !== undefined);
    if (have.length === 0) return '–';
    return `${pm(have)}${have.length < xs.length ? ` (${have.length} of ${xs.length} seeds)` : ''}`;
  };
  const columns = bounds.flatMap((bound) => {
    const how =
      bound !== undefined
        ? ` (searched to ratio bound ${bound})`
        : bounds.length > 1
          ? ' (trained ratio bound)'
          : '';
    return [`LAT alone${how}`, `AxFormer + LAT${how}`];
  });
  report.push(
    `\n### AxFormer + LAT vs LAT alone at equal MACs (${what} (dev ${pm(perSeed.map((r) => r.s.dev.before))} → ${pm(perSeed.map((r) => r.s.dev.after))}), LAT lengths searched after pruning, 8 iterations; dev accuracy of the best frontier point within the budget, mean ± std over seeds)`,
    `\n| MACs budget (of the unpruned model at full length) | ${columns.join(' | ')} |`,
    `|---|${columns.map(() => '---|').join('')}`,
    ...budgets.map(
      (b, i) =>
        `| ${b * 100}% | ${columns.map((_, j) => cell(perSeed.map((r) => r.at[i]![j]))).join(' | ')} |`,
    ),
  );
}
