/**
 * Checkpoints: a Hugging Face-loadable model directory (model.safetensors with HF names,
 * config.json, tokenizer files) plus the optimizer moments (optimizer.safetensors) and the
 * trainer's JSON state (step, epoch position, RNG states, losses, the run's fingerprint).
 *
 * Crash consistency: a checkpoint is written into `checkpoint.tmp-<pid>` with trainer_state.json
 * last (a directory holding a readable trainer_state.json is complete), then the current
 * `checkpoint` is renamed to `checkpoint.old-<pid>`, the new one renamed into place and the old one
 * removed. A kill at any of these steps leaves at least one complete checkpoint; `loadCheckpoint`
 * takes the newest complete one of `checkpoint`, `checkpoint.tmp-*` and `checkpoint.old-*`, puts it
 * back in place and removes the leftovers. A failed write (ENOSPC …) removes its partial directory.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LatError, type StateDict } from '@lat/core';
import { fileError, readJson, readSafetensors, writeSafetensors } from '@lat/core/node';
import {
  adaplerWeightsFile,
  isAdaplerWeight,
  type ModelConfig,
  toCanonical,
  toHfConfig,
  toHfNames,
} from '@lat/layers';
import type { AdamWState } from './optim.js';

/** Everything a checkpoint holds besides the weights, so a resumed run continues exactly. */
export interface TrainerState {
  step: number;
  epoch: number;
  /** Next batch index within the epoch. */
  batchInEpoch: number;
  /** The RNG used for length sampling, LayerDrop and dropout offsets. */
  rng: number[];
  /** RNG state the epoch's data order was drawn from. */
  epochRng: number[];
  losses: number[];
  /** What the run was started with (options, data and model fingerprints); `--resume` compares it. */
  run?: Record<string, unknown>;
  /** With `keep: 'best'`: the best epoch so far (its weights are in `checkpoint-best`). */
  best?: import('./trainer.js').BestEpoch;
}

/** The checkpoint folder's name inside a training run's output folder. */
export const checkpointDirName = 'checkpoint';
/** The folder the best epoch's weights are kept in (when training keeps the best epoch). */
export const bestCheckpointDirName = 'checkpoint-best';

