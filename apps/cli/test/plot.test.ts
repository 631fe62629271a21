import type { FrontierFile } from '@lat/search';
import { describe, expect, it } from 'vitest';
import { frontierAscii } from '../src/plot.js';

const frontier = (points: [number, number][]) =>
  ({
    metric: { name: 'accuracy' },
    costUnit: 'MACs',
    points: points.map(([costRatio, metric]) => ({ costRatio, metric, lengths: [], cost: costRatio })),
  }) as unknown as FrontierFile;

describe('the frontier as an ASCII plot', () => {
  it('puts each point on the grid over the frontier’s own ranges, with labelled axes', () => {
    const text = frontierAscii(
      frontier([
        [0.236, 0.83],
        [0.3, 0.9],
        [0.375, 0.99],
      ]),
      29,
      5,
    );
    expect(text.split('\n')).toEqual([
      'accuracy vs cost (MACs, fraction of the full model)',
      '  0.990 |                        *    ',
      '        |                             ',
      '        |              *              ',
      '        |                             ',
      '  0.830 |     *                       ',
      '        +-----------------------------',
      '        20%          30%           40%',
    ]);
  });

  it('copes with a single point', () => {
    expect(frontierAscii(frontier([[1, 0.5]]), 10, 3)).toContain('*');
  });
});
