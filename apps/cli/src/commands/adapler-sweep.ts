/**
 * AdapLeR's φ sweep: `lat train --method adapler --phi 0.0001,0.001,0.01 --dev … --out sweep/`
 * trains one model per length penalty φ into `sweep/phi-<φ>/` (same data, seed and saliency
 * targets; the tokenised data and the targets are cached once in the sweep's cache directory),
 * scores each on --dev with hard removal, and writes `sweep/frontier.json`: one point per φ with
 * the dev metric, mean realised MACs, the MACs speed-up and the per-layer spread of kept counts.
 * `lat eval / predict / bench --model sweep/ --budget 0.5` then pick the φ model for the budget,
 * as LAT's frontier picks a length configuration. `--resume` reuses finished φ runs and resumes
 * an interrupted one from its checkpoint.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { LatError } from '@lat/core';
import { readJson } from '@lat/core/node';
import {
  type AdaplerFrontierFile,
  type Budget,
  isAdaplerFrontier,
  parseAdaplerFrontierFile,
  parseBudget,
  pick,
  toAdaplerFrontierFile,
} from '@lat/search';
import { selectionMetric } from '@lat/train';
import {
  frontierFile,
  loadCliModel,
  type TrainingInfo,
  trainingInfoFile,
  trainingState,
  writeJson,
} from '../model.js';
import { type Output, table } from '../output.js';
import { adaplerEval, isAdaplerModel } from './adapler.js';
import { type TrainFlags, trainCommand } from './train.js';

/** Where a sweep keeps the model of one φ. */
export const phiDir = (phi: number) => `phi-${phi}`;

export async function adaplerSweepCommand(f: TrainFlags, out: Output): Promise<AdaplerFrontierFile> {
  const phis = f.phi ?? [];
  if (f.method !== 'adapler')
    throw new LatError(
      'BAD_INPUT',
      `--phi lists ${phis.length} length penalties, a φ sweep: add --method adapler`,
      '--phi',
    );
  if (!f.dev)
    throw new LatError(
      'BAD_INPUT',
      'a φ sweep places each model on the frontier by its dev score: give --dev <file>',
      '--dev',
    );
  mkdirSync(f.out, { recursive: true });
  // Every φ trains on the same rows with the same saliency model: one cache for all.
  const cacheDir = f.cacheDir ?? join(f.out, 'tokenized');
  const started = performance.now();
  const runs: { phi: number; dir: string; seconds?: number }[] = [];
  for (const phi of phis) {
    const dir = join(f.out, phiDir(phi));
    const state = trainingState(dir);
    if (f.resume && state === 'finished') {
      out.info(`φ ${phi}: ${dir} is trained, reused`);
      runs.push({ phi, dir });
      continue;
    }
    out.info(`φ ${phi} → ${dir}`);
    const t = await trainCommand(
      { ...f, phi: [phi], out: dir, cacheDir, resume: Boolean(f.resume) && state === 'checkpoint' },
      // The sub-runs' progress lines and events go through (events tagged with φ); their results do not.
      { ...out, result: () => {}, event: (e) => out.event({ ...e, phi }) },
    );
    runs.push({ phi, dir, seconds: t.seconds });
  }
  const base = await loadCliModel(f.model);
  const silent: Output = { json: true, info: () => {}, result: () => {}, event: () => {} };
  let task = '';
  let fullCost = 0;
  let meanInputLength = 0;
  let metricName = '';
  const points = [];
  for (const r of runs) {
    const e = await adaplerEval(
      { model: r.dir, dev: f.dev, task: f.task, ...(f.threads ? { threads: f.threads } : {}) },
      silent,
    );
    const metric = selectionMetric(Object.keys(e.metrics));
    ({ name: metricName } = metric);
    task = e.task;
    const l = e.lengths;
    fullCost = l.fullMacs / l.inputs;
    meanInputLength = l.meanInputLength;
    points.push({
      phi: r.phi,
      model: relative(f.out, r.dir),
      metric: metric.of(e.metrics),
      metrics: e.metrics,
      cost: l.realisedMacs / l.inputs,
      costRatio: l.realisedMacs / l.fullMacs,
      macsSpeedup: l.macsSpeedup,
      meanKept: l.meanKept,
      minKept: l.minKept,
      maxKept: l.maxKept,
    });
  }
  const file = toAdaplerFrontierFile({
    model: { name: f.model, fingerprint: base.fingerprint, numLayers: base.config.numLayers },
    dataset: f.dev,
    metric: { name: metricName, higherIsBetter: true },
    fullCost,
    meanInputLength,
    training: { task, train: f.train, ...sharedRecipe(runs[0]!.dir) },
    points,
  });
  const path = join(f.out, frontierFile);
  writeJson(path, file);
  const seconds = (performance.now() - started) / 1000;
  out.result({ command: 'train', method: 'adapler', sweep: path, seconds, frontier: file }, () => {
    out.info(`φ sweep on ${f.dev} (${metricName}), ${seconds.toFixed(0)} s → ${path}`);
    out.info(
      table(
        file.points.map((p) => [
          p.phi,
          p.metric.toFixed(4),
          `${p.macsSpeedup.toFixed(2)}×`,
          p.meanKept.map((k) => k.toFixed(1)).join(' / '),
          p.minKept.map((k, i) => `${k}–${p.maxKept[i]}`).join(' / '),
          p.pareto ? '*' : '',
        ]),
        ['φ', metricName, 'MACs speed-up', 'mean kept per layer', 'kept per input (min–max)', 'frontier'],
      ),
    );
  });
  return file;
}

