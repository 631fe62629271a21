/** Shared by search, eval and bench: a dev set, an evaluator per configuration, MACs per configuration. */
import { encoderMacs } from '@lat/core';
import { type AnytimeModel, createAnytimeModel, keepCounts, type LengthSpec } from '@lat/layers';
import { type Encoded, encodeExamples, evaluate, readExamples, type TaskSpec } from '@lat/train';
import { type CliModel, resolveTask, runtimeFor } from './model.js';
import { loadSquad, spanItems, squadScores } from './squad.js';

export interface DevSet {
  data: Encoded[];
  task: TaskSpec;
}

export function loadDev(model: CliModel, task: TaskSpec, path: string, maxLength?: number): DevSet {
  const r = readExamples(path, task);
  return {
    data: encodeExamples(r.examples, model.tokenizer, maxLength ?? model.info?.maxLength ?? 128),
    task,
  };
}

export async function openModel(model: CliModel, threads?: number): Promise<AnytimeModel> {
  return createAnytimeModel(runtimeFor(threads), model.config, model.weights, {
    head: model.span ? 'span' : 'classification',
  });
}

/** Average MACs per example of the dev set at a configuration (full length when undefined). */
export function averageMacs(model: CliModel, data: readonly Encoded[], spec?: LengthSpec): number {
  let total = 0;
  for (const e of data) {
    const n = e.ids.length;
    const mask = new BigInt64Array(n).fill(1n);
    const counts =
      spec?.form === 'absolute'
        ? spec.lengths.map((l) => Math.min(l, n))
        : Array.from(keepCounts(spec, mask, 1, model.config.numLayers), Number);
    total += encoderMacs(model.config, n, counts);
  }
  return total / data.length;
}

/**
 * MACs of one input padded to `padded` tokens at a configuration, as the LAT paper counts (the
 * reference profiles a max_seq_length input); full length when undefined.
 */
export function paddedMacs(model: CliModel, padded: number, spec?: LengthSpec): number {
  const mask = new BigInt64Array(padded).fill(1n);
  const counts =
    spec?.form === 'absolute'
      ? [...spec.lengths]
      : Array.from(keepCounts(spec, mask, 1, model.config.numLayers), Number);
  return encoderMacs(model.config, padded, counts, { qaHead: model.span });
}

export async function scoreConfig(m: AnytimeModel, dev: DevSet, spec?: LengthSpec) {
  return evaluate(m, dev.data, dev.task.metrics, spec);
}

/** What eval and search need from a dev set: its examples (for MACs) and a score per configuration. */
export interface DevScorer {
  task: string;
  metricNames: string[];
  items: Encoded[];
  score(spec?: LengthSpec): Promise<Record<string, number>>;
}

/** A GLUE-style dev file for sequence models, or a SQuAD file (official EM/F1) for span models. */
export function devScorer(model: CliModel, m: AnytimeModel, path: string, task?: string): DevScorer {
  if (model.span) {
    const set = loadSquad(model, path, model.info?.maxLength ?? 384, false);
    return {
      task: 'squad',
      metricNames: ['f1', 'exact_match'],
      items: spanItems(set),
      score: async (spec) => {
        const s = await squadScores(m, set, spec, model.info?.nullThreshold);
        return { f1: s['f1']!, exact_match: s['exact_match'] ?? s['exact']! };
      },
    };
  }
  const dev = loadDev(model, resolveTask(model, task), path);
  return {
    task: dev.task.name,
    metricNames: [...dev.task.metrics],
    items: dev.data,
    score: async (spec) => (await scoreConfig(m, dev, spec)).metrics,
  };
}
