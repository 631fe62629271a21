/**
 * `lat compare`: every method trained/derived from the same checkpoint with the same data, seed
 * and epochs, scored on the same dev set, timed on the same inputs in the same run. See method.ts
 * for what a method does and what this file does for all of them.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { isLatError, LatError, Rng } from '@lat/core';
import { writeFileAtomic } from '@lat/core/node';
import {
  type CompareExample,
  type CompareReport,
  type ConfigurationReport,
  compareSchemaVersion,
  type MethodReport,
} from '@lat/search';
import { type Encoded, encodeExamples, readExamples, selectionMetric, type TaskSpec } from '@lat/train';
import { averageMacs, paddedMacs, resolveTask } from '../evaluation.js';
import { type CliModel, loadCliModel, writeJson } from '../model.js';
import type { Output } from '../output.js';
import { curvesSvg } from '../plot.js';
import { formatDuration } from '../progress.js';
import type {
  CompareMethod,
  CompareSettings,
  ConfigurationScore,
  MethodContext,
  MethodProgress,
  PreflightContext,
} from './method.js';
import { openClassifier } from './methods/anytime.js';
import { compareMethods } from './methods/index.js';
import { compareMarkdown } from './report.js';

export interface CompareFlags extends Omit<CompareSettings, 'options'> {
  methods: string;
  budgetGrid: string;
  out: string;
  lengthDropRatio: number;
  searchRatioBound: number;
  iterations: number;
  adaplerPhi: number[];
  epsilon: number;
  /** Timed runs per configuration (the median is reported). */
  runs: number;
}

/** A checked plan: nothing has been trained or written yet. */
export interface ComparePlan {
  flags: CompareFlags;
  settings: CompareSettings;
  methods: CompareMethod[];
  budgets: number[];
  base: CliModel;
  task: TaskSpec;
  dev: Encoded[];
  /** What a method's files in `<out>/<name>/` must have been made with to be reused (see keyOf). */
  key: Record<string, unknown>;
  hashes: { train: string; dev: string };
}

const methodFile = 'method.json';
const evaluationFile = 'evaluation.json';
const batch1Inputs = 8;
const batch32Inputs = 32;
/** Dev inputs whose kept tokens the report shows (the playground lays them side by side). */
const exampleInputs = 3;

/**
 * Checks everything that can be checked before training: the method names, the budget grid, the
 * checkpoint, the task and its head, both data files, every method's applicability, and that
 * methods already in `--out` were made with these settings. Throws one LatError on the first problem.
 */
export async function planCompare(flags: CompareFlags): Promise<ComparePlan> {
  const names = flags.methods.split(',').map((s) => s.trim());
  const known = compareMethods.map((m) => m.name);
  const methods = names.map(
    (n) =>
      compareMethods.find((m) => m.name === n) ??
      (() => {
        throw new LatError('BAD_INPUT', `unknown method '${n}'; available: ${known.join(', ')}`, '--methods');
      })(),
  );
  if (new Set(names).size !== names.length)
    throw new LatError('BAD_INPUT', `a method is listed twice in '${flags.methods}'`, '--methods');
  const budgets = parseBudgetGrid(flags.budgetGrid);
  if (flags.epochs < 1) throw new LatError('BAD_INPUT', 'at least one epoch is needed', '--epochs');
  const base = await loadCliModel(flags.model);
  const task = resolveTask(base, flags.task);
  const labels = task.labels.length === 0 ? 1 : task.labels.length;
  if (labels !== base.config.numLabels)
    throw new LatError(
      'BAD_CONFIG',
      `the model's head has ${base.config.numLabels} labels but ${task.name} has ${labels}; set num_labels/id2label in config.json`,
      join(flags.model, 'config.json'),
    );
  // Parse both files now (a bad row stops here, not after an hour of training).
  readExamples(flags.train, task);
  const dev = encodeExamples(readExamples(flags.dev, task).examples, base.tokenizer, flags.maxLength);
  if (dev.length === 0) throw new LatError('BAD_DATA', 'the dev set has no examples', flags.dev);
  const { methods: _m, budgetGrid: _b, out: _o, runs: _r, ...shared } = flags;
  const { lengthDropRatio, searchRatioBound, iterations, adaplerPhi, epsilon, ...common } = shared;
  const settings: CompareSettings = {
    ...common,
    options: { lengthDropRatio, searchRatioBound, iterations, adaplerPhi, epsilon },
  };
  const pre: PreflightContext = { settings, base, task, budgets };
  for (const m of methods) {
    const why = m.inapplicable(pre);
    if (why) throw new LatError('BAD_INPUT', `${m.name} cannot apply here: ${why}`, '--methods');
  }
  const hashes = { train: sha256(flags.train), dev: sha256(flags.dev) };
  const key = {
    model: base.fingerprint,
    task: task.name,
    trainSha256: hashes.train,
    devSha256: hashes.dev,
    seed: flags.seed,
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    lr: flags.lr,
    maxLength: flags.maxLength,
  };
  for (const m of methods) checkReusable(join(flags.out, m.name), keyOf(m, key, settings));
  return { flags, settings, methods, budgets, base, task, dev, key, hashes };
}

