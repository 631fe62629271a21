/**
 * Trainable pooling from the CLI: `lat train --method pooling --pooling 0:8` writes a pooled model
 * (config.json records the schedule) that eval, predict, bench, info, export and the bundle
 * pipeline all run pooled; bad schedules stop with one-line errors. Eval counts a pooled model's
 * MACs as its graph computes them.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encoderMacs } from '@lat/core';
import { parseModelConfig, poolingCounts, poolingMacs, toHfConfig } from '@lat/layers';
import { tinyModel } from '@lat/layers/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { paddedMacs } from '../src/evaluation.js';
import type { CliModel } from '../src/model.js';
import {
  cliRoot,
  ensureBuilt,
  latJson,
  runLat,
  sentimentTraining,
  tinySearch,
  writeSentimentFixture,
} from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-pooling-cli-'));
const base = join(dir, 'base');

const run = (args: string[]) => runLat([...args, '--json']);

beforeAll(() => {
  ensureBuilt(cliRoot);
  writeSentimentFixture(dir, base, { seed: 4, train: 600, dev: 200, hidden: 32, heads: 2 });
}, 120_000);

const common = () => [...sentimentTraining(dir, base), '--max-length', '32'];

describe('lat train --method pooling', () => {
  it('trains a pooled model that every command runs pooled', () => {
    const out = join(dir, 'pooled');
    const t = latJson([
      'train',
      ...common(),
      '--dev',
      join(dir, 'dev.tsv'),
      '--out',
      out,
      '--method',
      'pooling',
      '--pooling',
      '0:8',
      '--epochs',
      '10',
      '--lr',
      '2e-3',
    ]);
    expect(t.recipe).toMatchObject({ method: 'pooling', layerDrop: 0 });
    expect(t.metrics.accuracy).toBeGreaterThan(0.85);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.lat_pooling).toEqual({ schedule: [[0, 8]], input_length: 32 });

    const e = latJson(['eval', '--model', out, '--dev', join(dir, 'dev.tsv')]);
    expect(e.results[0].metrics.accuracy).toBeCloseTo(t.metrics.accuracy, 6);
    // The pooled model costs what its schedule says: padded to 32 tokens, layer 0's feed-forward
    // and layer 1 run on 8 rows.
    expect(e.results[0].paddedMacsRatio).toBe(1);
    const info = latJson(['info', '--model', out]);
    expect(info.smallestLengths).toEqual([8, 8]);
    expect(info.macsSmallest).toBeLessThan(info.macsFull * 0.6);

    const text = 'the film was dull and the plot was boring but the cast was witty and the story was fresh';
    const p = latJson(['predict', '--model', out, text]);
    expect(p.predictions[0].lengths).toEqual([8, 8]);
    expect(p.predictions[0].keptPositions[0][0]).toBe(0);
    const b = latJson(['bench', '--model', out, '--runs', '3']);
    expect(b.seq).toBe(32);

    const bundle = join(dir, 'bundle');
    latJson(['export', '--model', out, '--out', bundle]);
    const manifest = JSON.parse(readFileSync(join(bundle, 'lat.json'), 'utf8'));
    expect(manifest.model.pooling).toEqual({ schedule: [[0, 8]], inputLength: 32 });
    // Layer 1 follows the pooling: it takes LAT lengths of at most 8 rows.
    expect(manifest.io.inputs.keep_counts).toMatch(/then at most 8 \(LAT lengths\)/);
    const fromBundle = latJson(['predict', '--model', bundle, text]);
    expect(fromBundle.predictions[0].logits).toEqual(
      p.predictions[0].logits.map((v: number) => expect.closeTo(v, 5)),
    );

    // LAT lengths after the pooling: at the pooled width they are the pooled model; below it
    // layer 1 keeps fewer rows; above it, or as ratios, one-line errors.
    const atWidth = latJson(['predict', '--model', out, '--lengths', '8,8', text]);
    expect(atWidth.predictions[0].logits).toEqual(p.predictions[0].logits);
    const shorter = latJson(['predict', '--model', out, '--lengths', '8,4', text]);
    expect(shorter.predictions[0].lengths).toEqual([8, 4]);
    for (const [flags, message] of [
      [['--lengths', '8,9'], /lengths must not increase/],
      [
        ['--lengths', '6,4'],
        /layer 0 runs on 8 rows: a pooled model's lengths start with its schedule's rows/,
      ],
      [['--ratios', '1,0.5'], /a pooled model takes keep counts/],
    ] as const) {
      const r = run(['predict', '--model', out, ...flags, text]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  }, 120_000);

  it('searches the lengths of the layers after the pooling, and runs at a budget of its frontier', () => {
    const out = join(dir, 'pooled');
    const s = latJson(['search', '--model', out, '--dev', join(dir, 'dev.tsv'), ...tinySearch]);
    expect(s.frontier.lengthForm).toBe('absolute');
    expect(s.frontier.paddedLength).toBe(32);
    expect(s.frontier.search.evaluated).toBeGreaterThan(2);
    for (const point of s.frontier.points) {
      expect(point.lengths).toHaveLength(2);
      expect(point.lengths[0]).toBe(8);
      expect(point.lengths[1]).toBeLessThanOrEqual(8);
    }
    const cheapest = s.frontier.points[0];
    expect(cheapest.lengths[1]).toBeLessThan(8);
    const e = latJson([
      'eval',
      '--model',
      out,
      '--dev',
      join(dir, 'dev.tsv'),
      '--budget',
      String(cheapest.costRatio),
    ]);
    expect(e.results[0].lengths.lengths).toEqual(cheapest.lengths);
    expect(e.results[0].metrics.accuracy).toBeCloseTo(cheapest.metric, 6);
    const ratio = run([
      'search',
      '--model',
      out,
      '--dev',
      join(dir, 'dev.tsv'),
      '--form',
      'ratio',
      ...tinySearch,
    ]);
    expect(ratio.stderr).toMatch(/a pooled model searches keep counts: use --form absolute/);

    // A bundle carries the frontier: the same lengths at the same budget, from the bundle.
    const bundle = join(dir, 'bundle-frontier');
    latJson(['export', '--model', out, '--out', bundle]);
    const text = 'the plot was dull but the cast was witty';
    const args = ['--budget', String(cheapest.costRatio), text];
    const fromDir = latJson(['predict', '--model', out, ...args]);
    const fromBundle = latJson(['predict', '--model', bundle, ...args]);
    expect(fromBundle.predictions[0].lengths).toEqual(cheapest.lengths);
    expect(fromBundle.predictions[0].logits).toEqual(
      fromDir.predictions[0].logits.map((v: number) => expect.closeTo(v, 5)),
    );
  }, 120_000);

  it('extends positions by copying for a --max-length beyond them, with blockwise attention', () => {
    const out = join(dir, 'long');
    const r = run([
      'train',
      ...sentimentTraining(dir, base),
      '--max-length',
      '128',
      '--out',
      out,
      '--method',
      'pooling',
      '--pooling',
      '0:32,1:8',
      '--chunk',
      '64',
      '--epochs',
      '1',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/positions extended from 64 to 128 by copying the learned ones/);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.max_position_embeddings).toBe(128);
    expect(config.lat_pooling).toEqual({
      schedule: [
        [0, 32],
        [1, 8],
      ],
      input_length: 128,
      chunk: 64,
    });
  }, 60_000);

  it('trains the blockwise baseline with --pooling none --chunk n', () => {
    const out = join(dir, 'blockwise');
    const r = run([
      'train',
      ...common(),
      '--out',
      out,
      '--method',
      'pooling',
      '--pooling',
      'none',
      '--chunk',
      '8',
      '--epochs',
      '1',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.lat_pooling).toEqual({ schedule: [], input_length: 32, chunk: 8 });
    // Nothing pools: every layer keeps every token ([CLS] a dull film [SEP]).
    const p = latJson(['predict', '--model', out, 'a dull film']);
    expect(p.predictions[0].keptPositions).toEqual([
      [0, 1, 2, 3, 4],
      [0, 1, 2, 3, 4],
    ]);
    // Training it further with --pooling none keeps its blocks without --chunk again.
    const further = join(dir, 'blockwise-further');
    const again = run([
      'train',
      ...common(),
      '--model',
      out,
      '--out',
      further,
      '--method',
      'pooling',
      '--pooling',
      'none',
      '--epochs',
      '1',
    ]);
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(further, 'config.json'), 'utf8')).lat_pooling).toEqual(
      config.lat_pooling,
    );
  }, 60_000);

  it('trains blockwise attention with global tokens; predict, export and the bundle run them; stage B keeps them', () => {
    const out = join(dir, 'global');
    const flags = ['--method', 'pooling', '--pooling', 'none', '--chunk', '8', '--epochs', '1'];
    const r = run(['train', ...common(), '--out', out, ...flags, '--global-tokens', '4']);
    expect(r.status, r.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.lat_pooling).toEqual({ schedule: [], input_length: 32, chunk: 8, global_tokens: 4 });
    const text = 'the film was dull and the plot was boring but the cast was witty and the story was fresh';
    const p = latJson(['predict', '--model', out, text]);
    const bundle = join(dir, 'global-bundle');
    latJson(['export', '--model', out, '--out', bundle]);
    const manifest = JSON.parse(readFileSync(join(bundle, 'lat.json'), 'utf8'));
    expect(manifest.model.pooling).toEqual({ schedule: [], inputLength: 32, chunk: 8, globalTokens: 4 });
    const fromBundle = latJson(['predict', '--model', bundle, text]);
    expect(fromBundle.predictions[0].logits).toEqual(
      p.predictions[0].logits.map((v: number) => expect.closeTo(v, 5)),
    );
    // A second stage from it (longer inputs, new blocks) keeps its global tokens unless told.
    const longer = join(dir, 'global-longer');
    const s = run(['train', ...sentimentTraining(dir, out), '--max-length', '64', '--out', longer, ...flags]);
    expect(s.status, s.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(longer, 'config.json'), 'utf8')).lat_pooling).toEqual({
      schedule: [],
      input_length: 64,
      chunk: 8,
      global_tokens: 4,
    });
  }, 120_000);

  it('trains blocks of kept rows after pooling with --pooled-chunk; a second stage keeps them unless told', () => {
    const out = join(dir, 'pooled-chunk');
    const flags = ['--method', 'pooling', '--pooling', '0:8', '--chunk', '8', '--epochs', '1'];
    const r = run(['train', ...common(), '--out', out, ...flags, '--pooled-chunk', '4']);
    expect(r.status, r.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.lat_pooling).toEqual({ schedule: [[0, 8]], input_length: 32, chunk: 8, pooled_chunk: 4 });
    const bundle = join(dir, 'pooled-chunk-bundle');
    latJson(['export', '--model', out, '--out', bundle]);
    const manifest = JSON.parse(readFileSync(join(bundle, 'lat.json'), 'utf8'));
    expect(manifest.model.pooling).toMatchObject({ chunk: 8, pooledChunk: 4 });
    const text = 'the film was dull and the plot was boring but the cast was witty and the story was fresh';
    expect(latJson(['predict', '--model', bundle, text]).predictions[0].logits).toEqual(
      latJson(['predict', '--model', out, text]).predictions[0].logits.map((v: number) =>
        expect.closeTo(v, 5),
      ),
    );
    const again = (name: string, extra: string[]) => {
      const s = run([
        'train',
        ...sentimentTraining(dir, out),
        '--max-length',
        '32',
        '--out',
        join(dir, name),
        '--method',
        'pooling',
        '--epochs',
        '1',
        ...extra,
      ]);
      expect(s.status, s.stderr).toBe(0);
      return JSON.parse(readFileSync(join(dir, name, 'config.json'), 'utf8')).lat_pooling;
    };
    expect(again('pooled-chunk-kept', [])).toMatchObject({ chunk: 8, pooled_chunk: 4 });
    expect(again('pooled-chunk-new', ['--pooled-chunk', '2'])).toMatchObject({ pooled_chunk: 2 });
    // The blockwise baseline from it has no pooled layers to keep them for.
    expect(again('pooled-chunk-none', ['--pooling', 'none', '--chunk', '8'])).toEqual({
      schedule: [],
      input_length: 32,
      chunk: 8,
    });
  }, 120_000);

  it('a second stage from a pooled model keeps its operator unless told otherwise', () => {
    const first = join(dir, 'iterative');
    const flags = ['--method', 'pooling', '--epochs', '1'];
    const operator = ['--pooling', '0:8', '--pooling-operator', 'iterative'];
    expect(run(['train', ...common(), '--out', first, ...flags, ...operator]).status).toBe(0);
    const second = join(dir, 'iterative-again');
    const s = run([
      'train',
      ...sentimentTraining(dir, first),
      '--max-length',
      '32',
      '--out',
      second,
      ...flags,
    ]);
    expect(s.status, s.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(second, 'config.json'), 'utf8')).lat_pooling).toMatchObject({
      schedule: [[0, 8]],
      operator: 'iterative',
    });
  }, 60_000);

  it('refuses bad schedules in one line', () => {
    const bad = (flags: string[], message: RegExp) => {
      const r = run(['train', ...common(), '--out', join(dir, `bad-${flags.join('')}`), ...flags]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    };
    bad(['--method', 'pooling', '--pooling', '0:12'], /width 12 is not reachable by halving 32 rows/);
    bad(
      ['--method', 'pooling', '--pooling', '0:8,1:16'],
      /the schedule must shrink: layer 1 pools to 16 rows from 8/,
    );
    bad(
      ['--method', 'pooling', '--pooling', '0:16,5:8'],
      /layer 5 is out of range: the model has layers 0\.\.1/,
    );
    bad(
      ['--method', 'pooling', '--pooling', 'none'],
      /--pooling none \(the blockwise baseline\) needs --chunk/,
    );
    bad(['--pooling', '0:8'], /--pooling needs --method pooling/);
    // The auxiliary scorer loss: a weight ≥ 0, pooling only, span QA only.
    const pooled = ['--method', 'pooling', '--pooling', '0:8'];
    bad([...pooled, '--scorer-loss', '-1'], /--scorer-loss: must be a number ≥ 0 \(0: off\), got -1/);
    bad([...pooled, '--scorer-loss', 'lots'], /--scorer-loss must be a number, got 'lots'/);
    bad(['--scorer-loss', '1'], /--scorer-loss needs --method pooling/);
    bad([...pooled, '--scorer-loss', '1'], /--scorer-loss: needs span QA \(--task squad\)/);
    bad(['--method', 'pooling'], /--method pooling needs a schedule/);
    // Global tokens: blockwise layers only, within the input length.
    bad(['--global-tokens', '4'], /--global-tokens needs --method pooling/);
    bad([...pooled, '--global-tokens', '4'], /--global-tokens: global tokens need blockwise attention/);
    const blockwise = ['--method', 'pooling', '--pooling', 'none', '--chunk', '8'];
    bad(
      [...blockwise, '--global-tokens', '33'],
      /global tokens must be a whole number in 0\.\.32 \(the input length\), got 33/,
    );
    bad([...blockwise, '--global-tokens', '-1'], /--global-tokens must be a whole number, got '-1'/);
    // Blocks after pooling: pooling only, at most the pooled rows.
    bad(['--pooled-chunk', '4'], /--pooled-chunk needs --method pooling/);
    bad(
      [...pooled, '--pooled-chunk', '9'],
      /--pooled-chunk: pooled_chunk must be a whole number in 1\.\.8 \(the rows after layer 0's pooling\), got 9/,
    );
    bad([...blockwise, '--pooled-chunk', '4'], /--pooled-chunk: pooled_chunk needs a pooling schedule/);
    // Keeping the question: pooling only, span QA only, successive halving only.
    bad(['--keep-first-segment'], /--keep-first-segment needs --method pooling/);
    bad([...pooled, '--keep-first-segment'], /--keep-first-segment: needs span QA \(--task squad\)/);
  }, 60_000);
});

describe("lat eval's padded MACs of a pooled model", () => {
  it('are what its graph computes (poolingMacs: blockwise layers attend n·c, scorers), span head included', () => {
    const config = parseModelConfig({
      ...toHfConfig(tinyModel({ maxPositions: 64 }).config),
      lat_pooling: { schedule: [[1, 8]], input_length: 64, chunk: 16 },
    });
    const model = { config, span: true } as CliModel;
    expect(paddedMacs(model, 64)).toBe(poolingMacs(config, 64, undefined, { qaHead: true }));
    expect(paddedMacs(model, 64)).toBeLessThan(
      encoderMacs(config, 64, poolingCounts(config, 64), { qaHead: true }),
    );
  });
});
