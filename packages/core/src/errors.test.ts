import { describe, expect, it } from 'vitest';
import { hostTensor, isLatError, LatError } from './index.js';

describe('LatError', () => {
  it('prefixes the place at fault and keeps a stable code', () => {
    const e = new LatError(
      'BAD_CONFIG',
      'hidden_size must be divisible by num_attention_heads',
      'config.json#hidden_size',
    );
    expect(e.message).toBe('config.json#hidden_size: hidden_size must be divisible by num_attention_heads');
    expect(isLatError(e, 'BAD_CONFIG')).toBe(true);
    expect(isLatError(e, 'BAD_FILE')).toBe(false);
    expect(isLatError(new Error('x'))).toBe(false);
  });
});

describe('hostTensor', () => {
  it('rejects data whose length does not match the dims', () => {
    expect(() => hostTensor('float32', [2, 3], new Float32Array(5))).toThrow(/5 elements.*need 6/);
    expect(hostTensor('int64', [2], new BigInt64Array(2)).dims).toEqual([2]);
  });
});
