import { describe, expect, it } from 'vitest';
import { linearSchedule } from './index.js';

describe('linearSchedule', () => {
  it('warms up linearly, peaks, then decays to zero at the last step', () => {
    const lrs = Array.from({ length: 10 }, (_, s) => linearSchedule(s, 1e-3, 2, 10));
    expect(lrs[0]).toBeCloseTo(5e-4);
    expect(lrs[1]).toBeCloseTo(1e-3);
    expect(lrs[2]).toBeCloseTo(1e-3);
    expect(lrs[9]).toBeCloseTo(1.25e-4);
    expect(linearSchedule(10, 1e-3, 2, 10)).toBe(0);
    for (let i = 3; i < 10; i++) expect(lrs[i]!).toBeLessThan(lrs[i - 1]!);
  });
});
