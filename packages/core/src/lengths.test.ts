import { describe, expect, it } from 'vitest';
import { sampleLengths, smallestLengths } from './lengths.js';
import { Rng } from './random.js';

describe('LengthDrop sampling', () => {
  it('gives the reference smallest configuration for 384 tokens', () => {
    expect(smallestLengths(384, 12)).toEqual([308, 247, 198, 159, 128, 103, 83, 67, 54, 44, 36, 29]);
  });
  it('samples non-increasing lengths within the ratio bound and never below min length', () => {
    const rng = new Rng(7);
    const random = () => rng.next();
    for (let t = 0; t < 200; t++) {
      const l = sampleLengths(20, 12, random);
      let prev = 20;
      for (const li of l) {
        expect(li).toBeLessThanOrEqual(prev);
        expect(li).toBeGreaterThanOrEqual(Math.max(Math.min(2, prev), Math.ceil(prev * 0.8)));
        prev = li;
      }
    }
  });
});

describe('LengthDrop sampling with LayerDrop', () => {
  it('draws lengths over the layers that run: a skipped layer keeps its input and the bound holds across it', () => {
    let seed = 11;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    for (let t = 0; t < 300; t++) {
      const layerOn = Array.from({ length: 12 }, () => random() >= 0.3);
      const l = sampleLengths(128, 12, random, undefined, layerOn);
      let prev = 128;
      l.forEach((li, i) => {
        if (!layerOn[i]) expect(li).toBe(prev); // nothing dropped where the layer does not run
        // Every layer, skipped or not, is within the bound of the layer before it.
        expect(li).toBeGreaterThanOrEqual(Math.max(Math.min(2, prev), Math.ceil(prev * 0.8)));
        expect(li).toBeLessThanOrEqual(prev);
        prev = li;
      });
    }
    expect(smallestLengths(384, 4, undefined, [true, false, true, false])).toEqual([308, 308, 247, 247]);
  });
});
