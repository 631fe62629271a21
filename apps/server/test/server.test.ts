/**
 * lat serve in-process on a tiny model: the API, explicit budgets, the controller's choices,
 * limits and their status codes, metrics and the OpenAPI document; the batcher and the
 * controller on their own.
 */
import { pipeline } from '@lat/pipeline';
import { createNodeRuntime } from '@lat/runtime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batcher, type QueuedJob } from '../src/batcher.js';
import { Controller } from '../src/controller.js';
import { type LatServer, serveOptions, startServer } from '../src/index.js';
import { getJson, post, text, writeTinyBundle, writeTinyModel } from './tiny-model.js';

let dir: string;
let bare: string;
const servers: LatServer[] = [];

async function start(o: Partial<Parameters<typeof serveOptions>[0]> = {}) {
  const s = await startServer(serveOptions({ model: dir, port: 0, threads: 1, ...o }));
  servers.push(s);
  return s;
}

beforeAll(async () => {
  dir = await writeTinyModel({ frontier: true });
  bare = await writeTinyModel();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('POST /v1/classify', () => {
  it('answers with the results, the configuration, MACs and timing — the pipeline’s numbers', async () => {
    const s = await start({ sloP99Ms: 10_000 });
    const texts = [text(5), text(9, 1), 'slow']; // different lengths
    const r = await post(`${s.url}/v1/classify`, { inputs: texts });
    expect(r.status).toBe(200);
    expect(r.json.results).toHaveLength(3);
    // An idle server with a generous SLO runs the full model.
    expect(r.json.configuration).toMatchObject({ name: 'full', source: 'controller', costRatio: 1 });
    expect(r.json.timing.batchInputs).toBe(3);
    expect(r.headers.get('server-timing')).toMatch(/queue;dur=[\d.]+, inference;dur=[\d.]+, total;dur=/);
    const direct = await pipeline('text-classification', dir, { runtime: createNodeRuntime({ threads: 1 }) });
    const expected = await direct(texts);
    await direct.dispose();
    r.json.results.forEach(
      (got: { label: string; probabilities: number[]; kept: number[]; macs: number }, i: number) => {
        expect(got.label).toBe(expected[i]!.label);
        expect(got.probabilities[1]).toBeCloseTo(expected[i]!.probabilities[1]!, 5);
        expect(got.kept).toEqual(expected[i]!.lengths);
        expect(got.macs).toBe(expected[i]!.fullMacs);
      },
    );
    expect(r.json.macs).toBe(expected.reduce((a, e) => a + e.macs, 0));
  });

  it('honours an explicit budget, and says why one cannot be met', async () => {
    const s = await start({ sloP99Ms: 10_000 });
    const r = await post(`${s.url}/v1/classify`, { inputs: [text(20)], budget: 0.5 });
    expect(r.status).toBe(200);
    expect(r.json.configuration).toMatchObject({
      name: 'frontier[0]',
      source: 'budget',
      costRatio: 0.3,
      lengths: [0.3, 0.3],
    });
    const kept = r.json.results[0].kept as number[];
    expect(kept[1]).toBeGreaterThan(0);
    expect(kept[1]).toBeLessThan(22 / 2); // 30% of 22 tokens
    expect(r.json.macs).toBeLessThan(r.json.fullMacs);
    const low = await post(`${s.url}/v1/classify`, { inputs: ['a'], budget: 0.1 });
    expect(low.status).toBe(400);
    expect(low.json.error).toMatchObject({ code: 'BAD_BUDGET', field: 'budget' });
    const odd = await post(`${s.url}/v1/classify`, { inputs: ['a'], budget: 'lots' });
    expect(odd.json.error.code).toBe('BAD_BUDGET');
  });

  it('a request with a deadline does not wait long for a batch to fill', async () => {
    const s = await start({ maxWaitMs: 5_000 });
    const t0 = performance.now();
    const r = await post(`${s.url}/v1/classify`, { inputs: [text(5)], deadlineMs: 2_000 });
    expect(r.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(1_900);
    expect(r.json.timing.queueMs).toBeGreaterThanOrEqual(400); // a quarter of its deadline
  });

  it('moves down the frontier when the SLO cannot be met at full length', async () => {
    const s = await start({ sloP99Ms: 0.001 });
    const rs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => post(`${s.url}/v1/classify`, { inputs: [text(30, i)] })),
    );
    for (const r of rs) expect(r.json.configuration.name).toBe('frontier[0]');
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(
      /lat_batches_total\{point="frontier\[0\]",cost_ratio="0.300",source="controller"\} \d/,
    );
  });

  it('serves a bundle (lat export) with the frontier inside it', async () => {
    const s = await start({ model: writeTinyBundle(), sloP99Ms: 0.001 });
    const ready = await getJson(`${s.url}/readyz`);
    expect(ready).toMatchObject({ model: 'tiny-bundle', configurations: 'frontier' });
    const r = await post(`${s.url}/v1/classify`, { inputs: [text(12)] });
    expect(r.json.configuration).toMatchObject({ name: 'frontier[0]', costRatio: 0.3 });
    expect(r.json.results[0].label).toMatch(/negative|positive/);
  });

  it('without a frontier, falls back to uniform ratios and says so', async () => {
    const s = await start({ model: bare, sloP99Ms: 0.001 });
    const ready = await getJson(`${s.url}/readyz`);
    expect(ready.configurations).toBe('uniform-fallback');
    expect(ready.candidates.map((c: { name: string }) => c.name)).toEqual([
      'uniform-0.40',
      'uniform-0.55',
      'uniform-0.70',
      'uniform-0.85',
      'full',
    ]);
    const r = await post(`${s.url}/v1/classify`, { inputs: [text(30)] });
    expect(r.json.configuration).toMatchObject({
      name: 'uniform-0.40',
      source: 'controller-uniform-fallback',
    });
    const b = await post(`${s.url}/v1/classify`, { inputs: ['a'], budget: '50%' });
    expect(b.status).toBe(400);
    expect(b.json.error.message).toMatch(/lat search/);
  });
});

describe('inference in a worker thread', () => {
  it('answers /healthz while a long batch runs (the event loop is not blocked by onnxruntime)', async () => {
    // The server runs in this process: were session.run on this thread, no fetch below could complete.
    const big = await writeTinyModel({ layers: 4, hidden: 128 });
    const s = await start({ model: big, fullOnly: true, maxBatch: 64, maxWaitMs: 0 });
    const t0 = performance.now();
    let done = false;
    const classify = post(`${s.url}/v1/classify`, {
      inputs: Array.from({ length: 64 }, (_, i) => text(120, i)),
    }).finally(() => {
      done = true;
    });
    const health: { sent: number; got: number; status: number }[] = [];
    while (!done) {
      const sent = performance.now();
      const res = await fetch(`${s.url}/healthz`);
      health.push({ sent, got: performance.now(), status: res.status });
    }
    const r = await classify;
    expect(r.status).toBe(200);
    const { queueMs, inferenceMs } = r.json.timing as { queueMs: number; inferenceMs: number };
    expect(inferenceMs).toBeGreaterThan(50); // a batch long enough to tell
    const start0 = t0 + queueMs;
    const during = health.filter((h) => h.sent >= start0 && h.got <= start0 + inferenceMs);
    expect(health.every((h) => h.status === 200)).toBe(true);
    expect(during.length).toBeGreaterThanOrEqual(3);
  });
});

describe('bad requests get a JSON error with a status', () => {
  let s: LatServer;
  beforeAll(async () => {
    s = await start({ limits: { bodyBytes: 4096, inputs: 4, textChars: 200 } });
  });

  it.each([
    ['malformed JSON', '{"inputs": [', 400, 'MALFORMED_JSON'],
    ['no inputs', {}, 400, 'BAD_REQUEST'],
    ['empty inputs', { inputs: [] }, 400, 'BAD_REQUEST'],
    ['a number as input', { inputs: ['ok', 3] }, 400, 'BAD_REQUEST'],
    ['too many inputs', { inputs: ['a', 'a', 'a', 'a', 'a'] }, 400, 'TOO_MANY_INPUTS'],
    ['a text too long', { inputs: ['a '.repeat(150)] }, 400, 'TEXT_TOO_LONG'],
    ['a bad deadline', { inputs: ['a'], deadlineMs: -1 }, 400, 'BAD_REQUEST'],
    ['an array body', [1], 400, 'BAD_REQUEST'],
    ['a body over the limit', { inputs: ['a'.repeat(5000)] }, 413, 'BODY_TOO_LARGE'],
  ])('%s', async (_name, body, status, code) => {
    const r = await post(`${s.url}/v1/classify`, body);
    expect(r.status).toBe(status);
    expect(r.json.error.code).toBe(code);
    expect(typeof r.json.error.message).toBe('string');
  });

  it('wrong media type, unknown route, wrong task', async () => {
    const t = await post(`${s.url}/v1/classify`, 'inputs', {
      headers: { 'content-type': 'application/xml' },
    });
    expect(t.status).toBe(415);
    const nf = await post(`${s.url}/v2/nothing`, {});
    expect(nf.status).toBe(404);
    const qa = await post(`${s.url}/v1/answer`, { question: 'where ?', context: 'in oslo' });
    expect(qa.status).toBe(404);
    expect(qa.json.error.code).toBe('WRONG_TASK');
    // Still serving.
    expect((await post(`${s.url}/v1/classify`, { inputs: ['fast'] })).status).toBe(200);
  });

  it('a full queue answers 429 with Retry-After; everything else is answered', async () => {
    // Batches never fill and wait 1.5 s, so the first two requests hold the queue's two places.
    const q = await start({ maxBatch: 16, maxWaitMs: 1500, limits: { queuedInputs: 2 } });
    const rs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => post(`${q.url}/v1/classify`, { inputs: [text(4, i)] })),
    );
    const statuses = rs.map((r) => r.status);
    expect(statuses.filter((x) => x === 200)).toHaveLength(2);
    expect(statuses.filter((x) => x === 429)).toHaveLength(6);
    const refused = rs.find((r) => r.status === 429)!;
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.json.error.code).toBe('QUEUE_FULL');
  });
});

