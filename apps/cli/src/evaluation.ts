/** Shared by search and eval: a dev set, a score per configuration, MACs per configuration. */
import { keepCounts, LatError, type LengthSpec } from '@lat/core';
import { poolingCounts, poolingMacs } from '@lat/layers';
import { macsAt, type QuestionAnsweringPipeline, type TextClassificationPipeline } from '@lat/pipeline';
import { spanItems, squadScores } from '@lat/qa';
import {
  argmax,
  computeMetrics,
  type Encoded,
  encodeExamples,
  getTask,
  readExamples,
  type TaskSpec,
} from '@lat/train';
import { specOptions } from './lengths.js';
import type { ModelView } from './model.js';
import { loadSquad } from './squad.js';

/** Average MACs per example of the dev set at a configuration (full length when undefined). */
export function averageMacs(model: ModelView, data: readonly Encoded[], spec?: LengthSpec): number {
  return data.reduce((sum, e) => sum + macsAt(model.config, e.ids.length, spec), 0) / data.length;
}

/**
 * MACs of one input padded to `padded` tokens at a configuration, as the LAT paper counts (the
 * reference profiles a max_seq_length input); full length when undefined.
 */
export function paddedMacs(model: ModelView, padded: number, spec?: LengthSpec): number {
  const mask = new BigInt64Array(padded).fill(1n);
  // A pooled model's lengths (when given) are its rows per layer, schedule included.
  const counts =
    spec?.form === 'absolute'
      ? [...spec.lengths]
      : model.config.pooling
        ? poolingCounts(model.config, padded)
        : Array.from(keepCounts(spec, mask, 1, model.config.numLayers), Number);
  return poolingMacs(model.config, padded, counts, { qaHead: model.span });
}

/** What eval and search need from a dev set: its examples (for MACs) and a score per configuration. */
export interface DevScorer {
  task: string;
  metricNames: string[];
  items: Encoded[];
  score(spec?: LengthSpec): Promise<Record<string, number>>;
}

/** A GLUE-style dev file for sequence models, or a SQuAD file (official EM/F1) for span models. */
export function devScorer(
  model: ModelView,
  p: TextClassificationPipeline | QuestionAnsweringPipeline,
  path: string,
  task?: string,
): DevScorer {
  if (p.task === 'question-answering') {
    const set = loadSquad(model, path, model.info?.maxLength ?? 384, false);
    return {
      task: 'squad',
      metricNames: ['f1', 'exact_match'],
      items: spanItems(set),
      score: async (spec) => {
        const s = await squadScores(p.runWindows, set, specOptions(spec), {
          ...(model.info?.nullThreshold !== undefined ? { nullThreshold: model.info.nullThreshold } : {}),
        });
        return { f1: s['f1']!, exact_match: s['exact_match'] ?? s['exact']! };
      },
    };
  }
  const spec = resolveTask(model, task);
  const examples = readExamples(path, spec).examples;
  const items = encodeExamples(examples, model.tokenizer, model.info?.maxLength ?? 128);
  const regression = model.config.numLabels === 1;
  return {
    task: spec.name,
    metricNames: [...spec.metrics],
    items,
    score: async (lengths) => {
      const results = await p.classifyTokens(items, specOptions(lengths));
      const predictions = results.map((r) => (regression ? r.score : argmax(r.logits)));
      return computeMetrics(
        spec.metrics,
        predictions,
        items.map((e) => e.label),
      );
    },
  };
}

export function resolveTask(model: ModelView, task?: string): TaskSpec {
  const name = task ?? model.info?.task;
  if (name === 'squad') {
    throw new LatError(
      'BAD_INPUT',
      'squad is a span task: use a SQuAD .json file (this command path is for GLUE-style data)',
      '--task',
    );
  }
  if (!name) {
    throw new LatError(
      'BAD_INPUT',
      `the model does not record its task (a bundle, or not trained by lat train), so say which task it is (--task sst2, …)`,
      '--task',
    );
  }
  return getTask(name);
}
