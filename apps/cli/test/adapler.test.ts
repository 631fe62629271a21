/**
 * AdapLeR from the CLI: plain fine-tuning → `lat train --method adapler` (saliency targets from
 * the fine-tuned model, cached) → eval / predict / bench reporting per-input kept tokens and the
 * MACs speed-up; the model directory round-trips its predictors and η; bad AdapLeR files and
 * saliency targets of other data are one-line errors naming the file.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '@lat/core/node';
import { adapler } from '@lat/layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliRoot, ensureBuilt, latJson, runLat, writeSentimentFixture } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-adapler-cli-'));
const base = join(dir, 'base');

const run = (args: string[]) => runLat([...args, '--json']);

beforeAll(() => {
  ensureBuilt(cliRoot);
  writeSentimentFixture(dir, base, { seed: 11, train: 600, dev: 100, hidden: 32, heads: 2 });
  // Training data of another file, for saliency targets that do not belong to it.
  writeFileSync(
    join(dir, 'other.tsv'),
    readFileSync(join(dir, 'train.tsv'), 'utf8').split('\n').slice(0, 51).join('\n') + '\n',
  );
}, 120_000);

describe('lat train --method adapler, then eval / predict / bench', () => {
  it('trains from a fine-tuned model and reports per-input lengths and the MACs speed-up', () => {
    const data = ['--task', 'sst2', '--train', join(dir, 'train.tsv'), '--dev', join(dir, 'dev.tsv')];
    const plain = join(dir, 'plain');
    latJson([
      'train',
      '--model',
      base,
      ...data,
      '--out',
      plain,
      '--epochs',
      '6',
      '--lr',
      '2e-3',
      '--no-length-drop',
    ]);

    const out = join(dir, 'adapler');
    const cache = join(dir, 'cache');
    const adaplerArgs = ['--method', 'adapler', '--init-from', plain, '--keep', 'best', '--cache-dir', cache];
    const hyper = ['--gamma', '0.5', '--phi', '0.05', '--eta-lr', '0.05', '--lambda-schedule', '1000,10,10'];
    const t = latJson([
      'train',
      '--model',
      base,
      ...data,
      '--out',
      out,
      '--epochs',
      '4',
      '--lr',
      '2e-3',
      ...adaplerArgs,
      ...hyper,
    ]);
    expect(t.recipe).toMatchObject({
      method: 'adapler',
      layerDrop: 0,
      keep: 'best',
      adapler: {
        gamma: 0.5,
        phi: 0.05,
        etaLearningRate: 0.05,
        lambdaSchedule: { first: 1000, base: 10, growth: 10 },
      },
    });
    expect(t.recipe.adapler.saliency.fromCache).toBe(false);
    expect(t.metrics['macs_speedup']).toBeGreaterThan(1);
    const saved = readSafetensors(join(out, 'adapler.safetensors'));
    expect([...saved.keys()]).toContain(adapler.eta);
    // model.safetensors stays a plain Hugging Face checkpoint.
    expect(
      [...readSafetensors(join(out, 'model.safetensors')).keys()].some((n) => n.includes('adapler')),
    ).toBe(false);

    const e = latJson(['eval', '--model', out, '--dev', join(dir, 'dev.tsv')]);
    expect(e).toMatchObject({ method: 'adapler', examples: 100 });
    // The saved model scores what training's best epoch scored.
    expect(e.metrics.accuracy).toBeCloseTo(t.metrics.accuracy, 5);
    expect(e.lengths.macsSpeedup).toBeCloseTo(t.metrics.macs_speedup, 5);
    expect(e.lengths.histogram).toHaveLength(2);
    expect(e.lengths.histogram[0].reduce((a: number, b: number) => a + b, 0)).toBe(100);
    expect(e.lengths.maxKept[0]).toBeGreaterThan(e.lengths.minKept[0]); // counts differ across inputs

    const p = latJson(['predict', '--model', out, 'good great film', 'a bad and dull plot that is good']);
    expect(p.predictions).toHaveLength(2);
    for (const x of p.predictions) {
      expect(x.keptPositions.every((k: number[]) => k[0] === 0)).toBe(true); // [CLS] kept
      expect(x.lengths.every((n: number) => n <= x.tokens.length)).toBe(true);
    }

    const b = latJson(['bench', '--model', out, '--dev', join(dir, 'dev.tsv'), '--runs', '2']);
    expect(b).toMatchObject({ method: 'adapler', inputs: 100, batch: 1 });
    expect(b.macsSpeedup).toBeCloseTo(e.lengths.macsSpeedup, 5);
    expect(b.speedup).toBeGreaterThan(0);

    // A second run reads the targets from the cache; targets of other data are refused.
    const again = join(dir, 'again');
    const a = latJson(['train', '--model', base, ...data, '--out', again, '--epochs', '1', ...adaplerArgs]);
    expect(a.recipe.adapler.saliency).toMatchObject({
      fromCache: true,
      file: t.recipe.adapler.saliency.file,
    });
    const other = ['--task', 'sst2', '--train', join(dir, 'other.tsv')];
    const refused = run([
      'train',
      '--model',
      base,
      ...other,
      '--out',
      join(dir, 'x'),
      ...adaplerArgs,
      '--saliency',
      a.recipe.adapler.saliency.file,
    ]);
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(
      /saliency\..*\.bin: these saliency targets were computed for another data file/,
    );

    const squad = run([
      'train',
      '--model',
      base,
      '--task',
      'squad',
      '--train',
      join(dir, 'train.tsv'),
      '--out',
      join(dir, 'q'),
      '--method',
      'adapler',
    ]);
    expect(squad.stderr).toMatch(/--method: AdapLeR is built for sequence classification/);

    // Damaged AdapLeR files: η out of range, a predictor weight missing.
    const broken = join(dir, 'broken');
    cpSync(out, broken, { recursive: true });
    const w = readSafetensors(join(broken, 'adapler.safetensors'));
    writeSafetensors(
      join(broken, 'adapler.safetensors'),
      new Map(w).set(adapler.eta, { dims: [2], data: Float32Array.of(0.5, 2) }),
    );
    const bad = run(['eval', '--model', broken, '--dev', join(dir, 'dev.tsv')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(
      /broken\/adapler\.safetensors: adapler\.eta\[1\] = 2 lies outside \[0\.01, 1\]/,
    );
    const missing = new Map(w);
    missing.delete(`${adapler.predictor(0, 'hidden')}.weight`);
    writeSafetensors(join(broken, 'adapler.safetensors'), missing);
    const gone = run(['predict', '--model', broken, 'good']);
    expect(gone.stderr).toMatch(
      /adapler\.safetensors: the AdapLeR weight adapler\.cp\.0\.hidden\.weight is missing/,
    );
    expect(JSON.parse(readFileSync(join(out, 'lat_training.json'), 'utf8')).recipe.method).toBe('adapler');
  }, 240_000);
});
