/**
 * The devices `--device` names (lat search's latency tables, lat bench): onnxruntime-node's CPU
 * provider, onnxruntime-web's wasm kernels (the browser's) in this process, or the same kernels in
 * real headless Chromium (cross-origin isolated, so `--threads` above 1 runs wasm threads). The
 * wasm devices run one thread unless `--threads` says otherwise.
 */
import { createWebRuntime } from '@lat/runtime-web';
import { openChromiumRuntime } from './chromium.js';
import type { LatencyDevice, OpenDevice } from './latency.js';
import { runtimeFor } from './model.js';

/** The device's name (as tables record it) and how to open it; `open` is called only to measure. */
export function deviceFor(device: LatencyDevice, threads?: number): { name: string; open: OpenDevice } {
  const wasmThreads = threads ?? 1;
  const count = `${wasmThreads} thread${wasmThreads === 1 ? '' : 's'}`;
  if (device === 'chromium')
    return {
      name: `onnxruntime-web wasm in Chromium, ${count}`,
      open: () => openChromiumRuntime({ threads: wasmThreads }),
    };
  if (device === 'wasm')
    return {
      name: `onnxruntime-web wasm, ${count}`,
      open: async () => ({ runtime: createWebRuntime({ threads: wasmThreads }) }),
    };
  return {
    name: `onnxruntime-node cpu, ${threads ?? 'all'} threads`,
    open: async () => ({ runtime: runtimeFor(threads) }),
  };
}
