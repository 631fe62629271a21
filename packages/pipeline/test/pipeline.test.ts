/**
 * pipeline() against the anytime graph it wraps: same logits as running the model directly,
 * batched = one by one, model directory = bundle directory = bundle bytes, budgets through a
 * frontier, windowed question answering with exact offsets, and the errors users hit.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLatError, WordPieceTokenizer } from '@lat/core';
import { createAnytimeModel, poolingMacs, withScorers } from '@lat/layers';
import { tinyModel, writeBundle } from '@lat/layers/testing';
import { decodeAnswers } from '@lat/qa';
import { createNodeRuntime } from '@lat/runtime-node';
import { createWebRuntime } from '@lat/runtime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromManifest, pipeline, readBundle } from '../src/index.js';
import { tinyBert, tinyVocab, writeTinyBundle, writeTinyModel } from '../src/testing/index.js';
import { tinyFrontier } from './frontier.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-pipeline-'));
const modelDir = join(dir, 'model');
const bundleDir = join(dir, 'bundle');
const spanBundleDir = join(dir, 'span-bundle');
const runtime = createNodeRuntime({ threads: 1 });
const texts = ['a gripping film', 'the film was dull .', 'dull'];
const frontier = tinyFrontier('tiny', [
  { lengths: [0.5, 0.25], cost: 0.4, costRatio: 0.4, metric: 0.8, latencyMs: 1 },
  { lengths: [0.8, 0.6], cost: 0.75, costRatio: 0.75, metric: 0.9, latencyMs: 2 },
]);

beforeAll(() => {
  writeTinyModel(modelDir);
  writeTinyBundle(bundleDir, 'classification', frontier);
  writeTinyBundle(spanBundleDir, 'span');
});

const close = (a: number[], b: number[], tol = 1e-5) =>
  a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThan(tol));

describe('text classification', () => {
  let clf: Awaited<ReturnType<typeof pipeline<'text-classification'>>>;
  beforeAll(async () => {
    clf = await pipeline('text-classification', modelDir, { runtime });
  });
  afterAll(() => clf.dispose());

  it('gives the anytime graph’s logits, batched or one by one, with softmax probabilities', async () => {
    const { config, weights } = tinyBert();
    const ref = await createAnytimeModel(runtime, config, weights);
    const tok = new WordPieceTokenizer(tinyVocab);
    const batched = await clf(texts, { ratios: [0.7, 0.4] });
    expect(batched).toHaveLength(3);
    for (const [i, text] of texts.entries()) {
      const enc = tok.encode(text, undefined, { maxLength: 64 });
      const r = await ref.run(
        {
          inputIds: BigInt64Array.from(enc.ids, BigInt),
          attentionMask: new BigInt64Array(enc.ids.length).fill(1n),
          tokenTypeIds: new BigInt64Array(enc.ids.length),
          batch: 1,
        },
        { form: 'ratio', ratios: [0.7, 0.4] },
      );
      const got = batched[i]!;
      close(got.logits, Array.from(r.logits!));
      const [single] = await clf(text, { ratios: [0.7, 0.4] });
      close(single!.logits, got.logits);
      expect(got.tokens).toEqual(enc.tokens);
      const n = enc.ids.length;
      expect(got.lengths).toEqual([Math.ceil(0.7 * n), Math.ceil(0.4 * n)]);
      expect(got.keptPositions.map((k) => k.length)).toEqual(got.lengths);
      expect(got.keptPositions[1]!.every((p) => got.keptPositions[0]!.includes(p))).toBe(true);
      const e = got.logits.map(Math.exp);
      close(
        got.probabilities,
        e.map((x) => x / (e[0]! + e[1]!)),
      );
      expect(got.label).toBe(config.labels[got.probabilities.indexOf(Math.max(...got.probabilities))]);
      expect(got.score).toBe(Math.max(...got.probabilities));
      expect(got.macs).toBeLessThan(got.fullMacs);
    }
    await ref.release();
  });

  it('runs at full length by default and at absolute lengths, clamped for short inputs', async () => {
    const [full] = await clf('dull');
    expect(full!.lengths).toEqual([3, 3]);
    expect(full!.macs).toBe(full!.fullMacs);
    const [long, short] = await clf(['the film was dull .', 'dull'], { lengths: [5, 2] });
    expect(long!.lengths).toEqual([5, 2]);
    expect(short!.lengths).toEqual([3, 2]);
  });

  it('refuses bad options with a LatError naming the option', async () => {
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e) => (isLatError(e) ? e.code : String(e)),
      );
    expect(await codeOf(clf('dull', { ratios: [0.5, 0.7] }))).toBe('BAD_LENGTHS');
    expect(await codeOf(clf('dull', { ratios: [0.5] }))).toBe('BAD_LENGTHS');
    expect(await codeOf(clf('dull', { ratios: [0.5, 0.5], lengths: [2, 2] }))).toBe('BAD_INPUT');
    await expect(clf('dull', { budget: 0.5 })).rejects.toThrow(/budget: a budget needs the model's frontier/);
    await expect(clf('dull', { budget: 'fast' })).rejects.toThrow(/cannot read 'fast'/);
    // @ts-expect-error not text
    await expect(clf(['dull', 7])).rejects.toThrow(/inputs\[1\]: give a string/);
    expect(await clf([])).toEqual([]);
  });
});

describe('bundles', () => {
  it('a bundle directory and its bytes run like the model directory, and budgets pick frontier points', async () => {
    const fromDir = await pipeline('text-classification', modelDir, { runtime });
    const fromBundle = await pipeline('text-classification', bundleDir, { runtime });
    const fromBytes = await pipeline(
      'text-classification',
      {
        manifest: readFileSync(join(bundleDir, 'lat.json')),
        model: readFileSync(join(bundleDir, 'model.onnx')),
      },
      { runtime },
    );
    const want = await fromDir(texts, { ratios: [0.8, 0.6] });
    for (const p of [fromBundle, fromBytes]) {
      const got = await p(texts, { budget: '80%' }); // the [0.8, 0.6] point
      expect(p.lengthsFor({ budget: 0.8 }).point?.lengths).toEqual([0.8, 0.6]);
      got.forEach((g, i) => {
        close(g.logits, want[i]!.logits);
        expect(g.lengths).toEqual(want[i]!.lengths);
      });
      expect((await p(texts, { latencyMs: 1.5 }))[1]!.lengths).toEqual(
        (await fromDir(texts, { ratios: [0.5, 0.25] }))[1]!.lengths,
      );
    }
    await expect(pipeline('question-answering', bundleDir, { runtime })).rejects.toThrow(
      /tiny is a classification model; use pipeline\('text-classification', …\)/,
    );
    await Promise.all([fromDir.dispose(), fromBundle.dispose(), fromBytes.dispose()]);
  });

  it('keeps RoBERTa’s position offset, padding id, norm epsilon and BPE tokenizer in the manifest', async () => {
    const roberta = tinyModel({ architecture: 'roberta' });
    const { config } = roberta;
    const manifest = writeBundle(join(dir, 'roberta'), roberta, { task: 'classification' });
    expect(configFromManifest(manifest)).toEqual({ ...config, hiddenDropout: 0, attentionDropout: 0 });
    expect(manifest.tokenizer).toMatchObject({ type: 'bpe', clsToken: '<s>', maxLength: 64 });
    const fromBundle = await pipeline('text-classification', join(dir, 'roberta'), { runtime });
    const inMemory = await pipeline(
      'text-classification',
      { name: 'roberta', config, tokenizer: roberta.tokenizer, weights: roberta.weights },
      { runtime },
    );
    const [a] = await fromBundle('a gripping film', { ratios: [0.6, 0.3] });
    const [b] = await inMemory('a gripping film', { ratios: [0.6, 0.3] });
    expect(a!.tokens).toEqual(b!.tokens);
    expect(a!.tokens[0]).toBe('<s>');
    close(a!.logits, b!.logits);
    await Promise.all([fromBundle.dispose(), inMemory.dispose()]);
  });

  it('loads a schema-1 bundle (written before BPE tokenizers) as it did', async () => {
    const manifest = JSON.parse(readFileSync(join(bundleDir, 'lat.json'), 'utf8'));
    expect(manifest.schemaVersion).toBe(2);
    // lat.json as the schema-1 exporter wrote it: no stripAccents, no maxInputCharsPerWord.
    const { stripAccents: _, ...tokenizer } = manifest.tokenizer;
    const old = await pipeline(
      'text-classification',
      {
        manifest: { ...manifest, schemaVersion: 1, tokenizer },
        model: readFileSync(join(bundleDir, 'model.onnx')),
      },
      { runtime },
    );
    const current = await pipeline('text-classification', bundleDir, { runtime });
    const [a, b] = [await old(texts, { ratios: [0.7, 0.4] }), await current(texts, { ratios: [0.7, 0.4] })];
    a.forEach((r, i) => {
      expect(r.tokens).toEqual(b[i]!.tokens);
      close(r.logits, b[i]!.logits);
    });
    await Promise.all([old.dispose(), current.dispose()]);
  });

  it('names the file at fault in a broken bundle', async () => {
    await expect(readBundle({ manifest: '{"kind":', model: new Uint8Array(32) })).rejects.toThrow(
      /lat.json: not valid JSON/,
    );
    const manifest = JSON.parse(readFileSync(join(bundleDir, 'lat.json'), 'utf8'));
    await expect(readBundle({ manifest, model: new Uint8Array(32) })).rejects.toThrow(
      /model.onnx: this is not an ONNX model/,
    );
    await expect(
      readBundle({
        manifest: { ...manifest, model: { ...manifest.model, positionOffset: -1 } },
        model: new Uint8Array(32),
      }),
    ).rejects.toThrow(/model.positionOffset: must be a whole number/);
  });
});

describe('sources and runtimes', () => {
  it('runs on another runtime when given one: onnxruntime-web in Node gives onnxruntime-node’s logits', async () => {
    const onNode = await pipeline('text-classification', bundleDir, { runtime });
    const onWeb = await pipeline('text-classification', bundleDir, {
      runtime: createWebRuntime({ threads: 1 }),
    });
    const [a] = await onNode('a gripping film', { ratios: [0.6, 0.3] });
    const [b] = await onWeb('a gripping film', { ratios: [0.6, 0.3] });
    close(a!.logits, b!.logits, 1e-4);
    expect(b!.keptPositions).toEqual(a!.keptPositions);
    await Promise.all([onNode.dispose(), onWeb.dispose()]);
  });

  it('runs on onnxruntime-node in Node when no runtime is given', async () => {
    const clf = await pipeline('text-classification', bundleDir, { session: { threads: 1 } });
    expect(clf.runtime.name).toBe('onnxruntime-node');
    await clf.dispose();
  });

  it('says what is wrong with a source', async () => {
    await expect(pipeline('text-classification', join(dir, 'nothing-here'), { runtime })).rejects.toThrow(
      /nothing-here: no such directory/,
    );
    const headless = join(dir, 'headless');
    writeTinyModel(headless);
    const st = join(headless, 'model.safetensors');
    const { readSafetensors, writeSafetensors } = await import('@lat/core/node');
    const tensors = readSafetensors(st);
    for (const n of [...tensors.keys()]) if (/^(classifier|qa_outputs)\./.test(n)) tensors.delete(n);
    writeSafetensors(st, tensors);
    await expect(pipeline('text-classification', headless, { runtime })).rejects.toThrow(
      /headless: the checkpoint has no classification head \(classifier.\*\)/,
    );
    await expect(pipeline('question-answering', headless, { runtime })).rejects.toThrow(
      /no question-answering head/,
    );
    // @ts-expect-error not a source
    await expect(pipeline('text-classification', 42, { runtime })).rejects.toThrow(
      /source: give a model directory/,
    );
    // @ts-expect-error an unknown task
    await expect(pipeline('summarization', modelDir, { runtime })).rejects.toThrow(
      /unknown task 'summarization'/,
    );
  });
});

describe('question answering', () => {
  const context = `${'the film was shot in oslo over two winters . '.repeat(5)}its cafe scenes were filmed in zurich .`;
  const question = 'where were the cafe scenes filmed ?';

  it('splits a long context into windows and answers with exact offsets, like decoding each window by hand', async () => {
    const qa = await pipeline('question-answering', modelDir, { runtime, maxLength: 32, docStride: 8 });
    const a = await qa({ question, context }, { ratios: [0.7, 0.5] });
    expect(a.windows).toBeGreaterThan(2);
    expect(context.slice(a.start, a.end)).toBe(a.answer);
    expect(a.answer.length).toBeGreaterThan(0);
    expect(a.tokens[0]).toBe('[CLS]');
    expect(a.keptPositions.map((k) => k.length)).toEqual(a.lengths);
    expect(a.macs).toBeLessThan(a.fullMacs);

    // The same windows, one by one through the graph, decoded by @lat/qa.
    const { config, weights } = tinyBert();
    const ref = await createAnytimeModel(runtime, config, weights, { head: 'span' });
    const { buildFeatures } = await import('@lat/qa');
    const features = buildFeatures(qa.tokenizer, { question, context }, { maxSeqLength: 32, docStride: 8 });
    expect(features).toHaveLength(a.windows);
    const logits = [];
    for (const f of features) {
      const r = await ref.run(
        {
          inputIds: BigInt64Array.from(f.ids, BigInt),
          attentionMask: new BigInt64Array(f.ids.length).fill(1n),
          tokenTypeIds: BigInt64Array.from(f.typeIds, BigInt),
          batch: 1,
        },
        { form: 'ratio', ratios: [0.7, 0.5] },
      );
      logits.push({ start: r.startLogits!, end: r.endLogits! });
    }
    const [want] = decodeAnswers(context, features, logits);
    expect({ answer: a.answer, start: a.start, end: a.end, window: a.window }).toEqual({
      answer: want!.text,
      start: want!.start,
      end: want!.end,
      window: want!.window,
    });
    expect(a.score).toBeCloseTo(want!.score, 4);
    const many = await qa(
      [
        { question, context },
        { question: 'where ?', context: 'oslo' },
      ],
      { ratios: [0.7, 0.5] },
    );
    expect(many[0]).toEqual(a);
    expect(many[1]!.answer).toBe('oslo');
    await Promise.all([qa.dispose(), ref.release()]);
  });

  it("counts a blockwise, pooled model's MACs as its graph runs them: poolingMacs of each window", async () => {
    const tiny = tinyBert();
    const config = {
      ...tiny.config,
      pooling: { schedule: [[1, 8]] as [number, number][], inputLength: 32, chunk: 8 },
    };
    const files = {
      name: 'pooled',
      config,
      tokenizer: tiny.tokenizer,
      weights: withScorers(config, tiny.weights),
      task: 'span' as const,
      maxLength: 32,
    };
    const qa = await pipeline('question-answering', files, { runtime, docStride: 8 });
    const a = await qa({ question, context });
    const { buildFeatures } = await import('@lat/qa');
    const windows = buildFeatures(qa.tokenizer, { question, context }, { maxSeqLength: 32, docStride: 8 });
    expect(windows.length).toBe(a.windows);
    expect(windows.some((w) => w.ids.length > config.pooling.chunk)).toBe(true);
    const macs = windows.reduce((sum, w) => sum + poolingMacs(config, w.ids.length), 0);
    expect(a.macs).toBe(macs);
    expect(a.fullMacs).toBe(macs);
    await qa.dispose();
  });

  it('loads an exported span bundle and answers as the model directory does', async () => {
    const fromDir = await pipeline('question-answering', modelDir, { runtime });
    const fromBundle = await pipeline('question-answering', spanBundleDir, { runtime });
    const a = await fromDir({ question, context }, { lengths: [20, 10] });
    const b = await fromBundle({ question, context }, { lengths: [20, 10] });
    expect(b.answer).toBe(a.answer);
    expect(b.start).toBe(a.start);
    expect(b.score).toBeCloseTo(a.score, 4);
    await expect(pipeline('text-classification', spanBundleDir, { runtime })).rejects.toThrow(
      /is a question-answering model; use pipeline\('question-answering', …\)/,
    );
    await Promise.all([fromDir.dispose(), fromBundle.dispose()]);
  });
});

const fixture = join(import.meta.dirname, '../../../../shared/fixtures/models/bert-tiny-sst2');
describe.skipIf(!existsSync(fixture))(
  'a real SST-2 checkpoint (../shared/fixtures/models/bert-tiny-sst2)',
  () => {
    it('matches the PyTorch goldens from text, batched, at full and reduced lengths — from the directory and from its bundle', async () => {
      const goldens = JSON.parse(readFileSync(join(fixture, 'goldens.json'), 'utf8')) as {
        dev_accuracy: number;
        cases: {
          text: string;
          input_ids: number[];
          logits: number[];
          reduced: { lengths: number[]; logits: number[]; kept_last_layer: number[] };
        }[];
      };
      const clf = await pipeline('text-classification', fixture, { runtime });
      const texts = goldens.cases.map((g) => g.text);
      const full = await clf(texts);
      goldens.cases.forEach((g, i) => {
        expect(full[i]!.tokens.map((t) => clf.tokenizer.tokenId(t))).toEqual(g.input_ids);
        close(full[i]!.logits, g.logits, 1e-4);
      });
      const { readModelDir } = await import('../src/node.js');
      const m = await readModelDir(fixture);
      const { exportModel } = await import('@lat/layers/node');
      exportModel(join(dir, 'sst2-bundle'), m.config, m.weights, {
        name: 'bert-tiny-sst2',
        fingerprint: m.fingerprint,
        task: { type: 'classification', labels: m.config.labels },
        tokenizer: m.tokenizer,
        maxLength: 128,
      });
      const bundle = await pipeline('text-classification', join(dir, 'sst2-bundle'), { runtime });
      for (const p of [clf, bundle]) {
        for (const g of goldens.cases) {
          const [r] = await p(g.text, { lengths: g.reduced.lengths });
          close(r!.logits, g.reduced.logits, 1e-4);
          expect(r!.keptPositions.at(-1)).toEqual(g.reduced.kept_last_layer);
        }
      }
      // The whole SST-2 dev set from text, in batches of 32: PyTorch's accuracy.
      const dev = readFileSync(join(fixture, '../../glue/SST-2/dev.tsv'), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split('\t'));
      const results = await bundle(dev.map(([text]) => text!.trim()));
      const right = results.filter((r, i) => r.label === clf.config.labels[Number(dev[i]![1])]).length;
      expect(right / dev.length).toBeCloseTo(goldens.dev_accuracy, 6);
      await Promise.all([clf.dispose(), bundle.dispose()]);
    });
  },
);
if (!existsSync(fixture)) console.log(`skipping the golden test: ${fixture} is absent`);