/** A method's reuse key: the shared settings and the method options it reads. */
function keyOf(m: CompareMethod, key: Record<string, unknown>, s: CompareSettings) {
  return { ...key, options: Object.fromEntries(m.options.map((o) => [o, s.options[o]])) };
}

function parseBudgetGrid(text: string): number[] {
  const values = text.split(',').map((s) => Number(s.trim()));
  const bad = values.findIndex((v) => !(v > 0 && v <= 1));
  if (bad >= 0)
    throw new LatError(
      'BAD_INPUT',
      `'${text.split(',')[bad]}' is not a fraction in (0, 1] of the full model's MACs`,
      '--budget-grid',
    );
  // The full budget is always reported: the plain model and every method's best at any cost.
  return [...new Set([...values, 1])].sort((a, b) => a - b);
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** What differs between `key` and the one a method directory was made with (undefined: none made). */
function changedKeys(dir: string, key: Record<string, unknown>): string[] | undefined {
  const path = join(dir, methodFile);
  if (!existsSync(path)) return undefined;
  const saved = (JSON.parse(readFileSync(path, 'utf8')) as { key?: Record<string, unknown> }).key ?? {};
  return Object.keys({ ...saved, ...key }).filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(key[k]));
}

/** A method directory made with other settings is never mixed into this report. */
function checkReusable(dir: string, key: Record<string, unknown>) {
  const changed = changedKeys(dir, key) ?? [];
  if (changed.length)
    throw new LatError(
      'RUN_MISMATCH',
      `this method was made with another ${changed.join(', ')}; use another --out, or delete ${dir} to redo it`,
      dir,
    );
}

