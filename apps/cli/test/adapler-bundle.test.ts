/**
 * An AdapLeR model beyond training, from the CLI: `lat export` writes an AdapLeR bundle;
 * `lat predict` on the directory and on the bundle gives @lat/pipeline's logits and per-input
 * kept tokens; `lat info` describes the predictors and η; `lat search` says why it does not
 * apply; a bundle or directory with a bad η or a missing predictor weight is a one-line error
 * naming the file.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '@lat/core/node';
import { adapler } from '@lat/layers';
import { tinyAdaplerModel, writeModelDir } from '@lat/layers/testing';
import { pipeline } from '@lat/pipeline';
import { createWebRuntime } from '@lat/runtime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliRoot, ensureBuilt, lat, latJson } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-adapler-bundle-'));
const modelDir = join(dir, 'model');
const bundleDir = join(dir, 'bundle');
const vocab = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  'a',
  'gripping',
  'film',
  'dull',
  'the',
  'plot',
  'was',
  '.',
];
const texts = ['a gripping film', 'the plot was dull .', 'the film was a gripping plot , dull .', 'dull'];

beforeAll(() => {
  ensureBuilt(cliRoot);
  writeModelDir(modelDir, tinyAdaplerModel({ vocab, layers: 3, seed: 5, eta: 0.9, scale: 10 }));
}, 120_000);

/** The parts of a prediction the bundle and the directory must agree on. */
type Predicted = { logits: number[]; lengths: number[]; keptPositions: number[][]; macs: number };

const same = (a: Predicted[], b: Predicted[]) => {
  expect(a).toHaveLength(b.length);
  a.forEach((x, i) => {
    x.logits.forEach((v, j) => expect(Math.abs(v - b[i]!.logits[j]!)).toBeLessThan(1e-5));
    expect(x.lengths).toEqual(b[i]!.lengths);
    expect(x.keptPositions).toEqual(b[i]!.keptPositions);
    expect(x.macs).toBeCloseTo(b[i]!.macs, 6);
  });
};