describe('question answering, metrics, OpenAPI', () => {
  it('POST /v1/answer returns a span of the context with its configuration', async () => {
    const s = await start({ task: 'question-answering', sloP99Ms: 10_000 });
    const context = 'the server ran in oslo . '.repeat(4);
    const r = await post(`${s.url}/v1/answer`, {
      question: 'where is the server ?',
      context,
      budget: 0.5,
    });
    expect(r.status).toBe(200);
    expect(context.slice(r.json.start, r.json.end)).toBe(r.json.answer);
    expect(r.json.configuration.source).toBe('budget');
    expect(r.json.kept).toHaveLength(2);
    const bad = await post(`${s.url}/v1/answer`, { question: 'where ?' });
    expect(bad.json.error).toMatchObject({ code: 'BAD_REQUEST', field: 'context' });
  });

  it('/metrics, /healthz, /readyz and /openapi.json', async () => {
    const s = await start();
    await post(`${s.url}/v1/classify`, { inputs: ['fast server', 'slow'] });
    await post(`${s.url}/v1/classify`, '{');
    const m = await fetch(`${s.url}/metrics`);
    expect(m.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await m.text();
    for (const name of [
      'lat_http_requests_total',
      'lat_http_request_duration_seconds_bucket',
      'lat_batches_total',
      'lat_batch_size_bucket',
      'lat_queue_depth',
      'lat_cost_ratio',
    ])
      expect(text).toContain(name);
    expect(text).toContain('lat_http_requests_total{route="/v1/classify",status="400"} 1');
    expect(text).toContain('lat_inputs_total 2');
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    const ready = await getJson(`${s.url}/readyz`);
    expect(ready).toMatchObject({ status: 'ready', task: 'text-classification', configurations: 'frontier' });
    const doc = await getJson(`${s.url}/openapi.json`);
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/classify', '/v1/answer', '/metrics']),
    );
  });
});

