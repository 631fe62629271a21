import { availableParallelism } from 'node:os';
import { createOrtRuntime, type Runtime, type SessionOptions } from '@lat/core';
import * as ort from 'onnxruntime-node';

// onnxruntime-node (1.30, Linux) collects telemetry when it creates its environment, matching the
// process's command line against a std::regex whose backtracking recurses per character: a
// command line of ~29 KB overflows the 8 MB stack and the process dies with SIGSEGV. Turning the
// telemetry off (unless the user chose otherwise) skips that code; it must happen before the
// first session is created.
process.env['ORT_DISABLE_TELEMETRY'] ??= '1';

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
