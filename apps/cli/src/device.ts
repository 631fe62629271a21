/**
 * The devices `--device` names (lat search's latency tables, lat bench): onnxruntime-node's CPU
 * provider, onnxruntime-web's wasm kernels (the browser's) single-threaded in this process, or the
 * same kernels in real headless Chromium.
 */
import { createWebRuntime } from '@lat/runtime-web';
import { openChromiumRuntime } from './chromium.js';
import type { LatencyDevice, OpenDevice } from './latency.js';
import { runtimeFor } from './model.js';

/** The device's name (as tables record it) and how to open it; `open` is called only to measure. */
export function deviceFor(device: LatencyDevice, threads?: number): { name: string; open: OpenDevice } {
  if (device === 'chromium')
    return { name: 'onnxruntime-web wasm in Chromium, 1 thread', open: openChromiumRuntime };
  if (device === 'wasm')
    return {
      name: 'onnxruntime-web wasm, 1 thread',
      open: async () => ({ runtime: createWebRuntime({ threads: 1 }) }),
    };
  return {
    name: `onnxruntime-node cpu, ${threads ?? 'all'} threads`,
    open: async () => ({ runtime: runtimeFor(threads) }),
  };
}
