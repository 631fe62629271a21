import { LatError } from '@lat/core';
/** Evaluation metrics of the GLUE tasks. Inputs are parallel arrays of predictions and gold values. */

export function accuracy(pred: readonly number[], gold: readonly number[]): number {
  checkLengths(pred, gold);
  let hit = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === gold[i]) hit++;
  return pred.length ? hit / pred.length : 0;
}

/** Binary F1 of the positive class (label 1), as GLUE reports for MRPC and QQP. */
export function f1(pred: readonly number[], gold: readonly number[], positive = 1): number {
  checkLengths(pred, gold);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < pred.length; i++) {
    if (pred[i] === positive && gold[i] === positive) tp++;
    else if (pred[i] === positive) fp++;
    else if (gold[i] === positive) fn++;
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/** Matthews correlation coefficient for binary labels (CoLA). 0 when undefined, as scikit-learn does. */
export function matthewsCorrelation(pred: readonly number[], gold: readonly number[]): number {
  checkLengths(pred, gold);
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i] === 1;
    const g = gold[i] === 1;
    if (p && g) tp++;
    else if (!p && !g) tn++;
    else if (p) fp++;
    else fn++;
  }
  const denom = Math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
  return denom === 0 ? 0 : (tp * tn - fp * fn) / denom;
}

/** Pearson correlation of two equally long series. */
export function pearson(x: readonly number[], y: readonly number[]): number {
  checkLengths(x, y);
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

/** Spearman's rank correlation: Pearson over ranks, ties given their average rank. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  checkLengths(x, y);
  return pearson(ranks(x), ranks(y));
}

function ranks(v: readonly number[]): number[] {
  const order = v.map((value, index) => ({ value, index })).sort((a, b) => a.value - b.value);
  const out = new Array<number>(v.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]!.value === order[i]!.value) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k]!.index] = rank;
    i = j + 1;
  }
  return out;
}

function checkLengths(a: readonly number[], b: readonly number[]) {
  if (a.length !== b.length)
    throw new LatError(
      'BAD_INPUT',
      `metric inputs differ in length: ${a.length} predictions vs ${b.length} labels`,
      'metrics',
    );
}

/** The metrics `computeMetrics` knows. */
export type MetricName = 'accuracy' | 'f1' | 'mcc' | 'pearson' | 'spearman';

/** Every metric a task reports, from predicted labels (classification) or scores (regression). */
export function computeMetrics(
  names: readonly MetricName[],
  pred: readonly number[],
  gold: readonly number[],
): Record<string, number> {
  const fns: Record<MetricName, (p: readonly number[], g: readonly number[]) => number> = {
    accuracy,
    f1,
    mcc: matthewsCorrelation,
    pearson,
    spearman,
  };
  return Object.fromEntries(names.map((n) => [n, fns[n](pred, gold)]));
}

/**
 * The single number a task is selected and searched by, as the LAT reference does: Matthews
 * correlation for CoLA, the mean of accuracy and F1 for MRPC/QQP, the mean of Pearson and Spearman
 * for STS-B, F1 for SQuAD (`['f1', 'exact_match']`), accuracy otherwise. Chosen from the metrics
 * the task reports.
 */
export function selectionMetric(reported: readonly string[]): {
  name: string;
  of(metrics: Record<string, number>): number;
} {
  const has = (n: string) => reported.includes(n);
  const mean = (name: string, a: string, b: string) => ({
    name,
    of: (m: Record<string, number>) => (m[a]! + m[b]!) / 2,
  });
  const one = (name: string) => ({ name, of: (m: Record<string, number>) => m[name]! });
  if (has('mcc')) return one('mcc');
  if (has('accuracy') && has('f1')) return mean('acc_and_f1', 'accuracy', 'f1');
  if (has('pearson') && has('spearman')) return mean('pearson_and_spearman', 'pearson', 'spearman');
  if (has('accuracy')) return one('accuracy');
  if (has('f1')) return one('f1');
  return one(reported[0]!);
}
