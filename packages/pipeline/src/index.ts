/**
 * @lat/pipeline for Node: a string source is a directory — a Hugging Face model directory or a
 * bundle directory (lat.json + model.onnx) — and the default runtime is onnxruntime-node.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bundleManifestFile, LatError, type Runtime } from '@lat/core';
import { bundleModel } from './bundle.js';
import { modelDirFiles, readBundleDir, readFrontierJson, readModelDir } from './node.js';
import { type Host, type Pipeline, pipelineOn } from './pipeline.js';

export * from './exports.js';

const node: Host = {
  async read(dir, task) {
    if (existsSync(join(dir, bundleManifestFile))) return bundleModel(await readBundleDir(dir));
    const m = await readModelDir(dir, { span: task === 'question-answering' });
    return modelDirFiles(m, readFrontierJson(dir), readFrontierJson(dir, undefined, 'q8'));
  },
  async defaultRuntime(): Promise<Runtime> {
    let runtimeNode: typeof import('@lat/runtime-node');
    try {
      runtimeNode = await import('@lat/runtime-node');
    } catch (e) {
      throw new LatError(
        'UNSUPPORTED',
        `onnxruntime-node could not be loaded (${(e as Error).message}); install it (npm install onnxruntime-node) or pass { runtime }`,
        'runtime',
        { cause: e },
      );
    }
    return runtimeNode.createNodeRuntime();
  },
};

/** Loads a model for a task; see {@link Pipeline}. */
export const pipeline: Pipeline = pipelineOn(node);