/** Runs the plan: derives each method (or reuses it), scores, times, writes the report files. */
export async function runCompare(plan: ComparePlan, out: Output): Promise<CompareReport> {
  const started = performance.now();
  const { flags, settings, base, dev } = plan;
  mkdirSync(flags.out, { recursive: true });
  const select = selectionMetric([...plan.task.metrics]);
  const reference = {
    macs: averageMacs(base, dev),
    paddedMacs: paddedMacs(base, settings.maxLength),
  };
  // The same dev inputs for every timing: a seeded sample.
  const order = new Rng(settings.seed).permutation(dev.length);
  const batch32 = order.slice(0, batch32Inputs).map((i) => dev[i]!);
  const batch1 = batch32.slice(0, batch1Inputs);
  const ref = await openClassifier(base, settings.threads);
  const refRun = (items: readonly Encoded[]) => ref.classifyTokens(items);
  const refTimes = { b1: [] as number[], b32: [] as number[] };
  const methods: MethodReport[] = [];
  const examples: CompareExample[] = batch1.slice(0, exampleInputs).map((e) => ({
    tokens: e.ids.map((id) => base.tokenizer.vocab[id] ?? '[UNK]'),
    kept: [],
  }));
  // Every method's directory and key first: a method may train into another's (MethodContext.peer).
  for (const method of plan.methods) {
    const dir = join(flags.out, method.name);
    mkdirSync(dir, { recursive: true });
    const key = keyOf(method, plan.key, settings);
    writeJson(join(dir, methodFile), { kind: 'lat-compare-method', method: method.name, key });
  }
  const peer = (name: string) => {
    const m = compareMethods.find((x) => x.name === name);
    const dir = join(flags.out, name);
    if (plan.methods.some((x) => x.name === name)) return dir;
    return m && changedKeys(dir, keyOf(m, plan.key, settings))?.length === 0 ? dir : undefined;
  };
  try {
    for (const [k, method] of plan.methods.entries()) {
      const dir = join(flags.out, method.name);
      const key = keyOf(method, plan.key, settings);
      const progress = methodProgress(out, `${method.name} (${k + 1}/${plan.methods.length})`);
      const c: MethodContext = {
        settings,
        base,
        task: plan.task,
        budgets: plan.budgets,
        dir,
        progress,
        quiet: quietOutput(progress),
        peer,
      };
      const derived = await method.derive(c).catch((e: unknown) => {
        // `lat train`'s advice (--resume) is this command's: run it again, it resumes.
        if (!isLatError(e, 'INTERRUPTED')) throw e;
        throw Object.assign(
          new LatError(
            'INTERRUPTED',
            `${method.name} stopped; run the same lat compare again to continue`,
            dir,
          ),
          { exitCode: (e as { exitCode?: number }).exitCode },
        );
      });
      try {
        const scores = await scoresOf(dir, derived.configurations, key, progress);
        progress.phase('latency', derived.configurations.length);
        const configurations: ConfigurationReport[] = [];
        for (const [i, conf] of derived.configurations.entries()) {
          const b1 = await timePaired(
            (items) => runOneByOne(refRun, items),
            (items) => runOneByOne(conf.run, items),
            batch1,
            flags.runs,
          );
          const b32 = await timePaired(refRun, conf.run, batch32, flags.runs);
          refTimes.b1.push(b1.refMs);
          refTimes.b32.push(b32.refMs);
          const s = scores[i]!;
          configurations.push({
            label: conf.label,
            settings: conf.settings,
            metrics: s.metrics,
            metric: select.of(s.metrics),
            macs: s.macs,
            macsRatio: s.macs / reference.macs,
            paddedMacs: s.paddedMacs,
            paddedMacsRatio: s.paddedMacs / reference.paddedMacs,
            ...(s.kept ? { kept: s.kept } : {}),
            timing: {
              batch1Ms: b1.ms / batch1.length,
              batch1Speedup: b1.refMs / b1.ms,
              batch32Ms: b32.ms,
              batch32Speedup: b32.refMs / b32.ms,
            },
          });
          progress.tick(i + 1);
        }
        const best = plan.budgets.map((budget) => ({
          budget,
          configuration: bestUnder(configurations, budget),
        }));
        for (const [i, ex] of examples.entries()) {
          for (const { budget, configuration } of best) {
            const keep =
              configuration === null ? undefined : derived.configurations[configuration]!.keptPositions;
            if (keep)
              ex.kept.push({
                method: method.name,
                budget,
                configuration: configuration!,
                layers: await keep(batch1[i]!),
              });
          }
        }
        methods.push({
          name: method.name,
          summary: method.summary,
          recipe: derived.recipe,
          params: derived.params,
          bytes: statSync(join(derived.modelDir, 'model.safetensors')).size,
          configurations,
          best,
        });
      } finally {
        await derived.release();
      }
    }
  } finally {
    await ref.dispose();
  }
  const report: CompareReport = {
    schemaVersion: compareSchemaVersion,
    kind: 'lat-compare',
    model: {
      dir: flags.model,
      fingerprint: base.fingerprint,
      numLayers: base.config.numLayers,
      hidden: base.config.hiddenSize,
      params: [...base.weights.values()].reduce((n, t) => n + t.data.length, 0),
      bytes: statSync(join(base.dir, 'model.safetensors')).size,
    },
    task: plan.task.name,
    metric: select.name,
    data: {
      train: flags.train,
      dev: flags.dev,
      trainSha256: plan.hashes.train,
      devSha256: plan.hashes.dev,
      devExamples: dev.length,
    },
    settings: {
      seed: settings.seed,
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      lr: settings.lr,
      maxLength: settings.maxLength,
      options: { ...settings.options },
      latency: { batch1Inputs: batch1.length, batch32Inputs: batch32.length, runs: flags.runs },
    },
    budgets: plan.budgets,
    reference,
    methods,
    examples,
    timing: {
      date: new Date().toISOString(),
      seconds: (performance.now() - started) / 1000,
      machine: {
        cpu: cpus()[0]?.model.trim() ?? 'unknown',
        cores: availableParallelism(),
        threads: settings.threads ?? null,
        node: process.version,
      },
      referenceBatch1Ms: median(refTimes.b1) / batch1.length,
      referenceBatch32Ms: median(refTimes.b32),
    },
  };
  writeJson(join(flags.out, 'compare.json'), report);
  writeFileAtomic(join(flags.out, 'compare.md'), compareMarkdown(report));
  writeFileAtomic(join(flags.out, 'compare.svg'), compareSvg(report));
  return report;
}

/** Dev scores of every configuration: from `<dir>/evaluation.json` when made with this key. */
async function scoresOf(
  dir: string,
  configurations: readonly { label: string; settings: unknown; evaluate(): Promise<ConfigurationScore> }[],
  key: Record<string, unknown>,
  progress: MethodProgress,
): Promise<ConfigurationScore[]> {
  const path = join(dir, evaluationFile);
  const settingsOf = JSON.stringify(configurations.map((c) => c.settings));
  if (existsSync(path)) {
    const saved = JSON.parse(readFileSync(path, 'utf8')) as {
      key: unknown;
      settings: string;
      scores: ConfigurationScore[];
    };
    if (JSON.stringify(saved.key) === JSON.stringify(key) && saved.settings === settingsOf)
      return saved.scores;
  }
  progress.phase('evaluate', configurations.length);
  const scores: ConfigurationScore[] = [];
  for (const c of configurations) {
    scores.push(await c.evaluate());
    progress.tick(scores.length);
  }
  writeJson(path, { key, settings: settingsOf, scores });
  return scores;
}

