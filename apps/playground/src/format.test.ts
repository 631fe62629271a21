import { describe, expect, it } from 'vitest';
import { formatMacs } from './format.js';

describe('formatMacs', () => {
  it('scales to the largest unit', () => {
    expect(formatMacs(35_340_779_904)).toBe('35.3 GMACs');
    expect(formatMacs(1_500_000)).toBe('1.5 MMACs');
    expect(formatMacs(12)).toBe('12 MACs');
  });
});
