/**
 * @lat/pipeline for browsers (and any bundle without Node): a string source is the URL of a
 * bundle directory (lat.json + model.onnx), the default runtime is onnxruntime-web.
 */
import type { Runtime } from '@lat/core';
import { bundleModel, fetchBundle } from './bundle.js';
import { type Host, type Pipeline, pipelineOn } from './pipeline.js';

export * from './exports.js';

const web: Host = {
  read: async (url) => bundleModel(await fetchBundle(url)),
  async defaultRuntime(): Promise<Runtime> {
    return (await import('@lat/runtime-web')).createWebRuntime();
  },
};

/** Loads a model for a task; see {@link Pipeline}. */
export const pipeline: Pipeline = pipelineOn(web);
