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
const data = ['--task', 'sst2', '--train', join(dir, 'train.tsv'), '--dev', join(dir, 'dev.tsv')];
const plain = join(dir, 'plain');

beforeAll(() => {
  ensureBuilt(cliRoot);
  writeSentimentFixture(dir, base, { seed: 11, train: 600, dev: 100, hidden: 32, heads: 2 });
  // Training data of another file, for saliency targets that do not belong to it.
  writeFileSync(
    join(dir, 'other.tsv'),
    readFileSync(join(dir, 'train.tsv'), 'utf8').split('\n').slice(0, 51).join('\n') + '\n',
  );
  // The first stage: plain fine-tuning, whose saliency targets every AdapLeR run below uses.
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
}, 120_000);

describe('lat train --method adapler, then eval / predict / bench', () => {
  it('trains from a fine-tuned model and reports per-input lengths and the MACs speed-up', () => {
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

describe('lat train --method adapler --phi a,b: the φ sweep and its frontier', () => {
  it('trains one model per φ, writes a validated frontier, and budgets pick among them', () => {
    // Half the training rows: two φ runs stay quick.
    const rows = readFileSync(join(dir, 'train.tsv'), 'utf8').split('\n');
    writeFileSync(join(dir, 'train300.tsv'), `${rows.slice(0, 301).join('\n')}\n`);
    const half = ['--task', 'sst2', '--train', join(dir, 'train300.tsv'), '--dev', join(dir, 'dev.tsv')];
    const sweep = join(dir, 'sweep');
    const args = [
      'train',
      '--model',
      base,
      ...half,
      '--init-from',
      plain,
      '--out',
      sweep,
      '--method',
      'adapler',
      '--phi',
      '0,0.05',
      '--gamma',
      '0.5',
      '--eta-lr',
      '0.05',
      '--epochs',
      '3',
      '--lr',
      '2e-3',
    ];
    const r = latJson(args);
    const f = r.frontier;
    expect(f).toMatchObject({ schemaVersion: 1, kind: 'lat-frontier', method: 'adapler', costUnit: 'MACs' });
    expect(JSON.parse(readFileSync(join(sweep, 'frontier.json'), 'utf8'))).toEqual(f);
    // Without a length penalty η only follows the task loss; φ 0.05 removes tokens: it is cheaper.
    expect(f.points.map((p: { phi: number }) => p.phi)).toEqual([0.05, 0]);
    const [cheap, dear] = f.points;
    expect(cheap.macsSpeedup).toBeGreaterThan(dear.macsSpeedup);
    expect(cheap.costRatio).toBeCloseTo(1 / cheap.macsSpeedup, 10);
    expect(cheap.maxKept[0]).toBeGreaterThan(cheap.minKept[0]); // per-input counts differ
    for (const p of f.points) expect(p.model).toBe(`phi-${p.phi}`);

    // --budget picks the φ model: the best within a cost fraction, the cheapest above a floor.
    const within = (cheap.costRatio + dear.costRatio) / 2;
    const picked = latJson([
      'eval',
      '--model',
      sweep,
      '--dev',
      join(dir, 'dev.tsv'),
      '--budget',
      `${within}`,
    ]);
    expect(picked.model).toBe(join(sweep, 'phi-0.05'));
    // The point is what `lat eval` of its model reports.
    expect(picked.metrics.accuracy).toBeCloseTo(cheap.metric, 10);
    expect(picked.lengths.macsSpeedup).toBeCloseTo(cheap.macsSpeedup, 10);
    const floor = latJson(['predict', '--model', sweep, '--budget', 'acc>=0', 'good great film']);
    expect(floor.model).toBe(join(sweep, 'phi-0.05'));
    // φ 0 removes nothing and pays for its predictors (cost ratio > 1): only a floor reaches it.
    const best = latJson(['predict', '--model', sweep, '--budget', `acc>=${dear.metric}`, 'good']);
    expect(best.model).toBe(join(sweep, `phi-${cheap.metric >= dear.metric ? 0.05 : 0}`));

    // --resume reuses finished φ runs.
    const again = latJson([...args, '--resume']);
    expect(again.frontier.points).toEqual(f.points);

    // Usage errors and a damaged file: one line, naming the flag or file#field.
    const oneLine = (res: ReturnType<typeof run>, code: number, message: RegExp) => {
      expect(res.status).toBe(code);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(message);
    };
    oneLine(
      run(['eval', '--model', sweep, '--dev', join(dir, 'dev.tsv')]),
      2,
      /--budget: .*frontier\.json is an AdapLeR φ sweep of 2 models: pick one with --budget/,
    );
    const noMethod = args.filter((a) => a !== '--method' && a !== 'adapler');
    oneLine(run(noMethod), 2, /--phi: --phi lists 2 length penalties, a φ sweep: add --method adapler/);
    const noDev = args.filter((a, i) => a !== '--dev' && args[i - 1] !== '--dev');
    oneLine(run(noDev), 2, /--dev: a φ sweep places each model on the frontier by its dev score/);
    const damaged = { ...f, points: [{ ...cheap, model: '../plain' }, dear] };
    writeFileSync(join(sweep, 'frontier.json'), JSON.stringify(damaged));
    oneLine(
      run(['predict', '--model', sweep, '--budget', '0.9', 'good']),
      1,
      /sweep\/frontier\.json#points\[0\]\.model: must be a model directory inside the sweep directory/,
    );
  }, 240_000);
});
