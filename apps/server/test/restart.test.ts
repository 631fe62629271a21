/**
 * A crashed inference thread: the batch it was running is answered 503 (INFERENCE_CRASHED), the
 * thread is started again after a backoff while /readyz says so, requests queued meanwhile wait
 * and succeed; a thread that cannot be started again leaves the server answering 503.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type LatServer, serveOptions, startServer } from '../src/index.js';
import { post, text, writeTinyModel } from './tiny-model.js';

const servers: LatServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function start(restartDelaysMs: number[]) {
  const events: { event: string }[] = [];
  const model = await writeTinyModel({ frontier: true });
  const s = await startServer(serveOptions({ model, port: 0, threads: 1, sloP99Ms: 10_000 }), {
    restartDelaysMs,
    log: (e) => events.push(e as { event: string }),
  });
  servers.push(s);
  return { s, events, model };
}

const status = async (url: string) => {
  const r = await fetch(url);
  return { status: r.status, json: (await r.json()) as { status: string; restarts?: number } };
};

async function metric(s: LatServer, name: string): Promise<number> {
  const body = await (await fetch(`${s.url}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}

describe('a crashed inference thread', () => {
  it('fails only its batch with 503, restarts after a backoff (not ready meanwhile), then serves', async () => {
    const { s, events } = await start([1_500]);
    const inputs = [text(6), text(9, 2)];
    const before = await post(`${s.url}/v1/classify`, { inputs });
    expect(before.status).toBe(200);

    s.model.crashNextBatch();
    const crashed = post(`${s.url}/v1/classify`, { inputs });
    // Another request while the crashed batch runs or the thread restarts: it waits, then succeeds.
    await new Promise((r) => setTimeout(r, 50));
    const queued = post(`${s.url}/v1/classify`, { inputs, budget: '60%' });

    const c = await crashed;
    expect(c.status).toBe(503);
    expect(c.json.error.code).toBe('INFERENCE_CRASHED');
    expect(c.json.error.message).toMatch(/crashed while running this request's batch.*restarted/);
    expect(c.headers.get('retry-after')).toBe('1');
    // Within the 1.5 s backoff: the process is up, the replica not ready.
    expect((await status(`${s.url}/healthz`)).status).toBe(200);
    expect(await status(`${s.url}/readyz`)).toEqual({
      status: 503,
      json: { status: 'restarting', restarts: 0 },
    });

    const q = await queued;
    expect(q.status).toBe(200);
    expect(q.json.configuration.source).toBe('budget');
    const ready = await status(`${s.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(s.model.restarts).toBe(1);
    // The new thread computes what the old one did.
    const after = await post(`${s.url}/v1/classify`, { inputs });
    expect(after.status).toBe(200);
    expect(after.json.results.map((r: { probabilities: number[] }) => r.probabilities)).toEqual(
      before.json.results.map((r: { probabilities: number[] }) => r.probabilities),
    );
    expect(await metric(s, 'lat_inference_crashes_total')).toBe(1);
    expect(await metric(s, 'lat_http_requests_total{route="/v1/classify",status="503"}')).toBe(1);
    expect(events.map((e) => e.event)).toEqual(
      expect.arrayContaining(['inference-crashed', 'inference-restarted']),
    );
  });

  it('answers 503 INFERENCE_UNAVAILABLE once it cannot be restarted (the model files are gone)', async () => {
    const { s, events, model } = await start([50, 50]);
    // The running thread has its session; a new one has no weights to load: both attempts fail.
    rmSync(join(model, 'model.safetensors'));
    s.model.crashNextBatch();
    expect((await post(`${s.url}/v1/classify`, { inputs: [text(4)] })).status).toBe(503);
    await expect.poll(() => s.model.state, { timeout: 20_000 }).toBe('failed');
    expect(events.filter((e) => e.event === 'inference-restart-failed')).toHaveLength(2);
    const r = await post(`${s.url}/v1/classify`, { inputs: [text(4)] });
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('INFERENCE_UNAVAILABLE');
    expect((await status(`${s.url}/readyz`)).json.status).toBe('failed');
  });
});
