/**
 * `lat eval` on a bundle (lat.json + model.onnx from `lat export`), as on the model directory it
 * was exported from: the same metrics and MACs at full length, at LAT lengths and over the bundle's
 * frontier; classification (the bundle does not record the GLUE task: --task) and span QA (SQuAD).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyModel, writeModelDir } from '@lat/layers/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliRoot, ensureBuilt, lat, latJson, tinySearch, writeSentimentFixture } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-eval-bundle-'));
const base = join(dir, 'base');
const dev = join(dir, 'dev.tsv');

/** What a directory's and a bundle's eval results must agree on. */
const results = (e: { results: Record<string, unknown>[] }) =>
  e.results.map(({ configuration, lengths, metrics, macs, paddedMacs }) => ({
    configuration,
    lengths,
    metrics,
    macs,
    paddedMacs,
  }));

beforeAll(() => {
  ensureBuilt(cliRoot);
  writeSentimentFixture(dir, base, { seed: 3, train: 10, dev: 40, hidden: 16, heads: 2 });
  // As `lat train` records it: the task and the length inputs are padded to.
  writeFileSync(
    join(base, 'lat_training.json'),
    JSON.stringify({ task: 'sst2', metrics: ['accuracy'], maxLength: 48, lengthDrop: null }),
  );
}, 120_000);

describe('lat eval on a bundle', () => {
  it('classification: what the model directory gives, at full length and at LAT lengths', () => {
    const bundle = join(dir, 'bundle');
    latJson(['export', '--model', base, '--out', bundle]);
    for (const flags of [[], ['--lengths', '20,10']]) {
      const fromDir = latJson(['eval', '--model', base, '--dev', dev, ...flags]);
      const fromBundle = latJson(['eval', '--model', bundle, '--dev', dev, '--task', 'sst2', ...flags]);
      expect(fromBundle).toMatchObject({ task: 'sst2', examples: 40, paddedLength: 48, training: null });
      expect(fromBundle.fullMacs).toBe(fromDir.fullMacs);
      expect(results(fromBundle)).toEqual(results(fromDir));
    }
    // The task is not in lat.json: without --task, one line says to give it.
    const r = lat(['eval', '--model', bundle, '--dev', dev]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/^lat: --task: the model does not record its task \(a bundle, [^\n]*\n$/);
  });

  it("reads the frontier in the bundle's lat.json (--all, --budget)", () => {
    latJson(['search', '--model', base, '--dev', dev, ...tinySearch]);
    const bundle = join(dir, 'searched-bundle');
    latJson(['export', '--model', base, '--out', bundle]);
    for (const flags of [['--all'], ['--budget', '0.95']]) {
      const fromDir = latJson(['eval', '--model', base, '--dev', dev, ...flags]);
      const fromBundle = latJson(['eval', '--model', bundle, '--dev', dev, '--task', 'sst2', ...flags]);
      expect(results(fromBundle)).toEqual(results(fromDir));
    }
  });

  it('span QA: the SQuAD scores and MACs of the model directory', () => {
    const qa = join(dir, 'qa');
    writeModelDir(qa, tinyModel({ seed: 2 }));
    writeFileSync(
      join(qa, 'lat_training.json'),
      JSON.stringify({ task: 'squad', metrics: ['f1'], maxLength: 32, lengthDrop: null }),
    );
    const context = 'the film was dull . a gripping film , the film was dull .';
    const qas = ['the film', 'a gripping film', 'dull'].map((text, i) => ({
      id: `q${i}`,
      question: `what was ${text} ?`,
      answers: [{ text, answer_start: context.indexOf(text) }],
    }));
    const squad = join(dir, 'squad.json');
    writeFileSync(
      squad,
      JSON.stringify({ version: '1.1', data: [{ title: 't', paragraphs: [{ context, qas }] }] }),
    );
    const bundle = join(dir, 'qa-bundle');
    latJson(['export', '--model', qa, '--out', bundle]);
    for (const flags of [[], ['--ratios', '0.7,0.5']]) {
      const fromDir = latJson(['eval', '--model', qa, '--dev', squad, ...flags]);
      const fromBundle = latJson(['eval', '--model', bundle, '--dev', squad, ...flags]);
      expect(fromBundle).toMatchObject({ task: 'squad', paddedLength: 32 });
      expect(results(fromBundle)).toEqual(results(fromDir));
    }
  });
});
