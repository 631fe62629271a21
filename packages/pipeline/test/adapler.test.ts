/**
 * AdapLeR models through pipeline(): a model directory (HF files + adapler.safetensors) and its
 * exported bundle give the AdapLeR graph's logits and per-input kept tokens (checked against the
 * graph run directly, one input at a time), on onnxruntime-node and on onnxruntime-web's wasm;
 * their realised MACs count the predictors; length options are refused; a bundle or directory
 * with a missing predictor weight or η outside [0.01, 1] is an error naming the file.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BundleManifest, encoderMacs } from '@lat/core';
import { readSafetensors, writeSafetensors } from '@lat/core/node';
import {
  type AdaplerSetting,
  adapler,
  adaplerMacs,
  adaplerReducer,
  createAnytimeModel,
  padBatch,
} from '@lat/layers';
import { tinyAdaplerModel, writeBundle, writeModelDir } from '@lat/layers/testing';
import { createNodeRuntime } from '@lat/runtime-node';
import { createWebRuntime } from '@lat/runtime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { pipeline } from '../src/index.js';
import { tinyVocab } from '../src/testing/index.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-pipeline-adapler-'));
const modelDir = join(dir, 'model');
const bundleDir = join(dir, 'bundle');
const m = tinyAdaplerModel({ vocab: tinyVocab, layers: 3, seed: 5, eta: 0.9, scale: 10 });
const texts = [
  'a gripping film',
  'the film was shot in oslo over two winters .',
  'its cafe scenes were filmed in zurich',
  'dull',
  'where was the film shot ?',
];
const runtime = createNodeRuntime({ threads: 1 });

beforeAll(() => {
  writeModelDir(modelDir, m);
  writeBundle(bundleDir, m, { task: 'classification', name: 'tiny-adapler' });
});

const close = (a: number[], b: number[], tol = 1e-5) =>
  a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThan(tol));

describe('AdapLeR through pipeline()', () => {
  it('exports an AdapLeR bundle: the η and predictors section, no keep-count input', () => {
    const manifest = JSON.parse(readFileSync(join(bundleDir, 'lat.json'), 'utf8')) as BundleManifest;
    expect(manifest.model.adapler).toEqual({
      eta: [0.9, 0.9, 0.9].map(Math.fround),
      etaInitializer: adapler.eta,
      predictorWidth: 32,
      predictors: [0, 1, 2].map((i) => [
        `adapler.cp.${i}.hidden.weight`,
        `adapler.cp.${i}.hidden.bias`,
        `adapler.cp.${i}.out.weight`,
        `adapler.cp.${i}.out.bias`,
      ]),
    });
    expect(Object.keys(manifest.io.inputs)).not.toContain('keep_counts');
  });

  it('directory = bundle = the AdapLeR graph run one input at a time, on node and on wasm', async () => {
    const ref = await createAnytimeModel<AdaplerSetting>(runtime, m.config, m.weights, {
      reducer: adaplerReducer,
    });
    const want: { n: number; logits: number[]; kept: number[][] }[] = [];
    for (const text of texts) {
      const enc = m.tokenizer.encode(text, undefined, { maxLength: 64 });
      const r = await ref.run(padBatch([enc]));
      want.push({
        n: enc.ids.length,
        logits: Array.from(r.logits!),
        kept: r.keptPositions.map((l) => l[0]!),
      });
    }
    await ref.release();
    // Inputs keep different counts: the test would not see a wrong per-input count otherwise.
    expect(new Set(want.map((w) => w.kept.map((k) => k.length).join())).size).toBeGreaterThan(2);
    expect(want.some((w) => w.kept.at(-1)!.length < w.n)).toBe(true);

    const sources = [
      { source: modelDir, runtime },
      // In memory: weights with predictors and η are an AdapLeR model.
      { source: { name: 'tiny', config: m.config, tokenizer: m.tokenizer, weights: m.weights }, runtime },
      { source: bundleDir, runtime },
      { source: bundleDir, runtime: createWebRuntime({ threads: 1 }) },
    ];
    for (const s of sources) {
      const clf = await pipeline('text-classification', s.source, { runtime: s.runtime });
      try {
        expect(clf.adapler?.eta).toEqual([0.9, 0.9, 0.9].map(Math.fround));
        const got = await clf(texts); // one padded batch: per-input counts within it
        got.forEach((r, i) => {
          const w = want[i]!;
          close(r.logits, w.logits);
          expect(r.keptPositions).toEqual(w.kept);
          expect(r.lengths).toEqual(w.kept.map((k) => k.length));
          expect(r.macs).toBeCloseTo(adaplerMacs(m.config, w.n, r.lengths), 6);
          expect(r.fullMacs).toBe(encoderMacs(m.config, w.n));
        });
      } finally {
        await clf.dispose();
      }
    }
  }, 60_000);

  it('refuses lengths and budgets (AdapLeR picks them per input) and question answering', async () => {
    const clf = await pipeline('text-classification', bundleDir, { runtime });
    try {
      await expect(clf('a gripping film', { budget: 0.5 })).rejects.toThrow(
        /budget: this AdapLeR model picks each input's lengths itself.*φ-sweep frontier/,
      );
      await expect(clf('a gripping film', { ratios: [1, 1, 1] })).rejects.toThrow(/takes no ratios/);
    } finally {
      await clf.dispose();
    }
    await expect(pipeline('question-answering', modelDir, { runtime })).rejects.toThrow(
      /AdapLeR model.*pipeline\('text-classification'/,
    );
  });
});

describe('bad AdapLeR files', () => {
  const copy = (from: string, name: string) => {
    const to = join(dir, name);
    cpSync(from, to, { recursive: true });
    return to;
  };
  const editManifest = (bundle: string, edit: (m: BundleManifest) => void) => {
    const path = join(bundle, 'lat.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    edit(manifest);
    writeFileSync(path, JSON.stringify(manifest));
  };
  const open = (source: string) => pipeline('text-classification', source, { runtime });

  it('a bundle: η outside [0.01, 1], a missing predictor, a weight the graph lacks, another η than the graph’s', async () => {
    const highEta = copy(bundleDir, 'high-eta');
    editManifest(highEta, (x) => {
      x.model.adapler!.eta[1] = 1.5;
    });
    await expect(open(highEta)).rejects.toThrow(
      /lat.json#model.adapler.eta\[1\]: 1.5 lies outside \[0.01, 1\].*re-export the bundle with `lat export`/,
    );
    // η clipped to 0.01 by training reads back from float32 as 0.00999999977: still in range.
    const clipped = copy(bundleDir, 'clipped-eta');
    editManifest(clipped, (x) => {
      x.model.adapler!.eta[0] = Math.fround(0.01);
    });
    await expect(open(clipped)).rejects.toThrow(/model.onnx: the graph's AdapLeR thresholds/); // past the range check
    const lowEta = copy(bundleDir, 'low-eta');
    editManifest(lowEta, (x) => {
      x.model.adapler!.eta[0] = 0;
    });
    await expect(open(lowEta)).rejects.toThrow(/lat.json#model.adapler.eta\[0\]: 0 lies outside/);

    const noPredictor = copy(bundleDir, 'no-predictor');
    editManifest(noPredictor, (x) => {
      x.model.adapler!.predictors.pop();
    });
    await expect(open(noPredictor)).rejects.toThrow(
      /lat.json#model.adapler.predictors\[2\]: layer 3's Contribution Predictor weights are missing/,
    );

    // lat.json names a predictor weight the graph does not have.
    const noWeight = copy(bundleDir, 'no-weight');
    editManifest(noWeight, (x) => {
      x.model.adapler!.predictors[1]![3] = 'adapler.cp.1.out.scale';
    });
    await expect(open(noWeight)).rejects.toThrow(
      /model.onnx: layer 2's AdapLeR predictor weight 'adapler.cp.1.out.scale' is missing from the graph/,
    );

    // lat.json without its AdapLeR section: the graph would be fed keep counts it does not take.
    const noSection = copy(bundleDir, 'no-section');
    editManifest(noSection, (x) => {
      delete x.model.adapler;
    });
    await expect(open(noSection)).rejects.toThrow(
      /model.onnx: the graph takes no keep_counts, so it picks its own lengths, but lat.json has no model.adapler/,
    );

    // lat.json's η in range but not the graph's.
    const otherEta = copy(bundleDir, 'other-eta');
    editManifest(otherEta, (x) => {
      x.model.adapler!.eta[2] = 0.5;
    });
    await expect(open(otherEta)).rejects.toThrow(
      /model.onnx: the graph's AdapLeR thresholds η = \[0.9000,0.9000,0.9000\] differ from lat.json's/,
    );
  });

  it('a directory: η outside [0.01, 1] or a missing predictor weight in adapler.safetensors', async () => {
    const rewrite = (
      name: string,
      edit: (w: Map<string, { dims: number[]; data: Float32Array }>) => void,
    ) => {
      const to = copy(modelDir, name);
      const w = readSafetensors(join(to, 'adapler.safetensors'));
      edit(w);
      writeSafetensors(join(to, 'adapler.safetensors'), w);
      return to;
    };
    const highEta = rewrite('dir-high-eta', (w) => {
      w.set(adapler.eta, { dims: [3], data: Float32Array.of(0.9, 2, 0.9) });
    });
    await expect(open(highEta)).rejects.toThrow(
      /adapler.safetensors: adapler.eta\[1\] = 2 lies outside \[0.01, 1\].*retrain or restore it/,
    );
    const missing = rewrite('dir-missing', (w) => {
      w.delete('adapler.cp.2.hidden.weight');
    });
    await expect(open(missing)).rejects.toThrow(
      /adapler.safetensors: the AdapLeR weight adapler.cp.2.hidden.weight is missing/,
    );
  });
});
