import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '@lat/core/node';
import { createRandomWeights, toHfConfig, toHfNames } from '@lat/layers';
import { generateSentimentTask, syntheticModelConfig } from '@lat/train';

/** Builds the `lat` binary (dist/bin.js under `root`) when `pnpm build` has not. */
export function ensureBuilt(root: string): void {
  if (!existsSync(join(root, 'dist/bin.js')))
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}

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
