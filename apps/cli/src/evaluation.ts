/** Shared by search, eval and bench: a dev set, an evaluator per configuration, MACs per configuration. */
import { encoderMacs } from '@lat/core';
import { type AnytimeModel, createAnytimeModel, keepCounts, type LengthSpec } from '@lat/layers';
import { type Encoded, encodeExamples, evaluate, readExamples, type TaskSpec } from '@lat/train';
import { type CliModel, runtimeFor } from './model.js';

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
  return createAnytimeModel(runtimeFor(threads), model.config, model.weights);
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

export async function scoreConfig(m: AnytimeModel, dev: DevSet, spec?: LengthSpec) {
  return evaluate(m, dev.data, dev.task.metrics, spec);
}