/** What every φ run of a sweep shares: its lat_training.json recipe without φ, the selected epoch or the saliency file. */
function sharedRecipe(dir: string): Record<string, unknown> {
  const { recipe } = readJson(join(dir, trainingInfoFile)) as TrainingInfo;
  if (!recipe) return {};
  const { best: _best, adapler, ...rest } = recipe;
  const { phi: _phi, saliency: _saliency, ...hyper } = adapler ?? {};
  return { ...rest, adapler: hyper };
}

/**
 * The AdapLeR model eval / predict / bench run: `--model` itself when it is one, or — when
 * `--model` is a φ sweep's directory (or `--frontier` an AdapLeR frontier) — the model of the
 * point `--budget` picks. Undefined for anything else (a LAT model or bundle).
 */
export function adaplerModelDir(
  f: { model: string; frontier?: string; budget?: string; latency?: string },
  out: Output,
): string | undefined {
  if (isAdaplerModel(f.model)) return f.model;
  const path = f.frontier ?? join(f.model, frontierFile);
  if (!existsSync(path)) return undefined;
  const value = readJson(path);
  if (!isAdaplerFrontier(value)) return undefined;
  const sweep = parseAdaplerFrontierFile(value, path);
  if (f.latency)
    throw new LatError(
      'BAD_BUDGET',
      'an AdapLeR sweep has no latencies; give a cost fraction (--budget 0.5) or a metric floor (--budget acc>=0.8)',
      '--latency',
    );
  if (!f.budget)
    throw new LatError(
      'BAD_BUDGET',
      `${path} is an AdapLeR φ sweep of ${sweep.points.length} models: pick one with --budget (0.5, or acc>=0.8), or pass its directory (${sweep.points.map((p) => p.model).join(', ')}) as --model`,
      '--budget',
    );
  const budget: Budget = parseBudget(f.budget);
  const point = pick(sweep, budget);
  const dir = join(dirname(path), point.model);
  out.info(
    `budget ${f.budget} → φ ${point.phi} (${dir}): dev ${sweep.metric.name} ${point.metric.toFixed(4)}, ${(point.costRatio * 100).toFixed(1)}% of the MACs`,
  );
  return dir;
}
