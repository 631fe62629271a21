/**
 * @lat/pipeline for browsers (and any bundle without Node): a string source is the URL of a
 * bundle directory (lat.json + model.onnx), the default runtime is onnxruntime-web.
 */
import type { Runtime } from '@lat/core';
import { bundleModel, fetchBundle } from './bundle.js';
import {
  createPipeline,
  type Host,
  type ModelSource,
  type PipelineByTask,
  type PipelineOptions,
  type PipelineTask,
} from './pipeline.js';

export * from './exports.js';

const web: Host = {
  read: async (url) => bundleModel(await fetchBundle(url)),
  async defaultRuntime(): Promise<Runtime> {
    return (await import('@lat/runtime-web')).createWebRuntime();
  },
};

/**
 * Loads a model for a task: `pipeline('text-classification', bundleUrl)` or
 * `pipeline('question-answering', { manifest, model })`, then call it with `{ budget }`,
 * `{ latencyMs }`, `{ ratios }` or `{ lengths }`.
 */
export function pipeline<T extends PipelineTask>(
  task: T,
  source: ModelSource,
  options: PipelineOptions = {},
): Promise<PipelineByTask[T]> {
  return createPipeline(web, task, source, options);
}
