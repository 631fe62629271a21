/**
 * `lat axformer` end to end through the built binary: a small fine-tuned model is pruned on a
 * selection split of its training file; the smaller model directory then works with info,
 * eval, search, predict, export (and the bundle), and a resumed run replays from its log.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@lat/core/node';
import {
  createAnytimeModel,
  createRandomWeights,
  parseModelConfig,
  pruneModel,
  toHfConfig,
  toHfNames,
} from '@lat/layers';
import { loadModelDir } from '@lat/layers/node';
import { createNodeRuntime } from '@lat/runtime-node';
import { syntheticModelConfig } from '@lat/train';
import { beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, openChromiumRuntime } from '../src/chromium.js';
import { benchInput } from '../src/commands/bench.js';
import { cliRoot, ensureBuilt, lastJson, lat, writeSentimentFixture } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-axformer-cli-'));
const base = join(dir, 'base');
const model = join(dir, 'model');
const pruned = join(dir, 'pruned');

beforeAll(() => {
  ensureBuilt(cliRoot);
  writeSentimentFixture(dir, base, { seed: 5, train: 1000, dev: 120, hidden: 32, heads: 4 });
  const rows = readFileSync(join(dir, 'train.tsv'), 'utf8').trim().split('\n');
  writeFileSync(
    join(dir, 'one-class.tsv'),
    `${[rows[0], ...rows.slice(1).map((r) => r.replace(/\t[01]$/, '\t0'))].join('\n')}\n`,
  );
  const train = lat(
    ['train', '--model', base, '--task', 'sst2', '--train', join(dir, 'train.tsv'), '--out', model].concat([
      '--epochs',
      '3',
      '--lr',
      '3e-3',
      '--max-length',
      '32',
      '--no-length-drop',
    ]),
  );
  if (train.code !== 0) throw new Error(train.err);
}, 120_000);

describe('lat axformer', () => {
  it('prunes on a selection split of --train and writes a smaller model every command loads', async () => {
    const args = [
      'axformer',
      '--model',
      model,
      '--train',
      join(dir, 'train.tsv'),
      '--dev',
      join(dir, 'dev.tsv'),
    ].concat(['--out', pruned, '--epsilon', '0.01', '--hard-attention', '--selection-min', '100', '--json']);
    const run = lat(args);
    expect(run.code, run.err).toBe(0);
    const lines = run.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const steps = lines.filter((l) => l.event === 'candidate');
    const s = lines.at(-1);
    expect(s).toMatchObject({ command: 'axformer', task: 'sst2', metric: 'accuracy', epsilon: 0.01 });
    expect(s.selection).toMatchObject({ examples: 100, seed: 0, onDev: false });
    expect(s.accepted.length).toBeGreaterThan(0);
    expect(steps.filter((e) => e.accepted)).toEqual(
      s.accepted.map((a: object) => ({ event: 'candidate', ...a, schemaVersion: 1 })),
    );
    // Coarse to fine: the first candidates are the FFN blocks, top layer first.
    expect(steps.slice(0, 2).map((e) => `${e.phase}${e.layer}`)).toEqual(['ffn1', 'ffn0']);
    expect(s.parameters.after).toBeLessThan(s.parameters.before);
    expect(s.bytes.after).toBe(statSync(join(pruned, 'model.safetensors')).size);
    expect(s.bytes.after).toBeLessThan(s.bytes.before);
    expect(s.final).toBeGreaterThanOrEqual(s.baseline - 0.01 * s.accepted.length);
    // The random-removal control has the same size; latency is measured for both models.
    expect(s.parameters.control).toBe(s.parameters.after);
    expect(s.dev.control).toBeGreaterThanOrEqual(0);
    expect(s.dev.latency.beforeMs).toBeGreaterThan(0);
    expect(s.dev.latency.speedup).toBeCloseTo(s.dev.latency.beforeMs / s.dev.latency.afterMs, 9);

    const info = lastJson(lat(['info', '--model', pruned, '--json']).out);
    expect(info.parameters).toBe(s.parameters.after);
    expect(info.pruning).toEqual(s.layers);
    expect(lat(['info', '--model', pruned]).out).toMatch(/pruned \(AxFormer\):\n {2}layer 0: /);

    // The pruned directory evaluates to what the masked search session measured on dev.
    const ev = lastJson(lat(['eval', '--model', pruned, '--dev', join(dir, 'dev.tsv'), '--json']).out);
    expect(ev.results[0].metrics.accuracy).toBeCloseTo(s.dev.after, 10);
    expect(ev.fullMacs).toBeLessThan(
      lastJson(lat(['eval', '--model', model, '--dev', join(dir, 'dev.tsv'), '--json']).out).fullMacs,
    );

    // LAT lengths searched after pruning.
    const search = lat([
      'search',
      '--model',
      pruned,
      '--dev',
      join(dir, 'dev.tsv'),
      '--iterations',
      '1',
      '--json',
    ]);
    expect(search.code, search.err).toBe(0);
    expect(lastJson(search.out).frontier.points.length).toBeGreaterThan(0);

    const text = 'a superb and witty film .\nit is dull and bland .\n';
    const pred = lat(['predict', '--model', pruned, '--json'], text);
    expect(pred.code, pred.err).toBe(0);
    const exp = lat(['export', '--model', pruned, '--out', join(dir, 'bundle')]);
    expect(exp.code, exp.err).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'bundle/lat.json'), 'utf8'));
    expect(manifest.model.layers).toEqual(
      parseModelConfig(JSON.parse(readFileSync(join(pruned, 'config.json'), 'utf8'))).layers,
    );
    const fromBundle = lat(['predict', '--model', join(dir, 'bundle'), '--json'], text);
    expect(fromBundle.code, fromBundle.err).toBe(0);
    JSON.parse(fromBundle.out).predictions.forEach((x: { probabilities: number[] }, i: number) =>
      x.probabilities.forEach((q, j) =>
        expect(q).toBeCloseTo(JSON.parse(pred.out).predictions[i].probabilities[j], 5),
      ),
    );

    // Resumed from its log, the run replays every decision without evaluating again.
    const again = lat([...args, '--resume']);
    expect(again.code, again.err).toBe(0);
    const r = lastJson(again.out);
    expect(r.evaluations).toBe(0);
    expect(r.accepted.map((a: { cached: boolean }) => ({ ...a, cached: true }))).toEqual(r.accepted);
    expect(r.layers).toEqual(s.layers);
  }, 120_000);

  it('decides on dev only as a flagged ablation', () => {
    const out = join(dir, 'on-dev');
    const run = lat([
      'axformer',
      '--model',
      model,
      '--dev',
      join(dir, 'dev.tsv'),
      '--select-on-dev',
      '--out',
      out,
      '--json',
    ]);
    expect(run.code, run.err).toBe(0);
    const s = lastJson(run.out);
    expect(s.selection).toMatchObject({ examples: 120, onDev: true });
    expect(s.dev).toBeNull(); // dev was decided on: no separate dev report
  }, 60_000);

  it('fails with one line on bad input', () => {
    const bad = (extra: string[], pattern: RegExp, code = 2) => {
      const r = lat(['axformer', '--model', model, '--out', join(dir, 'bad'), ...extra]);
      expect(r.code).toBe(code);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(pattern);
      expect(existsSync(join(dir, 'bad'))).toBe(false);
    };
    // A config that says head 1 of layer 0 is pruned, next to weights that still have it.
    const disagree = join(dir, 'disagree');
    mkdirSync(disagree);
    for (const f of ['model.safetensors', 'vocab.txt'])
      writeFileSync(join(disagree, f), readFileSync(join(model, f)));
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
    writeFileSync(join(disagree, 'config.json'), JSON.stringify({ ...config, pruned_heads: { 0: [1] } }));
    bad(
      ['--model', disagree, '--train', join(dir, 'train.tsv')],
      /disagree.*query\.weight is \[32,32\] but the config needs \[24,32\].*\(\+3 more\)\. config\.json's pruned_heads/,
      1,
    );
    bad(
      ['--train', join(dir, 'train.tsv'), '--epsilon', '-0.1'],
      /--epsilon must be a number ≥ 0, got '-0.1'/,
    );
    bad(
      ['--train', join(dir, 'one-class.tsv'), '--selection-min', '100'],
      /one-class\.tsv: the selection set has a single class/,
    );
    bad([], /--train: pass the training file/);
    bad(['--train', join(dir, 'train.tsv'), '--out', pruned], /already holds a model; choose another --out/);
  }, 60_000);

  it.skipIf(!existsSync(chromiumPath))(
    'a pruned checkpoint (heads, blocks, hard attention) runs in headless Chromium as in Node',
    async () => {
      const config = syntheticModelConfig({ layers: 3, hidden: 32, heads: 4 });
      const masks = {
        ffn: [true, false, true],
        attention: [true, true, false],
        heads: [
          [true, false, true, true],
          [false, true, false, true],
          [true, true, true, true],
        ],
        hardAttentionK: [2, 0, 0],
      };
      const p = pruneModel(config, createRandomWeights(config, 4, {}, 0.2), masks);
      const out = join(dir, 'pruned-browser');
      mkdirSync(out);
      writeFileSync(join(out, 'config.json'), JSON.stringify(toHfConfig(p.config)));
      writeSafetensors(join(out, 'model.safetensors'), toHfNames(p.weights, p.config));
      const m = loadModelDir(out);
      const x = benchInput(m.config, 12, 2);
      const node = await createAnytimeModel(createNodeRuntime({ threads: 1 }), m.config, m.weights);
      const expected = (await node.run(x)).logits!;
      await node.release();
      const device = await openChromiumRuntime();
      try {
        const web = await createAnytimeModel(device.runtime, m.config, m.weights);
        const got = (await web.run(x)).logits!;
        expect(got.length).toBe(expected.length);
        got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
        await web.release();
      } finally {
        await device.close();
      }
    },
    60_000,
  );
});
