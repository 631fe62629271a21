import { runLinearModel } from '@lat/core/testing';
import { describe, expect, it } from 'vitest';
import { createWebRuntime } from './index.js';

describe('onnxruntime-web (wasm) runtime, under Node', () => {
  it('runs a graph built in the test and returns the right numbers', async () => {
    const r = await runLinearModel(createWebRuntime());
    expect(r.inputNames).toEqual(['x']);
    expect(r.dims).toEqual([3, 3]);
    expect(r.got).toEqual(r.want);
  });
});
