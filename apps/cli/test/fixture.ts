import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '@lat/core/node';
import { createRandomWeights, toHfConfig, toHfNames } from '@lat/layers';
import { generateSentimentTask, syntheticModelConfig } from '@lat/train';
import { expect } from 'vitest';

/** The CLI package directory and its built `lat` binary. */
export const cliRoot = join(import.meta.dirname, '..');
export const cliBin = join(cliRoot, 'dist/bin.js');

/**
 * Runs the built `lat` with `args`. One onnxruntime thread unless `args` set `--threads`:
 * deterministic numbers, and no spinning thread pool on a loaded machine.
 */
export function runLat(args: string[], o: { input?: string; timeout?: number } = {}) {
  const threads = args.includes('--threads') ? [] : ['--threads', '1'];
  return spawnSync(process.execPath, [cliBin, ...args, ...threads], {
    encoding: 'utf8',
    input: o.input,
    timeout: o.timeout ?? 120_000,
  });
}

/** `runLat` as exit code, stdout and stderr. */
export function lat(args: string[], input?: string, timeout?: number) {
  const r = runLat(args, { input, timeout });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The last stdout line of a `--json` run, as JSON. */
export const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);

/** Runs `lat … --json`, expects success and returns its summary (the last stdout line). */
export function latJson(args: string[]) {
  const r = runLat([...args, '--json']);
  expect(r.status, r.stderr).toBe(0);
  return lastJson(r.stdout);
}

/** Builds the `lat` binary (dist/bin.js under `root`) when `pnpm build` has not. */
export function ensureBuilt(root: string): void {
  if (!existsSync(join(root, 'dist/bin.js')))
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}

/** A training run's input: the base model of `writeSentimentFixture` on its `train.tsv`, as SST-2. */
export const sentimentTraining = (dir: string, base: string) => [
  '--model',
  base,
  '--task',
  'sst2',
  '--train',
  join(dir, 'train.tsv'),
];

/** A tiny evolutionary search (one iteration, population, mutations and crossovers of 2): fast tests. */
export const tinySearch = ['--iterations', '1', '--population', '2', '--mutations', '2', '--crossovers', '2'];

/**
 * The generated sentiment task as `<dir>/train.tsv` and `<dir>/dev.tsv`, and a fresh 2-layer BERT
 * with its vocabulary in `base` (a Hugging Face model directory).
 */
export function writeSentimentFixture(
  dir: string,
  base: string,
  o: { seed: number; train: number; dev: number; hidden: number; heads: number },
): void {
  const task = generateSentimentTask({ seed: o.seed, train: o.train, dev: o.dev });
  const tsv = (rows: typeof task.train) =>
    `sentence\tlabel\n${rows.map((e) => `${e.textA}\t${e.label}`).join('\n')}\n`;
  writeFileSync(join(dir, 'train.tsv'), tsv(task.train));
  writeFileSync(join(dir, 'dev.tsv'), tsv(task.dev));
  mkdirSync(base);
  const config = syntheticModelConfig({ layers: 2, hidden: o.hidden, heads: o.heads });
  writeFileSync(join(base, 'config.json'), JSON.stringify(toHfConfig(config)));
  writeFileSync(join(base, 'vocab.txt'), `${task.vocab.join('\n')}\n`);
  writeSafetensors(join(base, 'model.safetensors'), toHfNames(createRandomWeights(config, 1), config));
}