/** The best epoch's weights as a model directory `<outDir>/checkpoint-best`, replaced atomically. */
export function saveBestWeights(
  outDir: string,
  config: ModelConfig,
  weights: StateDict,
  extraFiles: Record<string, string> = {},
): void {
  const dir = join(outDir, bestCheckpointDirName);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  writeModelFiles(tmp, config, weights, extraFiles);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

/** The weights of the best epoch, from `<outDir>/checkpoint-best`. */
export function loadBestWeights(outDir: string, config: ModelConfig): StateDict {
  const file = join(outDir, bestCheckpointDirName, 'model.safetensors');
  if (!existsSync(file))
    throw new LatError(
      'NOT_FOUND',
      "the best epoch's weights are missing; train again without --resume",
      file,
    );
  return readModelWeights(join(outDir, bestCheckpointDirName), config);
}

/**
 * model.safetensors of a directory written by `writeModelFiles`, with AdapLeR's weights when it
 * has them. A span model's head is kept: config.json names no head (a SQuAD run from a
 * classifier's folder still says BertForSequenceClassification), so the file decides.
 */
function readModelWeights(dir: string, config: ModelConfig): StateDict {
  const file = join(dir, 'model.safetensors');
  const raw = readSafetensors(file);
  const weights = toCanonical(raw, config, file, { qa: raw.has('qa_outputs.weight') });
  const extra = join(dir, adaplerWeightsFile);
  if (existsSync(extra)) for (const [name, t] of readSafetensors(extra)) weights.set(name, t);
  return weights;
}

/**
 * Test hook: called before every file-system step of `saveCheckpoint` with the step's name;
 * throwing from it simulates a crash (or a full disk) at that point.
 */
export const checkpointFaults: { beforeStep?: (step: string) => void } = {};

function step(name: string) {
  checkpointFaults.beforeStep?.(name);
}

/** Writes weights, optimizer moments and trainer state to `<dir>/checkpoint` atomically. */
export function saveCheckpoint(
  outDir: string,
  config: ModelConfig,
  weights: StateDict,
  optimizer: AdamWState,
  state: TrainerState,
  extraFiles: Record<string, string> = {},
): string {
  const dir = join(outDir, checkpointDirName);
  const tmp = `${dir}.tmp-${process.pid}`;
  try {
    rmSync(tmp, { recursive: true, force: true });
    step('write model files');
    writeModelFiles(tmp, config, weights, extraFiles);
    const moments = new Map<string, { dims: number[]; data: Float32Array }>();
    for (const [name, m] of Object.entries(optimizer.m))
      moments.set(`m.${name}`, { dims: [m.length], data: m });
    for (const [name, v] of Object.entries(optimizer.v))
      moments.set(`v.${name}`, { dims: [v.length], data: v });
    step('write optimizer.safetensors');
    writeSafetensors(join(tmp, 'optimizer.safetensors'), moments, { step: String(optimizer.step) });
    step('write trainer_state.json');
    writeFileSync(join(tmp, 'trainer_state.json'), JSON.stringify(state));
  } catch (e) {
    // A partial directory must not keep the disk full (or be mistaken for a checkpoint).
    rmSync(tmp, { recursive: true, force: true });
    throw fileError(e, tmp, 'cannot write the checkpoint');
  }
  const old = `${dir}.old-${process.pid}`;
  try {
    if (existsSync(dir)) {
      step('rename checkpoint to old');
      renameSync(dir, old);
    }
    step('rename new checkpoint into place');
    renameSync(tmp, dir);
    step('remove old checkpoint');
    removeLeftovers(outDir);
  } catch (e) {
    throw fileError(e, dir, 'cannot put the checkpoint in place');
  }
  return dir;
}

/** `checkpoint.tmp-*` and `checkpoint.old-*` directories in `outDir`. */
function leftovers(outDir: string): string[] {
  if (!existsSync(outDir)) return [];
  return readdirSync(outDir)
    .filter((n) => n.startsWith(`${checkpointDirName}.tmp-`) || n.startsWith(`${checkpointDirName}.old-`))
    .map((n) => join(outDir, n));
}

function removeLeftovers(outDir: string) {
  for (const d of leftovers(outDir)) rmSync(d, { recursive: true, force: true });
}

/** model.safetensors (HF names), config.json and tokenizer files: a directory `loadModelDir` reads. */
export function writeModelFiles(
  dir: string,
  config: ModelConfig,
  weights: StateDict,
  extraFiles: Record<string, string> = {},
) {
  mkdirSync(dir, { recursive: true });
  const model = new Map([...weights].filter(([name]) => !isAdaplerWeight(name)));
  writeSafetensors(join(dir, 'model.safetensors'), toHfNames(model, config), { format: 'pt' });
  if (model.size < weights.size)
    writeSafetensors(
      join(dir, adaplerWeightsFile),
      new Map([...weights].filter(([name]) => isAdaplerWeight(name))),
    );
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(toHfConfig(config), null, 2)}\n`);
  for (const [name, from] of Object.entries(extraFiles)) copyFileSync(from, join(dir, name));
}

interface LoadedCheckpoint {
  weights: StateDict;
  optimizer: AdamWState;
  state: TrainerState;
}

/**
 * A checkpoint directory's contents, or undefined when it is incomplete (no readable
 * trainer_state.json: it is written last, after the atomically written weights).
 */
function readCheckpointDir(dir: string, config: ModelConfig): LoadedCheckpoint | undefined {
  let state: TrainerState;
  try {
    state = readJson(join(dir, 'trainer_state.json')) as TrainerState;
  } catch {
    return undefined;
  }
  if (!Number.isInteger(state?.step)) return undefined;
  const weights = readModelWeights(dir, config);
  const moments = readSafetensors(join(dir, 'optimizer.safetensors'));
  const optimizer: AdamWState = { step: state.step, m: {}, v: {} };
  for (const [name, t] of moments) {
    if (name.startsWith('m.')) optimizer.m[name.slice(2)] = t.data;
    else if (name.startsWith('v.')) optimizer.v[name.slice(2)] = t.data;
  }
  return { weights, optimizer, state };
}

/**
 * The newest complete checkpoint in `outDir` (see the file comment); it is moved to
 * `<outDir>/checkpoint` and interrupted saves' leftovers are removed.
 */
export function loadCheckpoint(outDir: string, config: ModelConfig): LoadedCheckpoint {
  const dir = join(outDir, checkpointDirName);
  let best: { path: string; ck: LoadedCheckpoint } | undefined;
  for (const path of [dir, ...leftovers(outDir)]) {
    const ck = existsSync(path) ? readCheckpointDir(path, config) : undefined;
    if (ck && (!best || ck.state.step > best.ck.state.step)) best = { path, ck };
  }
  if (!best) {
    throw new LatError('NOT_FOUND', 'no checkpoint to resume from; run without --resume first', dir);
  }
  if (best.path !== dir) {
    rmSync(dir, { recursive: true, force: true });
    renameSync(best.path, dir);
  }
  removeLeftovers(outDir);
  return best.ck;
}

/** Refuses to resume a checkpoint whose run fingerprint differs from this run's (older ones have none). */
export function checkSameRun(
  saved: Record<string, unknown> | undefined,
  now: Record<string, unknown>,
  where: string,
): void {
  if (!saved) return;
  const changed = Object.keys({ ...saved, ...now }).filter(
    (k) => JSON.stringify(saved[k]) !== JSON.stringify(now[k]),
  );
  if (changed.length)
    throw new LatError(
      'RUN_MISMATCH',
      `the checkpoint was made by a run with other settings: ${changed
        .map((k) => `${k} was ${JSON.stringify(saved[k])}, now ${JSON.stringify(now[k])}`)
        .join('; ')}. Resume with the original arguments and data, or add --force`,
      where,
    );
}
