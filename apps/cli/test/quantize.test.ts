/**
 * The q8 path through the built `lat` binary: search --dtype q8 writes the q8 graph's own
 * frontier, eval --dtype q8 reproduces it, export --quantize int8 writes a q8 bundle that predicts
 * what the model directory does at --dtype q8, and the errors for the wrong dtype.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliRoot, ensureBuilt, lat as latRun, tinySearch, writeSentimentFixture } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-cli-q8-'));
const model = join(dir, 'model');
const dev = join(dir, 'dev.tsv');

const lat = (args: string[], input?: string) => latRun(args, input, 60_000);

/** A command on the model and its dev set. */
const onDev = (command: string, ...more: string[]) =>
  lat([command, '--model', model, '--dev', dev, '--task', 'sst2', ...more]);

beforeAll(() => {
  ensureBuilt(cliRoot);
  writeSentimentFixture(dir, model, { seed: 5, train: 10, dev: 40, hidden: 64, heads: 4 });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lat with int8 graphs', () => {
  it('search --dtype q8 → eval --dtype q8 → export --quantize int8 → predict from the bundle', () => {
    const search = onDev('search', '--dtype', 'q8', '--json', ...tinySearch);
    expect(search.code, search.err).toBe(0);
    // The q8 graph's frontier is its own file, tied to the q8 fingerprint; no fp32 frontier appears.
    expect(existsSync(join(model, 'frontier.json'))).toBe(false);
    const frontier = JSON.parse(readFileSync(join(model, 'frontier-q8.json'), 'utf8'));
    expect(frontier.model.fingerprint).toMatch(/\+q8$/);

    const ev = onDev('eval', '--dtype', 'q8', '--all', '--json');
    expect(ev.code, ev.err).toBe(0);
    const results = JSON.parse(ev.out);
    expect(results.dtype).toBe('q8');
    results.results.forEach((r: { metrics: { accuracy: number } }, i: number) =>
      expect(r.metrics.accuracy).toBeCloseTo(frontier.points[i].metric, 10),
    );
    const bundle = join(dir, 'bundle');
    const exp = lat(['export', '--model', model, '--out', bundle, '--quantize', 'int8', '--json']);
    expect(exp.code, exp.err).toBe(0);
    expect(JSON.parse(exp.out)).toMatchObject({ dtype: 'q8', frontierPoints: frontier.points.length });
    const manifest = JSON.parse(readFileSync(join(bundle, 'lat.json'), 'utf8'));
    expect(manifest.model.dtype).toBe('q8');
    expect(manifest.model.fingerprint).toBe(frontier.model.fingerprint);

    const text = 'a superb and witty film .\nit is dull and bland .\n';
    const fromDir = lat(
      ['predict', '--model', model, '--dtype', 'q8', '--ratios', '0.8,0.5', '--json'],
      text,
    );
    const fromBundle = lat(['predict', '--model', bundle, '--ratios', '0.8,0.5', '--json'], text);
    expect(fromDir.code, fromDir.err).toBe(0);
    expect(fromBundle.code, fromBundle.err).toBe(0);
    const a = JSON.parse(fromDir.out).predictions;
    const b = JSON.parse(fromBundle.out).predictions;
    b.forEach((x: { lengths: number[]; probabilities: number[] }, i: number) => {
      expect(x.lengths).toEqual(a[i].lengths);
      x.probabilities.forEach((q, j) => expect(q).toBeCloseTo(a[i].probabilities[j], 5));
    });

    // The wrong dtype for a bundle, and dtypes lat does not have, are refused with the fix.
    const wrong = lat(['predict', '--model', bundle, '--dtype', 'fp32', 'dull']);
    expect(wrong.code).toBe(2); // a usage error (BAD_INPUT)
    expect(wrong.err).toMatch(/exported q8 graph and cannot run as fp32/);
    const int4 = lat(['export', '--model', model, '--out', join(dir, 'b4'), '--quantize', 'int4']);
    expect(int4.code).not.toBe(0);
    expect(int4.err).toMatch(/--quantize.*int4.*int8/s);
    expect(existsSync(join(dir, 'b4'))).toBe(false);
    const latency = onDev('search', '--dtype', 'q8', '--objective', 'latency');
    expect(latency.code).not.toBe(0);
    expect(latency.err).toMatch(/--objective: per-layer latency tables are measured on fp32 graphs/);
    const bad = onDev('eval', '--dtype', 'f16');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/--dtype.*f16.*fp32, q8/s);
  }, 120_000);

  it('export --int8-weights per-tensor-8bit: the layout in lat.json, predictions close to the default layout', () => {
    const out = (layout?: string) => {
      const bundle = join(dir, `bundle-${layout ?? 'default'}`);
      const args = ['export', '--model', model, '--out', bundle, '--quantize', 'int8', '--json'];
      const r = lat(layout ? [...args, '--int8-weights', layout] : args);
      expect(r.code, r.err).toBe(0);
      return { bundle, result: JSON.parse(r.out) };
    };
    const tensor = out('per-tensor-8bit');
    expect(tensor.result).toMatchObject({ dtype: 'q8', int8Weights: 'per-tensor-8bit' });
    const manifest = JSON.parse(readFileSync(join(tensor.bundle, 'lat.json'), 'utf8'));
    expect(manifest.model).toMatchObject({ dtype: 'q8', int8Weights: 'per-tensor-8bit' });
    const channel = out();
    expect(JSON.parse(readFileSync(join(channel.bundle, 'lat.json'), 'utf8')).model.int8Weights).toBe(
      'per-channel-7bit',
    );
    const text = 'a superb and witty film .\nit is dull and bland .\n';
    const predict = (bundle: string) => {
      const r = lat(['predict', '--model', bundle, '--json'], text);
      expect(r.code, r.err).toBe(0);
      return JSON.parse(r.out).predictions as { probabilities: number[] }[];
    };
    const [a, b] = [predict(tensor.bundle), predict(channel.bundle)];
    a.forEach((x, i) =>
      x.probabilities.forEach((q, j) => expect(Math.abs(q - b[i]!.probabilities[j]!)).toBeLessThan(0.05)),
    );
    // The layout needs an int8 export, and only the two layouts exist.
    const fp32 = lat([
      'export',
      '--model',
      model,
      '--out',
      join(dir, 'bf'),
      '--int8-weights',
      'per-tensor-8bit',
    ]);
    expect(fp32.code).toBe(2);
    expect(fp32.err).toMatch(/--int8-weights applies to an int8 export; add --quantize int8/);
    const four = lat([
      'export',
      '--model',
      model,
      '--out',
      join(dir, 'b4b'),
      '--quantize',
      'int8',
      '--int8-weights',
      'per-row-4bit',
    ]);
    expect(four.code).not.toBe(0);
    expect(four.err).toMatch(/per-channel-7bit.*per-tensor-8bit/s);
    expect(existsSync(join(dir, 'bf')) || existsSync(join(dir, 'b4b'))).toBe(false);
  }, 120_000);
});
