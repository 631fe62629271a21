import { availableParallelism } from 'node:os';
import { createOrtRuntime, type Runtime, type SessionOptions } from '@lat/core';
import * as ort from 'onnxruntime-node';

/** A Runtime over onnxruntime-node's CPU execution provider. */
export function createNodeRuntime(defaults: SessionOptions = {}): Runtime {
  return createOrtRuntime(
    'onnxruntime-node',
    ort,
    (o) => ({
      intraOpNumThreads: o.threads ?? availableParallelism(),
      interOpNumThreads: 1,
      executionProviders: o.executionProviders ?? ['cpu'],
      graphOptimizationLevel: o.graphOptimization ?? 'all',
      enableCpuMemArena: o.memoryArena ?? true,
      enableMemPattern: o.memoryArena ?? true,
    }),
    defaults,
  );
}
