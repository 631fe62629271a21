/**
 * The AdapLeR φ-sweep frontier: points sorted by cost with the Pareto ones marked, a JSON
 * round-trip through the validator, budgets picking the φ model, and damaged files refused in
 * one line naming the field; the LAT loader refuses it with the way to use it.
 */
import { describe, expect, it } from 'vitest';
import {
  type AdaplerFrontierPoint,
  isAdaplerFrontier,
  parseAdaplerFrontierFile,
  toAdaplerFrontierFile,
} from './adapler-frontier.js';
import { parseBudget, pick } from './budget.js';
import { parseFrontierFile } from './frontier-file.js';

const point = (phi: number, costRatio: number, metric: number): Omit<AdaplerFrontierPoint, 'pareto'> => ({
  phi,
  model: `phi-${phi}`,
  metric,
  metrics: { accuracy: metric },
  cost: costRatio * 1e6,
  costRatio,
  macsSpeedup: 1 / costRatio,
  meanKept: [20 * costRatio, 10 * costRatio],
  minKept: [2, 1],
  maxKept: [30, 20],
});

const sweep = () =>
  toAdaplerFrontierFile({
    model: { name: 'bert-tiny', fingerprint: 'abc', numLayers: 2 },
    dataset: 'dev.tsv',
    metric: { name: 'accuracy', higherIsBetter: true },
    fullCost: 1e6,
    meanInputLength: 25,
    points: [point(0.01, 0.4, 0.76), point(0.0005, 0.9, 0.79), point(0.002, 0.5, 0.75)],
  });

describe('AdapLeR φ-sweep frontier file', () => {
  it('sorts the points by cost and marks the Pareto ones', () => {
    const f = sweep();
    expect(f).toMatchObject({ schemaVersion: 1, kind: 'lat-frontier', method: 'adapler', costUnit: 'MACs' });
    expect(f.points.map((p) => [p.phi, p.pareto])).toEqual([
      [0.01, true],
      [0.002, false], // dearer than φ 0.01 and less accurate
      [0.0005, true],
    ]);
  });

  it('round-trips through JSON and the validator; budgets pick the φ model', () => {
    const f = parseAdaplerFrontierFile(JSON.parse(JSON.stringify(sweep())), 'sweep/frontier.json');
    expect(isAdaplerFrontier(f)).toBe(true);
    expect(pick(f, parseBudget('0.5')).phi).toBe(0.01); // 0.4 and 0.5 fit, 0.01 scores higher
    expect(pick(f, parseBudget('95%')).phi).toBe(0.0005);
    expect(pick(f, parseBudget('acc>=0.77')).phi).toBe(0.0005);
    expect(() => pick(f, parseBudget('0.3'))).toThrow(/smallest configuration needs 40\.0% of the full cost/);
  });

  it('refuses damaged files in one line naming the field', () => {
    // biome-ignore lint/suspicious/noExplicitAny: each case breaks a different field of the file
    type Loose = Record<string, any>;
    const bad = (edit: (f: Loose) => void) => {
      const f = JSON.parse(JSON.stringify(sweep()));
      edit(f);
      return () => parseAdaplerFrontierFile(f, 'sweep/frontier.json');
    };
    const cases: [(f: Loose) => void, RegExp][] = [
      [
        (f) => (f.schemaVersion = 2),
        /sweep\/frontier\.json#schemaVersion: this version reads schema 1, got 2/,
      ],
      [(f) => (f.method = 'lat'), /#method: expected "adapler"/],
      [(f) => (f.points = []), /#points: must be a non-empty array/],
      [(f) => (f.points[1].phi = f.points[0].phi), /#points\[1\]\.phi: φ 0\.01 appears twice/],
      [(f) => (f.points[0].model = '../elsewhere'), /#points\[0\]\.model: must be a model directory inside/],
      [(f) => (f.points[2].model = '/abs'), /#points\[2\]\.model/],
      [(f) => (f.points[0].costRatio = 0), /#points\[0\]\.costRatio: must be a number > 0/],
      [(f) => f.points[1].meanKept.pop(), /#points\[1\]\.meanKept: must hold one count ≥ 0 per layer \(2\)/],
      [(f) => (f.fullCost = 'x'), /#fullCost: must be a number > 0/],
      [(f) => delete f.model, /#model\.numLayers: must be a whole number ≥ 1/],
    ];
    for (const [edit, message] of cases) {
      expect(bad(edit)).toThrow(message);
      try {
        bad(edit)();
      } catch (e) {
        expect(String((e as Error).message).split('\n')).toHaveLength(1);
      }
    }
    expect(() => parseAdaplerFrontierFile([], 'f.json')).toThrow(/f\.json#: not a JSON object/);
  });

  it('is refused by the LAT frontier loader with the way to use it', () => {
    expect(() => parseFrontierFile(sweep(), 'sweep/frontier.json')).toThrow(
      /sweep\/frontier\.json#method: this is an AdapLeR φ sweep, one model per point: give its directory as --model \(with --budget\)/,
    );
  });
});
