import { describe, expect, it } from 'vitest';
import { accuracy, computeMetrics, f1, matthewsCorrelation, pearson, spearman } from './metrics.js';

// Expected values computed by hand (and matching scikit-learn / scipy definitions).
describe('GLUE metrics', () => {
  const pred = [1, 1, 0, 0, 1, 0];
  const gold = [1, 0, 0, 1, 1, 0];
  it('accuracy and positive-class F1', () => {
    expect(accuracy(pred, gold)).toBeCloseTo(4 / 6);
    // tp 2, fp 1, fn 1 → 2·2 / (4 + 1 + 1)
    expect(f1(pred, gold)).toBeCloseTo(4 / 6);
  });
  it('Matthews correlation', () => {
    // tp 2, tn 2, fp 1, fn 1 → (4 − 1) / sqrt(3·3·3·3) = 1/3
    expect(matthewsCorrelation(pred, gold)).toBeCloseTo(1 / 3);
    expect(matthewsCorrelation([1, 1], [1, 1])).toBe(0);
  });
  it('Pearson and Spearman with ties', () => {
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1);
    // ranks x: [1, 2.5, 2.5, 4], y: [1, 2, 3, 4] → pearson of ranks = 0.9486833
    expect(spearman([1, 2, 2, 5], [10, 20, 30, 40])).toBeCloseTo(0.9486833, 6);
  });
  it('rejects inputs of different lengths and combines metrics', () => {
    expect(() => accuracy([1], [1, 0])).toThrow(/differ in length/);
    expect(computeMetrics(['accuracy', 'mcc'], pred, gold)).toEqual({
      accuracy: accuracy(pred, gold),
      mcc: matthewsCorrelation(pred, gold),
    });
  });
});
