/**
 * Latency measured in real headless Chromium (Debian's, via playwright-core) on onnxruntime-web's
 * wasm kernels: the page computes what onnxruntime-node computes, `lat search --objective latency
 * --device chromium` saves a per-layer table for that device in latency.json, and a second search
 * reuses it. Skips when /usr/bin/chromium is absent (tooling/scripts/ensure-chromium.sh installs it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLatError } from '@lat/core';
import { writeSafetensors } from '@lat/core/node';
import { createAnytimeModel, createRandomWeights, toHfConfig, toHfNames } from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import { generateSentimentTask, syntheticModelConfig } from '@lat/train';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, openChromiumRuntime } from '../src/chromium.js';
import { benchInput } from '../src/commands/bench.js';
import { tinySearch } from './fixture.js';

const hasChromium = existsSync(chromiumPath);
if (!hasChromium)
  console.warn(
    `skipping the Chromium latency tests: ${chromiumPath} is absent (run tooling/scripts/ensure-chromium.sh)`,
  );

const root = join(import.meta.dirname, '..');
const bin = join(root, 'dist/bin.js');
const dir = mkdtempSync(join(tmpdir(), 'lat-chromium-'));
const model = join(dir, 'model');
const config = syntheticModelConfig({ layers: 2, hidden: 32, heads: 2 });
const weights = createRandomWeights(config, 3);

function lat(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args, '--json'], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

beforeAll(() => {
  if (!existsSync(bin))
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  const task = generateSentimentTask({ seed: 2, train: 8, dev: 24 });
  writeFileSync(
    join(dir, 'dev.tsv'),
    `sentence\tlabel\n${task.dev.map((e) => `${e.textA}\t${e.label}`).join('\n')}\n`,
  );
  mkdirSync(model);
  writeFileSync(join(model, 'config.json'), JSON.stringify(toHfConfig(config)));
  writeFileSync(join(model, 'vocab.txt'), `${task.vocab.join('\n')}\n`);
  writeSafetensors(join(model, 'model.safetensors'), toHfNames(weights, config));
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('latency in headless Chromium', () => {
  it('names the fix when Chromium is missing', async () => {
    const e = await openChromiumRuntime({ executablePath: join(dir, 'no-chromium') }).catch(
      (x: unknown) => x,
    );
    expect(isLatError(e, 'NOT_FOUND')).toBe(true);
    expect(String(e)).toMatch(/apt-get install -y chromium/);
  });

  it.skipIf(!hasChromium)(
    'runs a graph in the page with the logits onnxruntime-node gives',
    async () => {
      const x = benchInput(config, 12, 2);
      const spec = { form: 'absolute', lengths: [8, 4] } as const;
      const node = await createAnytimeModel(createNodeRuntime({ threads: 1 }), config, weights);
      const expected = (await node.run(x, spec)).logits!;
      await node.release();
      const device = await openChromiumRuntime();
      try {
        const m = await createAnytimeModel(device.runtime, config, weights);
        const before = device.clock();
        const got = await m.run(x, spec);
        expect(device.clock()).toBeGreaterThan(before); // the page's own time for the run
        expect(got.keepCounts).toEqual([
          [8, 4],
          [8, 4],
        ]);
        expect(got.logits!.length).toBe(expected.length);
        got.logits!.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
        await m.release();
      } finally {
        await device.close();
      }
    },
    60_000,
  );

  it.skipIf(!hasChromium)(
    "runs wasm threads in the cross-origin isolated page: 2 threads give 1 thread's fp32 and q8 logits",
    async () => {
      const c = syntheticModelConfig({ layers: 2, hidden: 64, heads: 2 });
      const w = createRandomWeights(c, 5);
      const x = benchInput(c, 48, 2);
      const inPage = async (threads: number) => {
        const device = await openChromiumRuntime({ threads });
        try {
          expect(device.page.crossOriginIsolated).toBe(true);
          // Opening a session checks that ORT kept `threads` (it falls back to 1 when it cannot).
          const logits: number[] = [];
          for (const dtype of ['fp32', 'q8'] as const) {
            const m = await createAnytimeModel(device.runtime, c, w, { dtype, keptPositions: false });
            logits.push(...(await m.run(x)).logits!);
            await m.release();
          }
          return { logits, served: [...device.served], blocked: [...device.blocked] };
        } finally {
          await device.close();
        }
      };
      const one = await inPage(1);
      const two = await inPage(2);
      expect(two.logits.length).toBe(one.logits.length);
      two.logits.forEach((v, i) => expect(Math.abs(v - one.logits[i]!)).toBeLessThanOrEqual(1e-5));
      // Everything came from the local server: the threaded wasm binary and the script that each
      // worker thread loads again (once by the page alone at one thread).
      expect(two.blocked).toEqual([]);
      expect(two.served).toContain('/ort/ort-wasm-simd-threaded.wasm');
      const workerScript = (served: string[]) =>
        served.filter((p) => p === '/ort/ort-wasm-simd-threaded.mjs').length;
      expect(workerScript(one.served)).toBe(1);
      expect(workerScript(two.served)).toBeGreaterThan(1);
    },
    60_000,
  );

  it.skipIf(!hasChromium)(
    'refuses to time one thread as two: a page that is not cross-origin isolated gets a named error',
    async () => {
      const device = await openChromiumRuntime({ threads: 2, isolate: false });
      try {
        expect(device.page.crossOriginIsolated).toBe(false);
        const e = await createAnytimeModel(device.runtime, config, weights).catch((x: unknown) => x);
        expect(isLatError(e, 'UNSUPPORTED')).toBe(true);
        expect(String(e)).toMatch(/runs 1 wasm thread\(s\), not 2 \(crossOriginIsolated: false\)/);
      } finally {
        await device.close();
      }
    },
    60_000,
  );

  it.skipIf(!hasChromium)(
    'lat search --device chromium measures a per-layer table, saves it and reuses it',
    () => {
      const args = [
        'search',
        '--model',
        model,
        '--dev',
        join(dir, 'dev.tsv'),
        '--objective',
        'latency',
        '--task',
        'sst2',
      ];
      const a = lat([...args, ...tinySearch, '--device', 'chromium']);
      const table = a.frontier.latencyTable;
      expect(table.device).toBe('onnxruntime-web wasm in Chromium, 1 thread');
      expect(table.perLayerMs).toHaveLength(config.numLayers);
      for (const row of table.perLayerMs as number[][]) {
        expect(row).toHaveLength(table.lengths.length);
        row.forEach((ms: number, j: number) => expect(ms).toBeGreaterThanOrEqual(j ? row[j - 1]! : 0)); // never cheaper on more tokens
        expect(row.at(-1)).toBeGreaterThan(0); // a layer over the whole input costs something
      }
      expect(table.fixedMs).toBeGreaterThan(0);
      expect(a.frontier.costUnit).toBe('ms');
      for (const p of a.frontier.points) expect(p.latencyMs).toBeGreaterThanOrEqual(table.fixedMs);

      const saved = join(model, 'latency.json');
      const file = JSON.parse(readFileSync(saved, 'utf8'));
      expect(file.tables).toEqual([table]);
      const written = statSync(saved).mtimeMs;
      const b = lat([...args, ...tinySearch, '--device', 'chromium']);
      expect(b.frontier.latencyTable).toEqual(table);
      expect(statSync(saved).mtimeMs).toBe(written);
    },
    60_000,
  );

  it.skipIf(!hasChromium)(
    'lat bench --device chromium --threads 2 times the q8 graph in the page on two wasm threads',
    () => {
      const r = lat([
        'bench',
        '--model',
        model,
        '--device',
        'chromium',
        '--dtype',
        'q8',
        '--seq',
        '16',
        '--runs',
        '2',
        '--ratios',
        '0.5,0.5',
        '--threads',
        '2',
      ]);
      expect(r.device).toBe('onnxruntime-web wasm in Chromium, 2 threads');
      expect(r.dtype).toBe('q8');
      expect(r.rows.map((row: { lengths: unknown }) => row.lengths)).toEqual(['full', [0.5, 0.5]]);
      for (const row of r.rows) expect(row.ms).toBeGreaterThan(0);
      // Latencies saved into the frontier file are onnxruntime-node's: refused on another device.
      const refused = spawnSync(
        process.execPath,
        [bin, 'bench', '--model', model, '--device', 'wasm', '--save'],
        {
          encoding: 'utf8',
        },
      );
      expect(refused.status).toBe(2);
      expect(refused.stderr).toMatch(/--save stores onnxruntime-node latencies/);
    },
    60_000,
  );
});