describe('Batcher', () => {
  const job = (inputs: number, key = 'auto', o: Partial<QueuedJob> = {}) => ({
    inputs,
    key,
    arrival: performance.now(),
    expire: () => {},
    ...o,
  });

  it('fills batches up to maxBatch, keeps keys apart and answers in arrival order', async () => {
    const batches: number[][] = [];
    const b = new Batcher<QueuedJob & { id: number }>({
      maxBatch: 4,
      maxWaitMs: 50,
      maxQueuedInputs: 100,
      execute: async (batch) => {
        batches.push(batch.map((j) => j.id));
        await new Promise((r) => setTimeout(r, 5));
      },
    });
    const ids = [
      [1, 'auto'],
      [2, 'auto'],
      [2, 'budget'],
      [1, 'auto'],
      [1, 'auto'],
      [3, 'budget'],
    ] as const;
    ids.forEach(([n, key], id) => b.submit({ ...job(n, key), id }));
    await b.idle();
    expect(batches).toEqual([[0, 1, 3], [2], [4], [5]]);
  });

  it('cancels queued jobs, refuses beyond the queue limit, expires past deadlines', async () => {
    let expired = 0;
    const ran: number[] = [];
    const b = new Batcher<QueuedJob & { id: number }>({
      maxBatch: 1,
      maxWaitMs: 0,
      maxQueuedInputs: 3,
      execute: async (batch) => {
        ran.push(batch[0]!.id);
        await new Promise((r) => setTimeout(r, 20));
      },
    });
    const jobs = [0, 1, 2, 3].map((id) => ({ ...job(1), id }));
    expect(jobs.map((j) => b.submit(j))).toEqual([true, true, true, true]); // 0 runs at once
    expect(b.submit({ ...job(1), id: 9 })).toBe(false);
    expect(b.cancel(jobs[2]!)).toBe(true);
    expect(b.cancel(jobs[0]!)).toBe(false); // already running
    b.submit({ ...job(1, 'auto', { expiresAt: performance.now() + 1, expire: () => expired++ }), id: 5 });
    await b.idle();
    expect(ran).toEqual([0, 1, 3]);
    expect(expired).toBe(1);
  });
});

