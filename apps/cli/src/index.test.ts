import { describe, expect, it } from 'vitest';
import { createProgram, packages } from './index.js';

describe('lat demo', () => {
  it('lists every public package', async () => {
    const lines: string[] = [];
    await createProgram((l) => lines.push(l)).parseAsync(['node', 'lat', 'demo']);
    expect(lines.slice(1).map((l) => l.trim())).toEqual([...packages]);
  });
});
