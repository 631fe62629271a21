/**
 * lat serve with an AdapLeR model: it runs at each input's own lengths (the controller has
 * nothing to choose), says so in /readyz and in each response, returns the pipeline's per-input
 * kept counts and MACs, and refuses a request's budget.
 */
import { pipeline } from '@lat/pipeline';
import { createNodeRuntime } from '@lat/runtime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LatServer, serveOptions, startServer } from '../src/index.js';
import { getJson, post, text, writeTinyAdaplerModel } from './tiny-model.js';

let server: LatServer;
let dir: string;

beforeAll(async () => {
  dir = writeTinyAdaplerModel();
  server = await startServer(serveOptions({ model: dir, port: 0, threads: 1, sloP99Ms: 10_000 }));
}, 60_000);
afterAll(() => server?.close());

describe('lat serve with an AdapLeR model', () => {
  it('serves each input at its own lengths and says so in /readyz and the response', async () => {
    const ready = await getJson(`${server.url}/readyz`);
    expect(ready).toMatchObject({ status: 'ready', configurations: 'adapler' });
    expect(ready['note']).toMatch(/AdapLeR model: each input keeps its own tokens per layer/);
    expect(ready['candidates'].map((c: { name: string }) => c.name)).toEqual(['adapler']);

    const texts = [text(5), text(14, 1), text(9, 3)];
    const r = await post(`${server.url}/v1/classify`, { inputs: texts });
    expect(r.status).toBe(200);
    const direct = await pipeline('text-classification', dir, { runtime: createNodeRuntime({ threads: 1 }) });
    const expected = await direct(texts);
    await direct.dispose();
    const macs = expected.reduce((a, e) => a + e.macs, 0);
    const fullMacs = expected.reduce((a, e) => a + e.fullMacs, 0);
    expect(r.json.configuration).toMatchObject({
      name: 'adapler',
      source: 'adapler-per-input',
      lengths: null,
    });
    expect(r.json.configuration.costRatio).toBeCloseTo(macs / fullMacs, 9);
    expect(macs).toBeLessThan(fullMacs);
    // The inputs keep different counts, and the server returns each one's own.
    expect(new Set(expected.map((e) => e.lengths.join())).size).toBeGreaterThan(1);
    r.json.results.forEach((got: { label: string; kept: number[]; macs: number }, i: number) => {
      expect(got.label).toBe(expected[i]!.label);
      expect(got.kept).toEqual(expected[i]!.lengths);
      expect(got.macs).toBe(expected[i]!.macs);
    });

    const budget = await post(`${server.url}/v1/classify`, { inputs: ['fast'], budget: 0.5 });
    expect(budget.status).toBe(400);
    expect(budget.json.error).toMatchObject({ code: 'UNSUPPORTED', field: 'budget' });
    expect(budget.json.error.message).toMatch(/picks each input's lengths itself/);
  }, 60_000);
});
