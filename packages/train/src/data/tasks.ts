import { LatError } from '@lat/core';
import type { MetricName } from '../metrics.js';

/**
 * Where a task's texts and label live in a GLUE-format tsv. Columns are found by header name;
 * `headerless` tasks (CoLA) use fixed indices as the GLUE distribution ships them.
 */
export interface TaskSpec {
  name: string;
  textColumns: [string] | [string, string];
  labelColumn: string;
  /** Class names in label-id order; empty for regression. */
  labels: string[];
  metrics: MetricName[];
  /** Column names for files without a header row, in file order. */
  headerless?: string[];
}

/** The GLUE tasks by name: columns, labels and metrics. */
export const glueTasks: Record<string, TaskSpec> = {
  sst2: {
    name: 'sst2',
    textColumns: ['sentence'],
    labelColumn: 'label',
    labels: ['0', '1'],
    metrics: ['accuracy'],
  },
  cola: {
    name: 'cola',
    textColumns: ['sentence'],
    labelColumn: 'label',
    labels: ['0', '1'],
    metrics: ['mcc', 'accuracy'],
    headerless: ['source', 'label', 'original_label', 'sentence'],
  },
  mrpc: {
    name: 'mrpc',
    textColumns: ['#1 String', '#2 String'],
    labelColumn: 'Quality',
    labels: ['0', '1'],
    metrics: ['accuracy', 'f1'],
  },
  qqp: {
    name: 'qqp',
    textColumns: ['question1', 'question2'],
    labelColumn: 'is_duplicate',
    labels: ['0', '1'],
    metrics: ['accuracy', 'f1'],
  },
  qnli: {
    name: 'qnli',
    textColumns: ['question', 'sentence'],
    labelColumn: 'label',
    labels: ['entailment', 'not_entailment'],
    metrics: ['accuracy'],
  },
  rte: {
    name: 'rte',
    textColumns: ['sentence1', 'sentence2'],
    labelColumn: 'label',
    labels: ['entailment', 'not_entailment'],
    metrics: ['accuracy'],
  },
  mnli: {
    name: 'mnli',
    textColumns: ['sentence1', 'sentence2'],
    labelColumn: 'gold_label',
    labels: ['contradiction', 'entailment', 'neutral'],
    metrics: ['accuracy'],
  },
  stsb: {
    name: 'stsb',
    textColumns: ['sentence1', 'sentence2'],
    labelColumn: 'score',
    labels: [],
    metrics: ['pearson', 'spearman'],
  },
};

/** A task by name; LatError naming the known ones otherwise. */
export function getTask(name: string): TaskSpec {
  const key = name.toLowerCase().replace(/[-_]/g, '');
  const task = glueTasks[key === 'sts' ? 'stsb' : key];
  if (!task) {
    throw new LatError(
      'BAD_INPUT',
      `unknown task '${name}'; choose one of ${Object.keys(glueTasks).join(', ')}, or give --text-column/--label-column for your own data`,
      'task',
    );
  }
  return task;
}

/** Whether the task predicts a score (STS-B) rather than a label. */
export function isRegression(task: TaskSpec): boolean {
  return task.labels.length === 0;
}
