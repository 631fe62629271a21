import { Rng, smallestLengths } from '@lat/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBudget, pick } from './budget.js';
import { isValidConfig } from './config.js';
import { crossover, distinctParents, evolutionarySearch, mutate, type SearchState } from './evolution.js';
import { parseFrontierFile, toFrontierFile } from './frontier-file.js';
import { interpolate, latencyObjective } from './latency.js';
import { frontierArea, paretoFrontier } from './pareto.js';

/** Every valid configuration of a small space, for a brute-force Pareto set. */
function allConfigs(layers: number, max: number, min: number): number[][] {
  if (layers === 0) return [[]];
  const out: number[][] = [];
  for (let l = min; l <= max; l++) for (const rest of allConfigs(layers - 1, l, min)) out.push([l, ...rest]);
  return out;
}

const cost = (l: readonly number[]) => l.reduce((a, b, i) => a + b * (i + 2), 0);
const metric = (l: readonly number[]) =>
  Math.round(1000 * (Math.sqrt(l[0]!) + 0.5 * Math.log(l[1]!) + 0.1 * l[2]!)) / 1000;

describe('evolutionary search', () => {
  it('draws two distinct crossover parents, every ordered pair about equally often', () => {
    const rng = new Rng(3);
    const n = 4;
    const counts = new Map<string, number>();
    const draws = 12_000;
    for (let i = 0; i < draws; i++) {
      const [a, b] = distinctParents(() => rng.next(), n);
      expect(a).not.toBe(b);
      expect(Math.min(a, b)).toBeGreaterThanOrEqual(0);
      expect(Math.max(a, b)).toBeLessThan(n);
      counts.set(`${a},${b}`, (counts.get(`${a},${b}`) ?? 0) + 1);
    }
    expect(counts.size).toBe(n * (n - 1));
    // 1,000 expected per pair; a seeded draw, so this cannot flake.
    for (const c of counts.values()) expect(Math.abs(c - draws / (n * (n - 1)))).toBeLessThan(150);
  });

  it('finds the known Pareto set of a synthetic objective', async () => {
    const o = { numLayers: 3, maxLength: 8, minLength: 1, ratioBound: 0.6 };
    const smallest = smallestLengths(8, 3, { ratioBound: 0.6, minLength: 1 });
    const lo = cost(smallest);
    const hi = cost([8, 8, 8]);
    const truth = paretoFrontier(
      allConfigs(3, 8, 1)
        .map((lengths) => ({ lengths, cost: cost(lengths), metric: metric(lengths) }))
        .filter((p) => p.cost >= lo && p.cost <= hi),
    );
    const r = await evolutionarySearch({ ...o, iterations: 40, seed: 3, cost, evaluate: metric });
    expect(r.frontier.map((p) => [p.cost, p.metric])).toEqual(truth.map((p) => [p.cost, p.metric]));
    expect(r.area).toBeCloseTo(frontierArea(truth, lo, hi), 10);
  });

  it('resumed from any saved state (mid-round or between rounds), gives the uninterrupted result', async () => {
    const o = {
      numLayers: 4,
      maxLength: 10,
      minLength: 1,
      iterations: 4,
      mutations: 6,
      crossovers: 6,
      seed: 7,
    };
    const cost4 = (l: readonly number[]) => l.reduce((a, b, i) => a + b * (i + 2), 0);
    const metric4 = (l: readonly number[]) =>
      Math.round(1000 * Math.sqrt(l[0]! * l[1]! + l[2]! + 2 * l[3]!)) / 1000;
    const states: SearchState[] = [];
    const whole = await evolutionarySearch({
      ...o,
      cost: cost4,
      evaluate: metric4,
      checkpoint: { save: (s) => states.push(JSON.parse(JSON.stringify(s))) },
    });
    // One state per evaluation and per finished round: 1 + 4 rounds.
    expect(states.filter((s) => s.pending.length === 0).map((s) => s.rounds)).toEqual([1, 2, 3, 4, 5]);
    expect(states.length).toBe(whole.evaluated.length + 5);
    const picks = [0, 5, states.findIndex((s) => s.rounds === 2 && s.pending.length > 0), states.length - 1];
    for (const i of picks) {
      const state = states[i]!;
      let evaluations = 0;
      const resumed = await evolutionarySearch({
        ...o,
        cost: cost4,
        evaluate: (l) => {
          evaluations++;
          return metric4(l);
        },
        checkpoint: { resume: state, save: () => {} },
      });
      expect(resumed).toEqual(whole);
      // Nothing measured before the kill is measured again.
      expect(evaluations, `resumed from state ${i}`).toBe(
        whole.evaluated.length - state.evaluated.length - state.pending.length,
      );
    }
    await expect(
      evolutionarySearch({
        ...o,
        seed: 8,
        cost: cost4,
        evaluate: metric4,
        checkpoint: { resume: states[3]!, save: () => {} },
      }),
    ).rejects.toMatchObject({ code: 'RUN_MISMATCH' });
  });

  it('rejects a cost that falls as lengths grow instead of searching an empty range', async () => {
    const falling = (l: readonly number[]) => -cost(l);
    await expect(
      evolutionarySearch({ numLayers: 3, maxLength: 8, cost: falling, evaluate: metric }),
    ).rejects.toMatchObject({ code: 'BAD_CONFIG', message: /cost must not fall/ });
  });

  it('is reproducible from its seed, evaluates each configuration once, and keeps a non-dominated frontier', async () => {
    const seen = new Map<string, number>();
    let calls = 0;
    const evaluate = async (l: readonly number[]) => {
      calls++;
      const k = l.join(',');
      seen.set(k, (seen.get(k) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, Math.random() * 2)); // completion order varies
      return metric(l);
    };
    const o = { numLayers: 3, maxLength: 16, iterations: 8, seed: 9, concurrency: 4, cost, evaluate };
    const a = await evolutionarySearch(o);
    expect([...seen.values()].every((v) => v === 1)).toBe(true);
    expect(calls).toBe(a.evaluated.length);
    const b = await evolutionarySearch(o);
    expect(b.frontier).toEqual(a.frontier);
    for (const p of a.frontier) {
      expect(
        a.evaluated.some(
          (q) => q.cost <= p.cost && q.metric >= p.metric && (q.cost < p.cost || q.metric > p.metric),
        ),
      ).toBe(false);
    }
    const progress: number[] = [];
    await evolutionarySearch({ ...o, iterations: 3, onProgress: (p) => progress.push(p.iteration) });
    expect(progress).toEqual([1, 2, 3]);
  });

  it('adds exactly 30 new valid mutants and 30 new valid crossovers each iteration, from an initial population spaced in cost', async () => {
    const progress: { evaluated: number; added: { mutants: number; crossovers: number } }[] = [];
    const evaluated: number[][] = [];
    const r = await evolutionarySearch({
      numLayers: 6,
      maxLength: 64,
      iterations: 5,
      seed: 4,
      cost,
      evaluate: (l) => {
        evaluated.push([...l]);
        return metric(l);
      },
      onProgress: (p) => progress.push(p),
    });
    const initial = 22;
    expect(progress.map((p) => p.evaluated)).toEqual([1, 2, 3, 4, 5].map((i) => initial + 60 * i));
    expect(progress.every((p) => p.added.mutants === 30 && p.added.crossovers === 30)).toBe(true);
    expect(new Set(evaluated.map((l) => l.join())).size).toBe(evaluated.length);
    expect(evaluated.every((l) => l.at(-1)! >= 2)).toBe(true); // the reference's last-layer minimum
    // The 20 initial configurations between smallest and full are evenly spaced in cost.
    const costs = evaluated.slice(2, initial).map(cost);
    const step = (r.upperCost - r.lowerCost) / 21;
    costs.forEach((c, k) => expect(Math.abs(c - (r.lowerCost + step * (k + 1)))).toBeLessThan(step));
  });

  it('mutation and crossover keep configurations valid (property)', () => {
    const config = fc
      .integer({ min: 2, max: 64 })
      .chain((max) =>
        fc
          .array(fc.integer({ min: 1, max }), { minLength: 1, maxLength: 12 })
          .map((xs) => ({ max, lengths: xs.sort((a, b) => b - a) })),
      );
    fc.assert(
      fc.property(config, config, fc.integer(), (a, b, seed) => {
        const rng = new Rng(seed);
        const random = () => rng.next();
        const m = mutate(a.lengths, random, 0.5, a.max, 1);
        expect(isValidConfig(m, a.max)).toBe(true);
        if (a.lengths.length === b.lengths.length) {
          const c = crossover(a.lengths, b.lengths);
          expect(isValidConfig(c, Math.max(a.max, b.max))).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('frontier files and budgets', () => {
  const file = async () =>
    toFrontierFile(
      await evolutionarySearch({
        numLayers: 3,
        maxLength: 10,
        ratioBound: 0.8,
        iterations: 3,
        seed: 1,
        cost,
        evaluate: metric,
      }),
      {
        model: { name: 'tiny', fingerprint: 'abc', numLayers: 3 },
        dataset: 'synthetic',
        metricName: 'accuracy',
        lengthForm: 'ratio',
        costUnit: 'MACs',
        latencyMs: (l) => l.reduce((a, b) => a + b, 0) / 10,
      },
    );

  it('round-trips through JSON and picks by cost ratio, latency and metric floor', async () => {
    const f = parseFrontierFile(JSON.parse(JSON.stringify(await file())));
    expect(f.points.at(-1)!.lengths).toEqual([1, 1, 1]);
    const half = pick(f, parseBudget('50%'));
    expect(half.costRatio).toBeLessThanOrEqual(0.5);
    expect(f.points.filter((p) => p.costRatio <= 0.5).every((p) => p.metric <= half.metric)).toBe(true);
    expect(pick(f, parseBudget('2ms')).latencyMs).toBeLessThanOrEqual(2);
    const floor = pick(f, parseBudget('acc>=3'));
    expect(floor.metric).toBeGreaterThanOrEqual(3);
    expect(() => pick(f, { costRatio: 0.01 })).toThrow(
      /nothing fits this budget; the smallest configuration needs/,
    );
    expect(() => pick(f, { minMetric: 99 })).toThrow(/no configuration reaches 99/);
  });

  it('rejects malformed budgets and incompatible or malformed frontier files', async () => {
    for (const bad of ['fast', '1.5', '-2ms', '0']) expect(() => parseBudget(bad)).toThrow(/budget/);
    const f = await file();
    expect(() => parseFrontierFile(f, 'f.json', { numLayers: 12 })).toThrow(
      /f.json#model.numLayers: the frontier was made for a 3-layer model/,
    );
    expect(() => parseFrontierFile(f, 'f.json', { fingerprint: 'zzz' })).toThrow(/made for other weights/);
    const broken = JSON.parse(JSON.stringify(f));
    broken.points[1].lengths = [1, 2];
    expect(() => parseFrontierFile(broken, 'f.json')).toThrow(
      /f.json#points\[1\].lengths: has 2 values but model.numLayers is 3/,
    );
    expect(() => parseFrontierFile({ kind: 'x' })).toThrow(/#kind/);
    expect(() => parseFrontierFile(null)).toThrow(/not a JSON object/);
  });

  it('interpolates a latency table', () => {
    expect(interpolate([10, 20], [1, 3], 15)).toBe(2);
    expect(interpolate([10, 20], [1, 3], 5)).toBe(0.5);
    expect(interpolate([10, 20], [1, 3], 30)).toBe(5);
    const obj = latencyObjective({
      lengths: [10, 20],
      perLayerMs: [
        [1, 2],
        [1, 2],
      ],
      fixedMs: 0.5,
    });
    expect(obj([20, 10])).toBe(3.5);
  });
});
