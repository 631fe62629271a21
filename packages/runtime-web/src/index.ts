import { createOrtRuntime, type Runtime, type SessionOptions } from '@lat/core';
import * as ort from 'onnxruntime-web';

/** Options of `createWebRuntime`. */
export interface WebRuntimeOptions extends SessionOptions {
  /** Where the ORT .wasm files are served from (browser); defaults to onnxruntime-web's own dist. */
  wasmPaths?: string;
}

/**
 * A Runtime over onnxruntime-web. Uses WebGPU when the caller asks for it and the browser has it,
 * wasm otherwise. Threads only help when the page is cross-origin isolated.
 */
export function createWebRuntime(options: WebRuntimeOptions = {}): Runtime {
  const { wasmPaths, ...defaults } = options;
  if (wasmPaths) ort.env.wasm.wasmPaths = wasmPaths;
  if (defaults.threads) ort.env.wasm.numThreads = defaults.threads;
  return createOrtRuntime(
    'onnxruntime-web',
    ort,
    (o) => ({
      executionProviders: o.executionProviders ?? ['wasm'],
      graphOptimizationLevel: o.graphOptimization ?? 'all',
    }),
    defaults,
  );
}

/** Whether this environment exposes WebGPU (a browser with navigator.gpu). */
export function hasWebGpu(): boolean {
  const nav = (globalThis as { navigator?: object }).navigator;
  return nav !== undefined && 'gpu' in nav;
}

/**
 * The wasm threads onnxruntime-web runs. Read it after the first session: ORT fixes the count
 * then, and sets it back to 1 where wasm threads cannot run (a page that is not cross-origin
 * isolated).
 */
export function wasmThreads(): number {
  return ort.env.wasm.numThreads ?? 1;
}
