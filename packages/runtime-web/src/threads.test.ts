import { runLinearModel } from '@lat/core/testing';
import { describe, expect, it } from 'vitest';
import { createWebRuntime, wasmThreads } from './index.js';

// Its own file: ORT fixes the wasm thread count for the module at the first session.
describe('onnxruntime-web (wasm) threads, under Node', () => {
  it('runs two wasm threads (worker threads) when asked, with the right numbers', async () => {
    const r = await runLinearModel(createWebRuntime({ threads: 2 }));
    expect(wasmThreads()).toBe(2);
    expect(r.got).toEqual(r.want);
  });
});
