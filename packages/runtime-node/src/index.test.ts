import { runLinearModel } from '@lat/core/testing';
import { describe, expect, it } from 'vitest';
import { createNodeRuntime } from './index.js';

describe('onnxruntime-node runtime', () => {
  it('runs a graph built in the test and returns the right numbers', async () => {
    const r = await runLinearModel(createNodeRuntime());
    expect(r.inputNames).toEqual(['x']);
    expect(r.dims).toEqual([3, 3]);
    expect(r.got).toEqual(r.want);
  });
});