describe('Controller', () => {
  const candidates = [0.3, 0.6, 1].map((r) => ({ name: String(r), options: {}, costRatio: r }));
  const fits = [0.3, 0.6, 1].map((r) => ({ fixedMs: 1, perTokenMs: r * 0.01 }));

  it('runs the full model when idle, cheaper points as the queue grows, the cheapest when nothing fits', () => {
    const c = new Controller(candidates, fits, { sloMs: 50, maxBatch: 16 });
    const q = { batchTokens: 16 * 32, batchWaitMs: 2, queuedInputs: 0, queuedWaitMs: 0, targetMs: 50 };
    expect(c.choose(q)).toBe(2);
    expect(c.choose({ ...q, queuedInputs: 64, queuedWaitMs: 5 })).toBe(1);
    expect(c.choose({ ...q, queuedInputs: 160, queuedWaitMs: 10 })).toBe(0);
    expect(c.choose({ ...q, batchWaitMs: 100 })).toBe(0);
    // A request's tighter deadline counts too.
    expect(c.choose({ ...q, targetMs: 10 })).toBe(1);
  });

  it('plans for the requests that arrive while a batch runs: cheaper under a steady stream, full once it stops', () => {
    const c = new Controller(candidates, fits, { sloMs: 50, maxBatch: 16 });
    const q = { batchTokens: 16 * 32, batchWaitMs: 2, queuedInputs: 0, queuedWaitMs: 0, targetMs: 50 };
    // 30 inputs a millisecond for 3 s, none queued at the moment the batch is formed.
    for (let t = 0; t < 3_000; t++) c.arrived(30, t);
    expect(c.arrivalRate(3_000)).toBeGreaterThan(25);
    expect(c.arrivalRate(3_000)).toBeLessThan(31);
    expect(c.choose(q, 3_000)).toBeLessThan(2);
    // A lull: the rate decays, and an idle server runs the full model again.
    expect(c.arrivalRate(13_000)).toBeLessThan(0.01);
    expect(c.choose(q, 13_000)).toBe(2);
  });

  it('runs cheaper while the p99 requests saw is over the SLO, and recovers', () => {
    const c = new Controller(candidates, fits, { sloMs: 50, maxBatch: 16 });
    const q = { batchTokens: 16 * 32, batchWaitMs: 2, queuedInputs: 16, queuedWaitMs: 2, targetMs: 50 };
    expect(c.choose(q)).toBe(2);
    for (let i = 0; i < 30; i++) c.recordLatencies(new Array(16).fill(120));
    expect(c.loadFactor).toBeGreaterThan(3);
    expect(c.choose(q)).toBe(0);
    for (let i = 0; i < 200; i++) c.recordLatencies(new Array(16).fill(10));
    expect(c.loadFactor).toBe(1);
    expect(c.choose(q)).toBe(2);
  });

  it('corrects its table when batches run slower than measured', () => {
    const c = new Controller(candidates, fits, { sloMs: 50, maxBatch: 16 });
    const q = { batchTokens: 16 * 32, batchWaitMs: 2, queuedInputs: 16, queuedWaitMs: 2, targetMs: 50 };
    expect(c.choose(q)).toBe(2);
    const before = c.predict(2, 512);
    for (let i = 0; i < 20; i++) c.observe(2, 16, 512, 4 * before);
    expect(c.loadFactor).toBeGreaterThan(3);
    expect(c.choose(q)).toBeLessThan(2);
  });
});
