/** A tiny model directory and sentiment data files for CLI tests (seeded, made in seconds). */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '@lat/core/node';
import { createRandomWeights, toHfConfig, toHfNames } from '@lat/layers';
import { generateSentimentTask, syntheticModelConfig } from '@lat/train';

export const cliRoot = join(import.meta.dirname, '..');
export const cliBin = join(cliRoot, 'dist/bin.js');

/** Builds the CLI if needed; writes `<dir>/train.tsv`, `<dir>/dev.tsv` and a random model in `<dir>/base`. */
export function writeSentimentFixture(
  dir: string,
  o: { seed: number; train: number; dev: number; hidden?: number; heads?: number },
): void {
  if (!existsSync(cliBin))
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: cliRoot, stdio: 'inherit' });
  const task = generateSentimentTask({ seed: o.seed, train: o.train, dev: o.dev });
  const tsv = (rows: typeof task.train) =>
    `sentence\tlabel\n${rows.map((e) => `${e.textA}\t${e.label}`).join('\n')}\n`;
  writeFileSync(join(dir, 'train.tsv'), tsv(task.train));
  writeFileSync(join(dir, 'dev.tsv'), tsv(task.dev));
  const base = join(dir, 'base');
  mkdirSync(base);
  const config = syntheticModelConfig({ layers: 2, hidden: o.hidden ?? 32, heads: o.heads ?? 2 });
  writeFileSync(join(base, 'config.json'), JSON.stringify(toHfConfig(config)));
  writeFileSync(join(base, 'vocab.txt'), `${task.vocab.join('\n')}\n`);
  writeSafetensors(join(base, 'model.safetensors'), toHfNames(createRandomWeights(config, 1), config));
}
