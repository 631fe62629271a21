/**
 * @lat/runtime-node: the lat {@link Runtime} over onnxruntime-node's CPU execution provider.
 *
 * onnxruntime-node is an optional peer dependency: installing this package never runs its
 * install script (which, on Linux x64, downloads CUDA libraries). Install it next to this package
 * — see the README — and `createNodeRuntime` loads it on first use.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { createOrtRuntime, LatError, type OrtModule, type Runtime, type SessionOptions } from '@lat/core';

// onnxruntime-node (1.30, Linux) collects telemetry when it creates its environment, matching the
// process's command line against a std::regex whose backtracking recurses per character: a
// command line of ~29 KB overflows the 8 MB stack and the process dies with SIGSEGV. Turning the
// telemetry off (unless the user chose otherwise) skips that code; it must happen before the
// first session is created.
process.env['ORT_DISABLE_TELEMETRY'] ??= '1';

const require = createRequire(import.meta.url);
let ort: OrtModule | undefined;

/** The command that installs the peer dependency without its CUDA download (CPU binaries ship inside). */
export const installOnnxruntimeNode = 'ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@^1.30.0';

/** Whether onnxruntime-node can be loaded from here (it is an optional peer dependency). */
export function hasOnnxruntimeNode(): boolean {
  try {
    loadOrt();
    return true;
  } catch {
    return false;
  }
}

function loadOrt(): OrtModule {
  if (ort) return ort;
  try {
    ort = require('onnxruntime-node') as OrtModule;
    return ort;
  } catch (e) {
    if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
    throw new LatError(
      'NOT_FOUND',
      `@lat/runtime-node needs its peer dependency onnxruntime-node; install it with \`${installOnnxruntimeNode}\` (or use @lat/runtime-web, which runs in Node too)`,
      'onnxruntime-node',
      { cause: e },
    );
  }
}

/**
 * A Runtime over onnxruntime-node's CPU execution provider.
 * @param defaults session options every `createSession` starts from (threads default to all cores).
 * @throws LatError `NOT_FOUND` when onnxruntime-node is not installed, with the command that installs it.
 */
export function createNodeRuntime(defaults: SessionOptions = {}): Runtime {
  return createOrtRuntime(
    'onnxruntime-node',
    loadOrt(),
    (o) => ({
      intraOpNumThreads: o.threads ?? availableParallelism(),
      interOpNumThreads: 1,
      executionProviders: o.executionProviders ?? ['cpu'],
      graphOptimizationLevel: o.graphOptimization ?? 'all',
      enableCpuMemArena: o.memoryArena ?? true,
      enableMemPattern: o.memoryPattern ?? o.memoryArena ?? true,
      ...(o.spinning === false && { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
    }),
    defaults,
  );
}
