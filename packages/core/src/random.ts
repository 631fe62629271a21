/**
 * lat's one seeded PRNG (xoshiro128**): training order, LengthDrop sampling, dropout noise,
 * weight initialisation and the searches all draw from it. Its whole state is four uint32s, so
 * checkpoints can save and restore it exactly.
 */
import { LatError } from './errors.js';

/**
 * A seeded xoshiro128** generator. `new Rng(seed)` starts from a number (expanded by splitmix32);
 * `new Rng(rng.state())` resumes exactly where a saved generator stopped.
 */
export class Rng {
  private s: Uint32Array;

  /** From a numeric seed, or from four uint32s returned by {@link Rng.state}. */
  constructor(seed: number | readonly number[]) {
    if (typeof seed === 'number') {
      // splitmix32 expands one seed into the four state words.
      this.s = new Uint32Array(4);
      let x = seed >>> 0;
      for (let i = 0; i < 4; i++) {
        x = (x + 0x9e3779b9) >>> 0;
        let z = x;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        this.s[i] = (z ^ (z >>> 16)) >>> 0;
      }
      if (this.s.every((v) => v === 0)) this.s[0] = 1;
    } else {
      if (seed.length !== 4) throw new LatError('BAD_INPUT', 'an Rng state is four uint32 numbers', 'rng');
      this.s = Uint32Array.from(seed);
    }
  }

  /** Uniform uint32. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = (this.nextUint32() + 0.5) / 4294967296;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher–Yates shuffle of 0..n-1. */
  permutation(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    return p;
  }

  /** The four uint32 state words, to save in a checkpoint and pass back to the constructor. */
  state(): number[] {
    return Array.from(this.s);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