describe('AdapLeR models: export, predict, info, search', () => {
  it('exports an AdapLeR bundle that predicts as the directory and as @lat/pipeline do', async () => {
    const e = latJson(['export', '--model', modelDir, '--out', bundleDir]);
    expect(e).toMatchObject({ command: 'export', adapler: true });
    const manifest = JSON.parse(readFileSync(join(bundleDir, 'lat.json'), 'utf8'));
    expect(manifest.model.adapler.eta).toEqual([0.9, 0.9, 0.9].map(Math.fround));
    expect(manifest.model.adapler.predictors).toHaveLength(3);

    const fromDir = latJson(['predict', '--model', modelDir, ...texts]);
    const fromBundle = latJson(['predict', '--model', bundleDir, ...texts]);
    expect(fromDir.method).toBe('adapler');
    expect(fromBundle.method).toBe('adapler');
    same(fromBundle.predictions, fromDir.predictions);
    // Inputs keep different counts per layer, and fewer than they have.
    expect(new Set(fromDir.predictions.map((p: Predicted) => p.lengths.join())).size).toBeGreaterThan(1);
    expect(fromDir.predictions.some((p: { macsSpeedup: number }) => p.macsSpeedup > 1)).toBe(true);

    // @lat/pipeline in this process, on onnxruntime-web's wasm, from the bundle.
    const clf = await pipeline('text-classification', bundleDir, {
      runtime: createWebRuntime({ threads: 1 }),
    });
    try {
      same(await clf(texts), fromDir.predictions);
    } finally {
      await clf.dispose();
    }

    const budget = lat(['predict', '--model', bundleDir, '--budget', '0.5', 'a film']);
    expect(budget.code).not.toBe(0);
    expect(budget.err.trim().split('\n')).toHaveLength(1);
    expect(budget.err).toMatch(/--budget: an AdapLeR model picks each input's lengths itself/);
    // lat eval reads AdapLeR models from their directory (its own report), not from a bundle.
    const dev = join(dir, 'dev.tsv');
    writeFileSync(dev, `sentence\tlabel\n${texts.map((t, i) => `${t}\t${i % 2}`).join('\n')}\n`);
    const ev = lat(['eval', '--model', bundleDir, '--dev', dev, '--task', 'sst2']);
    expect(ev.code).not.toBe(0);
    expect(ev.err).toMatch(
      /^lat: --model: this is an AdapLeR bundle: lat eval reads AdapLeR models from their directory[^\n]*\n$/,
    );
  }, 120_000);

  it('lat info shows the predictors and η; lat search says AdapLeR picks lengths per input', () => {
    const info = latJson(['info', '--model', modelDir]);
    expect(info.adapler).toEqual({
      predictorLayers: 3,
      predictorWidth: 32,
      predictorParameters: 3 * (32 * 32 + 2 * 32 + 1),
      eta: [0.9, 0.9, 0.9].map(Math.fround),
    });
    const human = lat(['info', '--model', modelDir]);
    expect(human.out).toMatch(/AdapLeR: a Contribution Predictor before each of the 3 layers/);
    expect(human.out).toMatch(/η per layer 0\.9000, 0\.9000, 0\.9000/);
    expect(human.out).not.toMatch(/LengthDrop/);

    const search = lat(['search', '--model', modelDir, '--dev', join(dir, 'dev.tsv')]);
    expect(search.code).not.toBe(0);
    expect(search.err.trim().split('\n')).toHaveLength(1);
    expect(search.err).toMatch(/AdapLeR model picks each input's lengths itself.*φ-sweep frontier/);
  }, 60_000);

  it('bad η or a missing predictor weight: one line naming the file, for a directory and a bundle', () => {
    const badDir = join(dir, 'bad-dir');
    cpSync(modelDir, badDir, { recursive: true });
    const w = readSafetensors(join(badDir, 'adapler.safetensors'));
    w.set(adapler.eta, { dims: [3], data: Float32Array.of(0.9, 0.9, 0.001) });
    writeSafetensors(join(badDir, 'adapler.safetensors'), w);
    for (const args of [
      ['export', '--model', badDir, '--out', join(dir, 'never')],
      ['predict', '--model', badDir, 'a film'],
    ]) {
      const r = lat(args);
      expect(r.code).not.toBe(0);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/adapler.safetensors: adapler.eta\[2\] = 0.001.* lies outside \[0.01, 1\]/);
    }
    w.delete('adapler.cp.0.out.weight');
    writeSafetensors(join(badDir, 'adapler.safetensors'), w);
    expect(lat(['export', '--model', badDir, '--out', join(dir, 'never')]).err).toMatch(
      /adapler.safetensors: the AdapLeR weight adapler.cp.0.out.weight is missing/,
    );

    const badBundle = join(dir, 'bad-bundle');
    cpSync(bundleDir, badBundle, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(badBundle, 'lat.json'), 'utf8'));
    manifest.model.adapler.eta[0] = 1.2;
    writeFileSync(join(badBundle, 'lat.json'), JSON.stringify(manifest));
    const eta = lat(['predict', '--model', badBundle, 'a film']);
    expect(eta.err.trim().split('\n')).toHaveLength(1);
    expect(eta.err).toMatch(/lat.json#model.adapler.eta\[0\]: 1.2 lies outside \[0.01, 1\]/);
    manifest.model.adapler.eta[0] = 0.9;
    manifest.model.adapler.predictors[1] = [];
    writeFileSync(join(badBundle, 'lat.json'), JSON.stringify(manifest));
    expect(lat(['predict', '--model', badBundle, 'a film']).err).toMatch(
      /lat.json#model.adapler.predictors\[1\]: layer 2's Contribution Predictor weights are missing/,
    );
  }, 60_000);
});
