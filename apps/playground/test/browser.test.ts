/**
 * The playground in real Chromium (Debian's, driven by playwright-core): loads the default
 * bundle, runs the model in a Web Worker on onnxruntime-web, moves the budget slider and checks
 * that prediction, latency and the kept-token view update; compares the page's logits with
 * onnxruntime-node's for the same bundle; runs an AxFormer-pruned bundle and shows what was
 * removed; runs an AdapLeR bundle (this input's kept tokens per layer, a histogram over a
 * batch); and shows a broken bundle's error in the page.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { anytimeFeeds, axformerReducer, createAnytimeModel, pruneModel } from '@lat/layers';
import { tinyAdaplerModel, tinyModel, writeBundle } from '@lat/layers/testing';
import { pipeline } from '@lat/pipeline';
import { createNodeRuntime } from '@lat/runtime-node';
import { chromiumPath, headlessChromium } from '@lat/runtime-web/chromium';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** What the page exposes for tests (see src/main.ts). */
type LatWindow = Window & {
  lat: {
    ready: boolean;
    busy: boolean;
    last?: {
      text: string;
      context: string;
      tokens: string[];
      logits: number[];
      counts: number[];
      ratios?: number[];
      answer?: { start: number; end: number };
      windows?: number;
    };
    batch?: { texts: string[]; counts: number[][] };
  };
};

const app = join(import.meta.dirname, '..');
const dist = join(app, 'dist');
const vocab = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  'the',
  'film',
  'is',
  'a',
  'great',
  'dull',
  'story',
  'with',
  'cast',
  'and',
  '.',
  'superb',
  'boring',
];
const text = 'the film is a great story with a superb cast and the story is great .';
const model = tinyModel({ vocab, layers: 3, numHeads: 2, outputs: {}, seed: 9 });
const qaModel = tinyModel({
  vocab,
  layers: 3,
  numHeads: 2,
  outputs: { qa: true, classifier: false },
  seed: 4,
});
const { config } = model;
/** An AdapLeR bundle's batch: inputs of different lengths and words, so their kept counts differ. */
const adaplerTexts = [
  text,
  'the film is dull .',
  'a boring story with a dull cast',
  'superb',
  'the cast is great and the story is superb .',
];
const frontier = {
  schemaVersion: 1,
  kind: 'lat-frontier',
  model: { name: 'test', fingerprint: 'f', numLayers: 3 },
  dataset: 'test',
  metric: { name: 'accuracy', higherIsBetter: true },
  lengthForm: 'ratio',
  maxLength: 100,
  costUnit: 'MACs',
  fullCost: 1,
  points: [
    { lengths: [0.5, 0.3, 0.2], cost: 0.35, costRatio: 0.35, metric: 0.8 },
    { lengths: [0.8, 0.6, 0.5], cost: 0.7, costRatio: 0.7, metric: 0.9 },
  ],
  area: 0.8,
  search: { seed: 1, iterations: 1, evaluated: 2, params: {} },
};

// AxFormer pruning of the default model: layer 1 loses a head, layer 2 its FFN block and keeps
// 2 keys per query, layer 3 its attention block.
const masks = {
  ffn: [true, false, true],
  attention: [true, true, false],
  heads: [
    [false, true],
    [true, true],
    [true, true],
  ],
  hardAttentionK: [0, 2, 0],
};
const pruned = { ...model, ...pruneModel(config, model.weights, masks) };

const committedReport = join(app, '../../bench/results/compare-sst2/compare.json');

let server: Server;
let browser: Browser;
let base = '';
const available = existsSync(chromiumPath);
if (!available)
  console.log(`skipping the browser test: ${chromiumPath} is absent (apt-get install -y chromium)`);

