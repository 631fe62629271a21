import { Rng } from '@lat/core';
import { describe, expect, it } from 'vitest';
import { alternating, turnOrder } from '../src/setup.js';

describe('turnOrder: the order configurations take turns in', () => {
  it('is the same for a seed and differs between seeds', () => {
    expect(turnOrder(new Rng(3), 5, 20)).toEqual(turnOrder(new Rng(3), 5, 20));
    expect(turnOrder(new Rng(3), 5, 20)).not.toEqual(turnOrder(new Rng(4), 5, 20));
  });

  it('runs every configuration once per step', () => {
    const order = turnOrder(new Rng(1), 6, 40);
    expect(order).toHaveLength(6 * 40);
    for (let s = 0; s < 40; s++)
      expect([...order.slice(6 * s, 6 * s + 6)].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('never runs a configuration twice in a row, nor right after the run before the round', () => {
    for (const [n, after] of [
      [2, 1],
      [3, 0],
      [7, 6],
    ] as const) {
      const rng = new Rng(n);
      for (let round = 0; round < 50; round++) {
        const order = turnOrder(rng, n, 10, after);
        expect(order[0]).not.toBe(after);
        order.forEach((j, i) => i > 0 && expect(j).not.toBe(order[i - 1]));
      }
    }
    // Two configurations can only alternate.
    const two = turnOrder(new Rng(9), 2, 30, 0);
    expect(two).toEqual(Array.from({ length: 60 }, (_, i) => (i + 1) % 2));
    expect(turnOrder(new Rng(9), 1, 4)).toEqual([0, 0, 0, 0]);
  });

  it('puts each configuration after each other one about equally often', () => {
    const n = 5;
    const steps = 4000;
    const order = turnOrder(new Rng(26), n, steps);
    const after = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (let i = 1; i < order.length; i++) after[order[i - 1]!]![order[i]!]!++;
    const expected = (n * steps - 1) / (n * (n - 1));
    for (let a = 0; a < n; a++)
      for (let b = 0; b < n; b++)
        if (a === b) expect(after[a]![b]).toBe(0);
        else expect(Math.abs(after[a]![b]! - expected) / expected).toBeLessThan(0.1);
  });
});

describe('alternating: runners timed in turn', () => {
  it("runs each runner `runs` times a round in turnOrder's order, after one warm-up each, and keeps each round's median and fastest", async () => {
    let now = 0;
    const calls: string[] = [];
    let slowB = 0;
    const runner = (name: string, ms: () => number) => async () => {
      calls.push(name);
      now += ms();
    };
    const ms = await alternating(
      {
        a: runner('a', () => 2),
        b: runner('b', () => [9, 5, 7][slowB++ % 3]!),
        c: runner('c', () => 1),
      },
      4,
      3,
      () => now,
      7,
    );
    expect(calls.slice(0, 3)).toEqual(['a', 'b', 'c']); // warm-up
    const timed = calls.slice(3);
    expect(timed).toHaveLength(4 * 3 * 3);
    timed.forEach((k, i) => expect(k).not.toBe(i === 0 ? 'c' : timed[i - 1]));
    const rng = new Rng(7);
    let last = 2;
    const want: string[] = [];
    for (let r = 0; r < 4; r++) {
      const order = turnOrder(rng, 3, 3, last);
      want.push(...order.map((j) => 'abc'[j]!));
      last = order.at(-1)!;
    }
    expect(timed).toEqual(want);
    expect(ms['a']).toEqual(new Array(4).fill({ median: 2, min: 2 }));
    expect(ms['c']).toEqual(new Array(4).fill({ median: 1, min: 1 }));
    // b's three runs in a round cycle through 9, 5, 7 (its warm-up took the first 9).
    expect(ms['b']!.map((t) => t.median)).toEqual([7, 7, 7, 7]);
    expect(ms['b']!.map((t) => t.min)).toEqual([5, 5, 5, 5]);
  });
});
