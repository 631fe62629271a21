/**
 * pipeline(…, { dtype: 'q8' }): the q8 graph built from a model directory, the same graph
 * exported as a bundle (round trip through lat.json + model.onnx), its own frontier, and the
 * errors for a dtype a source cannot give.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLatError } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipeline, readBundle } from '../src/index.js';
import { weightsFingerprint } from '../src/node.js';
import { writeTinyBundle, writeTinyModel } from '../src/testing/index.js';
import { tinyFrontier } from './frontier.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-pipeline-q8-'));
const modelDir = join(dir, 'model');
const q8Bundle = join(dir, 'bundle-q8');
const fp32Bundle = join(dir, 'bundle-fp32');
const runtime = createNodeRuntime({ threads: 1 });
const texts = ['a gripping film shot in oslo over two winters', 'the film was dull .', 'dull'];

const frontierFor = (fingerprint: string, lengths: number[]) =>
  tinyFrontier(fingerprint, [{ lengths, cost: 0.5, costRatio: 0.5, metric: 0.8 }]);

let fingerprint: string;
beforeAll(async () => {
  writeTinyModel(modelDir);
  fingerprint = await weightsFingerprint(join(modelDir, 'model.safetensors'));
  // Each dtype's frontier in the model directory, with other lengths so it shows which was read.
  writeFileSync(join(modelDir, 'frontier.json'), JSON.stringify(frontierFor(fingerprint, [0.9, 0.7])));
  writeFileSync(
    join(modelDir, 'frontier-q8.json'),
    JSON.stringify(frontierFor(`${fingerprint}+q8`, [0.6, 0.4])),
  );
  // Same weights as writeTinyModel's.
  writeTinyBundle(q8Bundle, 'classification', frontierFor('tiny+q8', [0.6, 0.4]), 'q8');
  writeTinyBundle(fp32Bundle, 'classification');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

describe("pipeline dtype 'q8'", () => {
  it('runs the q8 graph of a model directory (not fp32’s numbers), with the q8 frontier', async () => {
    const fp32 = await pipeline('text-classification', modelDir, { runtime });
    const q8 = await pipeline('text-classification', modelDir, { runtime, dtype: 'q8' });
    expect([fp32.dtype, q8.dtype]).toEqual(['fp32', 'q8']);
    const a = await fp32(texts);
    const b = await q8(texts);
    a.forEach((r, i) => {
      // How close q8 is to fp32 is checked on the graphs (layers' quantize.test.ts); here, that it is q8.
      expect(maxDiff(r.logits, b[i]!.logits)).toBeGreaterThan(0);
      expect(b[i]!.lengths).toEqual(r.lengths);
    });
    expect(fp32.frontier?.points[0]?.lengths).toEqual([0.9, 0.7]);
    expect(q8.frontier?.points[0]?.lengths).toEqual([0.6, 0.4]);
    await Promise.all([fp32.dispose(), q8.dispose()]);
  });

  it('round-trips through an exported q8 bundle (directory and bytes) with the same results', async () => {
    const manifest = JSON.parse(readFileSync(join(q8Bundle, 'lat.json'), 'utf8'));
    expect(manifest.model).toMatchObject({ dtype: 'q8', fingerprint: 'tiny+q8' });
    const fp32Bytes = readFileSync(join(fp32Bundle, 'model.onnx')).length;
    expect(readFileSync(join(q8Bundle, 'model.onnx')).length).toBeLessThan(fp32Bytes);
    const fromDir = await pipeline('text-classification', modelDir, { runtime, dtype: 'q8' });
    const fromBundle = await pipeline('text-classification', q8Bundle, { runtime });
    const fromBytes = await pipeline(
      'text-classification',
      await readBundle({
        manifest: readFileSync(join(q8Bundle, 'lat.json')),
        model: readFileSync(join(q8Bundle, 'model.onnx')),
      }),
      { runtime, dtype: 'q8' },
    );
    const want = await fromDir(texts, { ratios: [0.6, 0.4] });
    for (const p of [fromBundle, fromBytes]) {
      expect(p.dtype).toBe('q8');
      const got = await p(texts, { budget: 0.5 }); // the bundle's q8 frontier point [0.6, 0.4]
      got.forEach((g, i) => {
        expect(g.lengths).toEqual(want[i]!.lengths);
        expect(maxDiff(g.logits, want[i]!.logits)).toBeLessThan(1e-5);
      });
    }
    await Promise.all([fromDir.dispose(), fromBundle.dispose(), fromBytes.dispose()]);
  });

  it('refuses a dtype the source cannot give, and unknown dtypes, naming the fix', async () => {
    const fails = async (p: Promise<unknown>, text: RegExp) => {
      const e = await p.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isLatError(e) && e.code).toBe('BAD_INPUT');
      expect((e as Error).message).toMatch(text);
    };
    await fails(
      pipeline('text-classification', fp32Bundle, { runtime, dtype: 'q8' }),
      /exported fp32 graph and cannot run as q8; export a q8 bundle with `lat export --quantize int8`/,
    );
    await fails(
      pipeline('text-classification', q8Bundle, { runtime, dtype: 'fp32' }),
      /exported q8 graph and cannot run as fp32/,
    );
    await fails(
      // @ts-expect-error not a dtype
      pipeline('text-classification', modelDir, { runtime, dtype: 'int8' }),
      /unknown dtype "int8"/,
    );
    // An fp32 frontier does not describe the q8 graph.
    const fp32Frontier = JSON.parse(readFileSync(join(modelDir, 'frontier.json'), 'utf8'));
    await expect(
      pipeline('text-classification', modelDir, { runtime, dtype: 'q8', frontier: fp32Frontier }),
    ).rejects.toThrow(/made for other weights/);
  });
});

// The bar: ≤ 1 point of dev accuracy lost at full length on the SST-2 fixture models.
const fixtures = join(import.meta.dirname, '../../../../shared/fixtures');
for (const name of ['bert-tiny-sst2', 'bert-6x256-sst2']) {
  const model = join(fixtures, 'models', name);
  describe.skipIf(!existsSync(model))(
    `q8 on a real SST-2 checkpoint (../shared/fixtures/models/${name})`,
    () => {
      it('keeps full-length dev accuracy within 1 point of fp32 (all 872 sentences)', async () => {
        const dev = readFileSync(join(fixtures, 'glue/SST-2/dev.tsv'), 'utf8')
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.split('\t'));
        const accuracy = async (dtype: 'fp32' | 'q8') => {
          const clf = await pipeline('text-classification', model, { runtime, dtype });
          const results = await clf(dev.map(([text]) => text!.trim()));
          await clf.dispose();
          return (
            results.filter((r, i) => r.label === clf.config.labels[Number(dev[i]![1])]).length / dev.length
          );
        };
        const fp32 = await accuracy('fp32');
        const q8 = await accuracy('q8');
        console.log(`${name}: dev accuracy fp32 ${fp32.toFixed(4)}, q8 ${q8.toFixed(4)}`);
        expect(Math.abs(q8 - fp32)).toBeLessThanOrEqual(0.01);
      }, 120_000);
    },
  );
  if (!existsSync(model)) console.log(`skipping the q8 accuracy test: ${model} is absent`);
}
