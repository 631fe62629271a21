import { hostTensor } from '@lat/core';
import { linearModel, linearReference } from '@lat/core/testing';
import { describe, expect, it } from 'vitest';
import { createWebRuntime } from './index.js';

describe('onnxruntime-web (wasm) runtime, under Node', () => {
  it('runs a graph built in the test and returns the right numbers', async () => {
    const w = [
      [1, 2, 3],
      [4, 5, 6],
    ];
    const b = [0.5, -1, 2];
    const session = await createWebRuntime().createSession(linearModel(w, b), { threads: 1 });
    expect(session.inputNames).toEqual(['x']);
    const x = [
      [1, 1],
      [2, -1],
      [0, 3],
    ];
    const out = await session.run({ x: hostTensor('float32', [3, 2], Float32Array.from(x.flat())) });
    expect(out['y']!.dims).toEqual([3, 3]);
    expect(Array.from(out['y']!.data as Float32Array)).toEqual(linearReference(x, w, b));
    await session.release();
  });
});
