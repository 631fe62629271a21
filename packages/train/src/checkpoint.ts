/**
 * Checkpoints: a Hugging Face-loadable model directory (model.safetensors with HF names,
 * config.json, tokenizer files) plus the optimizer moments (optimizer.safetensors) and the
 * trainer's JSON state (step, epoch position, RNG states, losses). Written into a temporary
 * directory and renamed into place, so an interrupted write never leaves a half checkpoint.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LatError, type ModelConfig, type StateDict, toCanonical, toHfConfig, toHfNames } from '@lat/core';
import { readJson, readSafetensors, writeSafetensors } from '@lat/core/node';
import type { AdamWState } from './optim.js';

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
}

export const checkpointDirName = 'checkpoint';

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
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeModelFiles(tmp, config, weights, extraFiles);
  const moments = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const [name, m] of Object.entries(optimizer.m))
    moments.set(`m.${name}`, { dims: [m.length], data: m });
  for (const [name, v] of Object.entries(optimizer.v))
    moments.set(`v.${name}`, { dims: [v.length], data: v });
  writeSafetensors(join(tmp, 'optimizer.safetensors'), moments, { step: String(optimizer.step) });
  writeFileSync(join(tmp, 'trainer_state.json'), JSON.stringify(state));
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
  return dir;
}

/** model.safetensors (HF names), config.json and tokenizer files: a directory `loadModelDir` reads. */
export function writeModelFiles(
  dir: string,
  config: ModelConfig,
  weights: StateDict,
  extraFiles: Record<string, string> = {},
) {
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'model.safetensors'), toHfNames(weights, config), { format: 'pt' });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(toHfConfig(config), null, 2)}\n`);
  for (const [name, from] of Object.entries(extraFiles)) copyFileSync(from, join(dir, name));
}

export function loadCheckpoint(
  outDir: string,
  config: ModelConfig,
): { weights: StateDict; optimizer: AdamWState; state: TrainerState } {
  const dir = join(outDir, checkpointDirName);
  if (!existsSync(join(dir, 'trainer_state.json'))) {
    throw new LatError('NOT_FOUND', 'no checkpoint to resume from; run without --resume first', dir);
  }
  const weights = toCanonical(
    readSafetensors(join(dir, 'model.safetensors')),
    config,
    join(dir, 'model.safetensors'),
  );
  const moments = readSafetensors(join(dir, 'optimizer.safetensors'));
  const state = readJson(join(dir, 'trainer_state.json')) as TrainerState;
  const optimizer: AdamWState = { step: 0, m: {}, v: {} };
  for (const [name, t] of moments) {
    if (name.startsWith('m.')) optimizer.m[name.slice(2)] = t.data;
    else if (name.startsWith('v.')) optimizer.v[name.slice(2)] = t.data;
  }
  optimizer.step = state.step;
  return { weights, optimizer, state };
}
