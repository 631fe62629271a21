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

describe('the metric each task is selected and searched by (as the LAT reference)', () => {
  it('picks MCC, mean(acc, F1), mean(Pearson, Spearman), F1 or accuracy from the task', async () => {
    const { selectionMetric } = await import('./metrics.js');
    const { getTask } = await import('./data/tasks.js');
    const m = { accuracy: 0.8, f1: 0.6, mcc: 0.3, pearson: 0.9, spearman: 0.7, exact_match: 50 };
    const pick = (task: string) => {
      const s = selectionMetric(getTask(task).metrics);
      return [s.name, s.of(m)];
    };
    expect(pick('cola')).toEqual(['mcc', 0.3]);
    expect(pick('mrpc')).toEqual(['acc_and_f1', 0.7]);
    expect(pick('qqp')).toEqual(['acc_and_f1', 0.7]);
    expect(pick('stsb')).toEqual(['pearson_and_spearman', 0.8]);
    for (const t of ['sst2', 'mnli', 'qnli', 'rte']) expect(pick(t)).toEqual(['accuracy', 0.8]);
    const squad = selectionMetric(['f1', 'exact_match']);
    expect([squad.name, squad.of({ f1: 88.5, exact_match: 81 })]).toEqual(['f1', 88.5]);
  });
});
