import { describe, expect, it } from 'vitest';
import { isValidConfig } from './index.js';

describe('isValidConfig', () => {
  it('accepts non-increasing integer lengths within the input and rejects the rest', () => {
    expect(isValidConfig([128, 100, 100, 2], 128)).toBe(true);
    expect(isValidConfig([129], 128)).toBe(false);
    expect(isValidConfig([100, 101], 128)).toBe(false);
    expect(isValidConfig([100, 0], 128)).toBe(false);
    expect(isValidConfig([100, 50.5], 128)).toBe(false);
    expect(isValidConfig([Number.NaN], 128)).toBe(false);
  });
});