describe.skipIf(!available)('playground in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(join(dist, 'index.html')))
      execFileSync('npx', ['vite', 'build'], { cwd: app, stdio: 'inherit' });
    writeBundle(join(dist, 'bundles/default'), model, {
      task: 'classification',
      name: 'test-model',
      fingerprint: 'f',
      frontier,
      examples: [text],
    });
    // As `lat export` writes a pruned model directory: the same exportModel, the pruned weights and config.
    writeBundle(join(dist, 'bundles/pruned'), pruned, {
      task: 'classification',
      name: 'pruned-model',
      examples: [text],
    });
    writeBundle(join(dist, 'bundles/qa'), qaModel, { task: 'span', name: 'qa-model', fingerprint: 'q' });
    writeBundle(
      join(dist, 'bundles/adapler'),
      tinyAdaplerModel({ vocab, layers: 3, numHeads: 2, seed: 5, eta: 0.9, scale: 10 }),
      { task: 'classification', name: 'adapler-model', examples: adaplerTexts },
    );
    writeBundle(
      join(dist, 'bundles/roberta-qa'),
      tinyModel({ architecture: 'roberta', layers: 3, numHeads: 2 }),
      {
        task: 'span',
        name: 'roberta-qa',
      },
    );
    // The default bundle with one bit of its graph flipped: lat.json's sha256 no longer matches.
    mkdirSync(join(dist, 'bundles/damaged'), { recursive: true });
    const onnx = readFileSync(join(dist, 'bundles/default/model.onnx'));
    onnx[onnx.length >> 1] = onnx[onnx.length >> 1]! ^ 1;
    writeFileSync(join(dist, 'bundles/damaged/model.onnx'), onnx);
    writeFileSync(
      join(dist, 'bundles/damaged/lat.json'),
      readFileSync(join(dist, 'bundles/default/lat.json')),
    );
    // The committed `lat compare` report of the SST-2 fixture (bench/results), and a broken one.
    mkdirSync(join(dist, 'reports'), { recursive: true });
    writeFileSync(join(dist, 'reports/compare.json'), readFileSync(committedReport));
    const broken = JSON.parse(readFileSync(committedReport, 'utf8'));
    broken.methods[0].best = [];
    writeFileSync(join(dist, 'reports/broken.json'), JSON.stringify(broken));
    mkdirSync(join(dist, 'bundles/broken'), { recursive: true });
    writeFileSync(join(dist, 'bundles/broken/lat.json'), JSON.stringify({ kind: 'something-else' }));
    server = createServer((req, res) => {
      const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(
        /^(\.\.[/\\])+/,
        '',
      );
      let file = join(dist, path);
      if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
      if (!existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      const types: Record<string, string> = {
        '.html': 'text/html',
        '.js': 'text/javascript',
        '.mjs': 'text/javascript',
        '.css': 'text/css',
        '.json': 'application/json',
        '.wasm': 'application/wasm',
        '.onnx': 'application/octet-stream',
      };
      res.writeHead(200, {
        'Content-Type': types[extname(file)] ?? 'application/octet-stream',
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
      });
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await chromium.launch(headlessChromium);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  it('runs the default bundle, follows the budget slider, and matches onnxruntime-node', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(base);
    await page.waitForFunction(
      () => (window as unknown as LatWindow).lat?.last && !(window as unknown as LatWindow).lat.busy,
      null,
      {
        timeout: 60_000,
      },
    );
    const full = (await page.evaluate(() => (window as unknown as LatWindow).lat.last))!;
    expect(await page.textContent('#prediction')).toMatch(/positive|negative/);
    expect(await page.textContent('#latency')).toMatch(/\d+\.\d+ ms/);
    const keptFull = await page.locator('.tok.kept').count();
    expect(keptFull).toBe(3 * full.tokens.length);

    // Same bundle, same tokens, onnxruntime-node.
    const enc = model.tokenizer.encode(text, undefined, { maxLength: 64 });
    expect(full.tokens).toEqual(enc.tokens);
    const session = await createNodeRuntime({ threads: 1 }).createSession(
      readFileSync(join(dist, 'bundles/default/model.onnx')),
    );
    const feeds = anytimeFeeds(config, {
      inputIds: BigInt64Array.from(enc.ids, BigInt),
      attentionMask: new BigInt64Array(enc.ids.length).fill(1n),
      batch: 1,
    });
    const node = Array.from((await session.run(feeds))['logits']!.data as Float32Array);
    node.forEach((v, i) =>
      expect(Math.abs(v - full.logits[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(v))),
    );

    // Move the slider to the cheapest frontier point.
    await page.evaluate(() => {
      const s = document.getElementById('slider') as HTMLInputElement;
      s.value = s.max;
      s.dispatchEvent(new Event('input'));
    });
    await page.waitForFunction(
      () => (window as unknown as LatWindow).lat.last?.ratios && !(window as unknown as LatWindow).lat.busy,
      null,
      {
        timeout: 30_000,
      },
    );
    const cheap = (await page.evaluate(() => (window as unknown as LatWindow).lat.last))!;
    expect(cheap.ratios).toEqual([0.5, 0.3, 0.2]);
    expect(cheap.counts).toEqual([0.5, 0.3, 0.2].map((r) => Math.ceil(r * enc.ids.length)));
    expect(await page.locator('.tok.kept').count()).toBe(
      cheap.counts.reduce((a: number, b: number) => a + b, 0),
    );
    expect(await page.textContent('#budget-label')).toContain('35.0% of the full cost');
    expect(await page.textContent('#macs')).toMatch(/% of full/);
    mkdirSync(join(app, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(app, 'test-results/playground.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 120_000);

  it('runs an AxFormer-pruned bundle: the masked full model’s prediction, and what was removed per layer', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}?bundle=./bundles/pruned/`);
    await page.waitForFunction(
      () => (window as unknown as LatWindow).lat?.last && !(window as unknown as LatWindow).lat.busy,
      null,
      { timeout: 60_000 },
    );
    const last = (await page.evaluate(() => (window as unknown as LatWindow).lat.last))!;
    // The unpruned model with the same parts masked off, in onnxruntime-node: the same logits.
    const enc = model.tokenizer.encode(text, undefined, { maxLength: 64 });
    const masked = await createAnytimeModel(createNodeRuntime({ threads: 1 }), config, model.weights, {
      reducer: axformerReducer,
      keptPositions: false,
    });
    const batch = {
      inputIds: BigInt64Array.from(enc.ids, BigInt),
      attentionMask: new BigInt64Array(enc.ids.length).fill(1n),
      tokenTypeIds: new BigInt64Array(enc.ids.length),
      batch: 1,
    };
    const want = Array.from((await masked.run(batch, masks)).logits!);
    await masked.release();
    expect(last.logits).toHaveLength(want.length);
    last.logits.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-4));
    const best = want.indexOf(Math.max(...want));
    expect(await page.textContent('#prediction')).toBe(config.labels[best]);
    // What was removed, layer by layer (1-based, as the kept-token rows count them).
    expect(await page.locator('#structure li').allTextContents()).toEqual([
      'layer 1: heads 1 of 2 (removed 0); FFN kept',
      'layer 2: all 2 heads, hard attention k=2; FFN removed',
      'layer 3: attention removed; FFN kept',
    ]);
    expect(await page.isVisible('#structure')).toBe(true);
    // Every layer still runs over every token (no frontier: full length).
    expect(await page.locator('#layers .row').count()).toBe(3);
    expect(await page.locator('.tok.kept').count()).toBe(3 * last.tokens.length);
    await page.screenshot({ path: join(app, 'test-results/playground-pruned.png'), fullPage: true });
    // An unpruned bundle shows no structure.
    await page.goto(base);
    await page.waitForFunction(() => (window as unknown as LatWindow).lat?.ready, null, { timeout: 60_000 });
    expect(await page.isHidden('#structure')).toBe(true);
    expect(errors).toEqual([]);
  }, 60_000);

  it('runs an AdapLeR bundle: the kept tokens of this input per layer, and a histogram over a batch, as in Node', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}?bundle=./bundles/adapler/`);
    /** Waits until the page has run `input` and the batch of `n` inputs, and nothing is in flight. */
    const settled = (input: string, n: number) =>
      page.waitForFunction(
        ([t, k]) => {
          const { last, batch, busy } = (window as unknown as LatWindow).lat;
          return !busy && last?.text === t && batch?.texts.length === k;
        },
        [input, n] as const,
        { timeout: 60_000 },
      );
    await settled(adaplerTexts[0]!, adaplerTexts.length);
    const state = () => page.evaluate(() => (window as unknown as LatWindow).lat);
    const clf = await pipeline('text-classification', join(dist, 'bundles/adapler'), {
      runtime: createNodeRuntime({ threads: 1 }),
    });
    const want = await clf(adaplerTexts);
    await clf.dispose();
    const counts = want.map((w) => w.lengths);
    expect(new Set(counts.map((c) => c.join())).size).toBeGreaterThan(2); // inputs keep different counts

    // This input: its own counts, its kept tokens per layer.
    const { last, batch } = await state();
    expect(last!.counts).toEqual(counts[0]);
    want[0]!.logits.forEach((v, i) => expect(Math.abs(v - last!.logits[i]!)).toBeLessThan(1e-4));
    expect(await page.locator('#layers .row').count()).toBe(3);
    for (const [i, n] of counts[0]!.entries()) {
      expect(await page.locator(`#layers .row[data-layer="${i}"] .tok.kept`).count()).toBe(n);
      expect(await page.textContent(`#layers .row[data-layer="${i}"] .name`)).toBe(`layer ${i + 1} · ${n}`);
    }
    expect(await page.isHidden('#slider')).toBe(true);
    expect(await page.textContent('#budget-label')).toMatch(
      /AdapLeR: each input keeps its own tokens per layer/,
    );

    // The batch: every input's counts, and per layer a bar per count with the inputs that kept it.
    expect(batch!.counts).toEqual(counts);
    const bars = async () =>
      page.$$eval('#histogram .hist-row', (rows) =>
        rows.map((r) =>
          Array.from(r.querySelectorAll<HTMLElement>('.bar'), (b) => [
            Number(b.dataset['kept']),
            Number(b.dataset['inputs']),
          ]),
        ),
      );
    const histogramOf = (cs: number[][]) =>
      [0, 1, 2].map((layer) => {
        const ks = cs.map((c) => c[layer]!);
        const lo = Math.min(...ks);
        return Array.from({ length: Math.max(...ks) - lo + 1 }, (_, j) => [
          lo + j,
          ks.filter((k) => k === lo + j).length,
        ]);
      });
    expect(await bars()).toEqual(histogramOf(counts));
    expect(await page.textContent('#batch-summary')).toMatch(/5 inputs · .* fewer MACs than the full model/);

    // Another batch, then another input.
    await page.fill('#batch', adaplerTexts.slice(1, 3).join('\n'));
    await settled(adaplerTexts[0]!, 2);
    expect((await state()).batch!.counts).toEqual(counts.slice(1, 3));
    expect(await bars()).toEqual(histogramOf(counts.slice(1, 3)));
    await page.fill('#text', adaplerTexts[3]!);
    await settled(adaplerTexts[3]!, 2);
    expect((await state()).last!.counts).toEqual(counts[3]);
    await page.screenshot({ path: join(app, 'test-results/playground-adapler.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 120_000);

  /** Asks in the page with `bundle` loaded, and through the pipeline on onnxruntime-node. */
  async function askBoth(bundle: string, question: string, context: string) {
    const page = await browser.newPage();
    await page.goto(`${base}?bundle=./bundles/${bundle}/`);
    await page.waitForFunction(() => (window as unknown as LatWindow).lat?.ready, null, { timeout: 60_000 });
    await page.fill('#context', context);
    await page.fill('#text', question);
    // Wait for the run of this question and context: typing either field starts a run of its own.
    await page
      .waitForFunction(
        ([q, c]) => {
          const { last, busy } = (window as unknown as LatWindow).lat;
          return !busy && last?.text === q && last.context === c;
        },
        [question, context],
        { timeout: 30_000 },
      )
      .catch(async (e) => {
        throw new Error(
          `${e.message}; page error: ${await page.textContent('#error')}; state: ${await page.evaluate(() => JSON.stringify((window as unknown as LatWindow).lat))}; prediction ${await page.textContent('#prediction')}`,
        );
      });
    const last = (await page.evaluate(() => (window as unknown as LatWindow).lat.last))!;
    const qa = await pipeline('question-answering', join(dist, 'bundles', bundle), {
      runtime: createNodeRuntime({ threads: 1 }),
    });
    const want = await qa({ question, context });
    await qa.dispose();
    return { page, last, want };
  }

  it('answers questions with a QA bundle over a long context, window by window, as @lat/pipeline does in Node', async () => {
    // Longer than the bundle's 64 tokens: the context is split into overlapping windows.
    const context = `${'a superb cast and a dull story with the film . '.repeat(9)}the film is great .`;
    const { page, last, want } = await askBoth('qa', 'the great story', context);
    expect(want.windows).toBeGreaterThan(2);
    expect(last.windows).toBe(want.windows);
    expect(last.answer).toMatchObject({ start: want.start, end: want.end });
    expect(await page.textContent('#answer mark')).toBe(want.answer);
    expect(await page.textContent('#prediction')).toBe(want.answer);
    expect(await page.textContent('#probs')).toMatch(/window \d+ of \d+ shown/);
  }, 60_000);

  it('opens a compare report: one curve per method, and what each method keeps per layer side by side', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}?compare=./reports/compare.json`);
    await page.waitForSelector('#compare:not([hidden]) #compare-kept .row', { timeout: 30_000 });
    const report = JSON.parse(readFileSync(committedReport, 'utf8'));
    expect(await page.textContent('#compare-title')).toContain('plain vs lat');
    const legend = await page.locator('#compare-chart .u-legend .u-series .u-label').allTextContents();
    expect(legend).toEqual(['speed-up', 'plain', 'lat']);
    // The full budget is selected first: plain keeps every token in every layer; lat drops some.
    const layers = report.model.numLayers;
    const tokens = report.examples[0].tokens.length;
    expect(await page.locator('#compare-kept .row[data-method="plain"] .tok.kept').count()).toBe(
      layers * tokens,
    );
    expect(await page.locator('#compare-kept .row[data-method="lat"]').count()).toBe(layers);
    const latKept = report.examples[0].kept.find(
      (k: { method: string; budget: number }) => k.method === 'lat' && k.budget === 1,
    );
    expect(await page.locator('#compare-kept .row[data-method="lat"] .tok.kept').count()).toBe(
      latKept.layers.flat().length,
    );
    await page.screenshot({ path: join(app, 'test-results/playground-compare.png'), fullPage: true });
    // The smallest budget: plain has nothing that cheap.
    await page.click('#compare-budgets button[data-index="0"]');
    expect(await page.textContent('#compare-kept')).toContain(
      `plain · nothing within ${Math.round(report.budgets[0] * 100)}% of the MACs`,
    );
    expect(await page.locator('#compare-kept .row[data-method="plain"]').count()).toBe(0);
    expect(errors).toEqual([]);
    const broken = await browser.newPage();
    await broken.goto(`${base}?compare=./reports/broken.json`);
    await broken.waitForSelector('#compare-error:not([hidden])', { timeout: 30_000 });
    expect(await broken.textContent('#compare-error')).toMatch(
      /broken.json#methods\[0\]\.best: has 0 entries/,
    );
    expect(await broken.isHidden('#compare')).toBe(true);
  }, 60_000);

  it('runs a RoBERTa QA bundle (byte-level BPE tokenizer): the same answer at the same character offsets as in Node', async () => {
    const context = `${'Über-fans said the plot was dull, the cast great — “a gripping film”. '.repeat(4)}Paris is the capital of France.`;
    const { page, last, want } = await askBoth('roberta-qa', 'What is the capital of France?', context);
    expect(want.windows).toBeGreaterThan(1);
    expect(last.tokens[0]).toBe('<s>');
    expect(last.windows).toBe(want.windows);
    expect(last.answer).toMatchObject({ start: want.start, end: want.end });
    expect(await page.textContent('#prediction')).toBe(want.answer);
  }, 60_000);

  it('shows what is wrong with a broken bundle instead of a blank page', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}?bundle=./bundles/broken/`);
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    expect(await page.textContent('#error')).toMatch(/lat.json#kind: expected "lat-bundle"/);
    const missing = await browser.newPage();
    await missing.goto(`${base}?bundle=./bundles/nothing-here/`);
    await missing.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    expect(await missing.textContent('#error')).toMatch(/no bundle here \(HTTP 404\)/);
    const damaged = await browser.newPage();
    await damaged.goto(`${base}?bundle=./bundles/damaged/`);
    await damaged.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    expect(await damaged.textContent('#error')).toMatch(/model.onnx: damaged or replaced: its sha256 is/);
  }, 60_000);
});