/** Best metric within the budget (ties: fewer MACs, then the earlier configuration). */
function bestUnder(configurations: readonly ConfigurationReport[], budget: number): number | null {
  let best: number | null = null;
  configurations.forEach((c, i) => {
    if (c.macsRatio > budget + 1e-9) return;
    const b = best === null ? undefined : configurations[best]!;
    if (!b || c.metric > b.metric || (c.metric === b.metric && c.macs < b.macs)) best = i;
  });
  return best;
}

type Run = (items: readonly Encoded[]) => Promise<unknown>;

async function runOneByOne(run: Run, items: readonly Encoded[]) {
  for (const item of items) await run([item]);
}

/**
 * Median ms of `run` and of the reference on the same inputs, alternating one run of each, so a
 * burst of load on a shared machine hits both (speed-ups stay meaningful when latencies wobble).
 */
async function timePaired(refRun: Run, run: Run, items: readonly Encoded[], runs: number) {
  await refRun(items);
  await run(items);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    await refRun(items);
    a.push(performance.now() - t);
    t = performance.now();
    await run(items);
    b.push(performance.now() - t);
  }
  return { refMs: median(a), ms: median(b) };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s.length ? s[Math.floor(s.length / 2)]! : Number.NaN;
}

/**
 * Progress lines per method and phase with an ETA from the phase's rate so far; with --json,
 * `progress` events. At most a line per tenth of a phase or per 10 s.
 */
function methodProgress(out: Output, who: string): MethodProgress {
  let phase = '';
  let total = 0;
  let start = 0;
  let firstDone = 0;
  let lastLine = 0;
  let lastDone = 0;
  const say = (done: number) => {
    const elapsed = (performance.now() - start) / 1000;
    const eta = done > firstDone ? (elapsed / (done - firstDone)) * (total - done) : Number.NaN;
    out.event({
      event: 'progress',
      method: who,
      phase,
      done,
      total,
      etaSec: Number.isFinite(eta) ? eta : null,
    });
    out.info(`[${who}] ${phase} ${done}/${total} · ETA ${formatDuration(eta)}`);
    lastLine = performance.now();
    lastDone = done;
  };
  return {
    phase(name, n) {
      if (name === phase && n === total) return;
      [phase, total, start, firstDone, lastDone] = [name, n, performance.now(), -1, -1];
    },
    tick(done) {
      if (firstDone < 0) {
        // The first report of a phase (a resumed one starts part-way): the rate is measured from here.
        firstDone = done;
        start = performance.now();
        return say(done);
      }
      const step = Math.max(1, Math.ceil(total / 10));
      if (done === total || done - lastDone >= step || performance.now() - lastLine > 10_000) say(done);
    },
  };
}

/** The Output a method's `lat` commands get: silent, their step/iteration events become progress. */
function quietOutput(progress: MethodProgress): Output {
  return {
    json: true,
    info: () => {},
    result: () => {},
    event: (e) => {
      if (e['event'] === 'step') {
        progress.phase('train (steps)', e['totalSteps'] as number);
        progress.tick(e['step'] as number);
      } else if (e['event'] === 'iteration') {
        progress.phase('search (iterations)', e['iterations'] as number);
        progress.tick(e['iteration'] as number);
      }
    },
  };
}

/**
 * Accuracy against measured batch-32 speed-up, one curve per method, drawn in order of MACs (the
 * frontier's order): where timing noise swaps two speed-ups the line says so instead of hiding it.
 */
export function compareSvg(r: CompareReport): string {
  const curves = r.methods.map((m) => ({
    name: m.name,
    points: [...m.configurations]
      .sort((a, b) => b.macs - a.macs)
      .map((c) => ({ x: c.timing.batch32Speedup, y: c.metric })),
  }));
  const most = Math.max(1, ...curves.flatMap((c) => c.points.map((p) => p.x)));
  const step = most <= 2 ? 0.25 : most <= 4 ? 0.5 : 1;
  const xTicks: [number, string][] = [];
  for (let x = 0.5; x <= most + step / 2; x += step) xTicks.push([x, `${x.toFixed(2)}×`]);
  return curvesSvg(curves, {
    xLabel: 'measured speed-up over the starting checkpoint (batch 32)',
    yLabel: r.metric,
    xTicks,
  });
}
