import { Rng } from '@lat/core';
import { describe, expect, it } from 'vitest';
import { AdamW, accumulate, clipGradNorm, noDecayBiasAndNorm } from './optim.js';

/** Float64 AdamW written straight from the torch.optim.AdamW algorithm, for comparison. */
function referenceAdamW(p: number[], grads: number[][], lr: number, wd: number): number[] {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const x = [...p];
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < x.length; i++) {
      x[i] = x[i]! * (1 - lr * wd);
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! ** 2;
      const mh = m[i]! / (1 - b1 ** t);
      const vh = v[i]! / (1 - b2 ** t);
      x[i] = x[i]! - (lr * mh) / (Math.sqrt(vh) + eps);
    }
  });
  return x;
}

describe('AdamW', () => {
  it('matches a float64 reference of torch.optim.AdamW over several steps', () => {
    const rng = new Rng(1);
    const p0 = Array.from({ length: 16 }, () => rng.next() - 0.5);
    const grads = Array.from({ length: 5 }, () => Array.from({ length: 16 }, () => rng.next() - 0.5));
    const opt = new AdamW({ lr: 1e-2, weightDecay: 0.1 });
    const params = { 'encoder.layer.0.output.dense.weight': Float32Array.from(p0) };
    for (const g of grads)
      opt.step(params, { 'encoder.layer.0.output.dense.weight': Float32Array.from(g) }, 1e-2);
    const ref = referenceAdamW(p0, grads, 1e-2, 0.1);
    params['encoder.layer.0.output.dense.weight'].forEach((v, i) => expect(v).toBeCloseTo(ref[i]!, 5));
  });

  it('does not decay biases and LayerNorm weights', () => {
    expect(noDecayBiasAndNorm('encoder.layer.0.attention.self.query.bias')).toBe(true);
    expect(noDecayBiasAndNorm('embeddings.LayerNorm.weight')).toBe(true);
    expect(noDecayBiasAndNorm('encoder.layer.0.attention.self.query.weight')).toBe(false);
    const opt = new AdamW({ lr: 0.1, weightDecay: 0.5 });
    const params = { 'x.bias': Float32Array.of(1), 'x.weight': Float32Array.of(1) };
    opt.step(params, { 'x.bias': Float32Array.of(0), 'x.weight': Float32Array.of(0) }, 0.1);
    expect(params['x.bias'][0]).toBe(1);
    expect(params['x.weight'][0]).toBeCloseTo(0.95);
  });
});

describe('AdamW.clipAndStep', () => {
  it('gives bitwise the numbers of clipGradNorm + step, leaving the gradients unscaled', () => {
    const rng = new Rng(7);
    const sizes: Record<string, number> = {
      'l0.weight': 3000,
      'l0.bias': 30,
      'LayerNorm.weight': 30,
      eta: 3,
    };
    const tensors = () => {
      const r = new Rng(1);
      return Object.fromEntries(
        Object.entries(sizes).map(([k, n]) => [k, Float32Array.from({ length: n }, () => r.next() - 0.5)]),
      );
    };
    const [reference, folded] = [tensors(), tensors()];
    // All but 'eta' are clipped, as the trainer leaves out an objective's own parameters.
    const clipped = (k: string) => k !== 'eta';
    const options = { lr: 1e-2, weightDecay: 0.1, lrScale: (k: string) => (k === 'eta' ? 10 : 1) };
    const [a, b] = [new AdamW(options), new AdamW(options)];
    for (let step = 0; step < 4; step++) {
      // Large gradients clip (steps 0, 2), small ones do not (1, 3).
      const size = step % 2 === 0 ? 1 : 1e-4;
      const grads = Object.fromEntries(
        Object.entries(sizes).map(([k, n]) => [
          k,
          Float32Array.from({ length: n }, () => (rng.next() - 0.5) * size),
        ]),
      );
      const copy = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, Float32Array.from(g)]));
      const norm = clipGradNorm(Object.fromEntries(Object.entries(grads).filter(([k]) => clipped(k))), 0.5);
      if (step % 2 === 0) expect(norm).toBeGreaterThan(0.5);
      a.step(reference, grads, 1e-2);
      const unscaled = Object.fromEntries(Object.entries(copy).map(([k, g]) => [k, Float32Array.from(g)]));
      expect(b.clipAndStep(folded, copy, 1e-2, 0.5, clipped)).toBe(norm);
      expect(copy).toEqual(unscaled);
      for (const k of Object.keys(sizes)) {
        expect(folded[k]).toEqual(reference[k]);
        expect(b.state.m[k]).toEqual(a.state.m[k]);
        expect(b.state.v[k]).toEqual(a.state.v[k]);
      }
    }
  });
});

describe('gradient helpers', () => {
  it('clips by global norm and accumulates with a scale', () => {
    const g = { a: Float32Array.of(3, 0), b: Float32Array.of(4) };
    expect(clipGradNorm(g, 1)).toBeCloseTo(5);
    expect(Array.from(g.a)[0]).toBeCloseTo(0.6, 5);
    expect(g.b[0]).toBeCloseTo(0.8, 5);
    const acc: Record<string, Float32Array> = {};
    const first = Float32Array.of(1, 2);
    accumulate(acc, { a: first }, 0.5);
    expect(acc['a']).toBe(first); // taken over, scaled in place: no copy
    expect(Array.from(first)).toEqual([0.5, 1]);
    accumulate(acc, { a: Float32Array.of(1, 2) }, 0.5);
    expect(Array.from(acc['a']!)).toEqual([1, 2]);
  });
});

describe('Rng', () => {
  it('is reproducible and resumes exactly from its saved state', () => {
    const a = new Rng(42);
    a.next();
    const saved = a.state();
    const next = [a.next(), a.next(), a.int(10)];
    const b = new Rng(saved);
    expect([b.next(), b.next(), b.int(10)]).toEqual(next);
    const perm = new Rng(3).permutation(50);
    expect([...perm].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(new Rng(3).permutation(50)).toEqual(perm);
  });
  it('is roughly uniform', () => {
    const r = new Rng(9);
    const bins = new Array(10).fill(0);
    for (let i = 0; i < 10000; i++) bins[r.int(10)]++;
    for (const b of bins) expect(Math.abs(b - 1000)).toBeLessThan(120);
  });
});
