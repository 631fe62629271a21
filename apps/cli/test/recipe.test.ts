/**
 * The reference's recipe from the CLI, and what a run records: plain fine-tuning without LayerDrop,
 * then LengthDrop from that model (--init-from) keeping the best dev epoch with reverse KL and
 * per-batch lengths; lat_training.json, --json and the frontier say which options a run used.
 * A latency search measures a per-layer table once, saves it with the model (and its bundle) and
 * reuses it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliBin, cliRoot, ensureBuilt, latJson, tinySearch, writeSentimentFixture } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-recipe-'));
const base = join(dir, 'base');

const info = (d: string) => JSON.parse(readFileSync(join(d, 'lat_training.json'), 'utf8'));

beforeAll(() => {
  ensureBuilt(cliRoot);
  writeSentimentFixture(dir, base, { seed: 4, train: 192, dev: 64, hidden: 32, heads: 2 });
}, 120_000);

describe('the two-stage reference recipe from the CLI', () => {
  it('records plain → LengthDrop (--init-from, --keep best, --kd reverse, per-batch lengths)', () => {
    const common = ['--task', 'sst2', '--train', join(dir, 'train.tsv'), '--dev', join(dir, 'dev.tsv')];
    const plain = join(dir, 'plain');
    const p = latJson([
      'train',
      '--model',
      base,
      ...common,
      '--out',
      plain,
      '--epochs',
      '1',
      '--lr',
      '2e-3',
      '--no-length-drop',
    ]);
    expect(p.recipe).toMatchObject({ method: 'plain', layerDrop: 0, keep: 'last', kd: 'forward' });
    expect(info(plain).recipe).toEqual(p.recipe);

    const ld = join(dir, 'lengthdrop');
    const args = ['--out', ld, '--epochs', '2', '--lr', '1e-3', '--keep', 'best', '--kd', 'reverse'];
    const l = latJson([
      'train',
      '--model',
      base,
      ...common,
      ...args,
      '--length-sampling',
      'per-batch',
      '--init-from',
      plain,
    ]);
    expect(l.recipe).toMatchObject({
      method: 'lengthdrop',
      layerDrop: 0.2,
      kd: 'reverse',
      lengthSampling: 'per-batch',
      keep: 'best',
      initFrom: { dir: plain, recipe: { method: 'plain', layerDrop: 0 } },
    });
    expect([0, 1]).toContain(l.recipe.best.epoch);
    expect(l.metrics.accuracy).toBe(l.recipe.best.score);
    expect(existsSync(join(ld, 'checkpoint-best/model.safetensors'))).toBe(true);
    // The kept weights are the best epoch's.
    expect(readFileSync(join(ld, 'model.safetensors'))).toEqual(
      readFileSync(join(ld, 'checkpoint-best/model.safetensors')),
    );
    expect(info(ld).recipe).toEqual(l.recipe);

    const bad = spawnSync(process.execPath, [
      cliBin,
      'train',
      '--model',
      base,
      ...common,
      '--out',
      join(dir, 'x'),
      '--kd',
      'sideways',
    ]);
    expect(bad.status).toBe(2);
  }, 120_000);

  it('searches on measured latency with a per-layer table saved with the model and reused', () => {
    const model = join(dir, 'plain');
    const searchArgs = [
      'search',
      '--model',
      model,
      '--dev',
      join(dir, 'dev.tsv'),
      '--objective',
      'latency',
      ...tinySearch,
    ];
    const search = () => latJson(searchArgs);
    const a = search();
    const table = a.frontier.latencyTable;
    expect(table.perLayerMs).toHaveLength(2);
    expect(table.fixedMs).toBeGreaterThan(0);
    expect(a.frontier.training.method).toBe('plain');
    expect(a.frontier.objective).toBe('latency');
    const saved = join(model, 'latency.json');
    const written = statSync(saved).mtimeMs;
    const b = search();
    expect(b.frontier.latencyTable).toEqual(table);
    expect(statSync(saved).mtimeMs).toBe(written);
    // A point's latency is the fixed cost plus its layers' interpolated costs.
    for (const p of b.frontier.points) expect(p.latencyMs).toBeGreaterThanOrEqual(table.fixedMs);
    // Bundles carry it: lat export copies the frontier, table included, into lat.json.
    latJson(['export', '--model', model, '--out', join(dir, 'latency-bundle')]);
    const manifest = JSON.parse(readFileSync(join(dir, 'latency-bundle/lat.json'), 'utf8'));
    expect(manifest.frontier.latencyTable).toEqual(table);
    // Another device gets its own table, kept beside the first.
    const wasm = latJson([...searchArgs, '--device', 'wasm']);
    expect(wasm.frontier.latencyTable.device).toBe('onnxruntime-web wasm, 1 thread');
    const tables = JSON.parse(readFileSync(saved, 'utf8')).tables;
    expect(tables.map((t: { device: string }) => t.device)).toEqual([
      table.device,
      'onnxruntime-web wasm, 1 thread',
    ]);
  }, 120_000);
});
