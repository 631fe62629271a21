/**
 * onnxruntime-web's wasm backend in a Node worker thread, as a lat Runtime. ORT fixes its wasm
 * thread count for the whole module at the first session, so one process can time 1 and 2 wasm
 * threads side by side only with one module copy per count: each worker thread imports its own.
 * Runs are timed inside the worker around `session.run` (the clock), as the Chromium page times
 * its own, so message passing is not counted as the model's latency; `cpu` adds up the process's
 * CPU time over the same runs (the main thread is idle meanwhile).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { type HostTensor, LatError, type Runtime, type RuntimeSession } from '@lat/core';
import { createWebRuntime, wasmThreads } from '@lat/runtime-web';

type Request =
  | { op: 'open'; model: Uint8Array }
  | { op: 'run'; session: number; feeds: Record<string, HostTensor>; names?: readonly string[] }
  | { op: 'release'; session: number };

interface Opened {
  session: number;
  inputNames: string[];
  outputNames: string[];
  threads: number;
}

if (!isMainThread && workerData?.latWasmThreads) serve(workerData.latWasmThreads as number);

/** The worker's side: sessions by id on its own onnxruntime-web. */
function serve(threads: number) {
  const runtime = createWebRuntime({ threads });
  const sessions = new Map<number, RuntimeSession>();
  let next = 0;
  const handle = async (r: Request) => {
    if (r.op === 'open') {
      const s = await runtime.createSession(r.model);
      sessions.set(next, s);
      return {
        session: next++,
        inputNames: [...s.inputNames],
        outputNames: [...s.outputNames],
        threads: wasmThreads(),
      } satisfies Opened;
    }
    const s = sessions.get(r.session)!;
    if (r.op === 'release') {
      await s.release();
      sessions.delete(r.session);
      return undefined;
    }
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const outputs = await s.run(r.feeds, r.names);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000, outputs };
  };
  parentPort!.on('message', ({ id, request }: { id: number; request: Request }) =>
    handle(request).then(
      (value) => parentPort!.postMessage({ id, value }),
      (e: unknown) => parentPort!.postMessage({ id, error: String(e) }),
    ),
  );
}

/** A runtime on onnxruntime-web's wasm backend at `threads` threads, in its own worker thread. */
export async function openWasmWorker(
  threads: number,
): Promise<{ runtime: Runtime; clock: () => number; cpu: () => number; close: () => Promise<void> }> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { latWasmThreads: threads } });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  worker.on('message', ({ id, value, error }: { id: number; value?: unknown; error?: string }) => {
    const p = pending.get(id)!;
    pending.delete(id);
    if (error === undefined) p.resolve(value);
    else p.reject(new LatError('UNSUPPORTED', `onnxruntime-web in a worker thread: ${error}`));
  });
  worker.on('error', (e) => {
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  });
  const call = <T>(request: Request) =>
    new Promise<T>((resolve, reject) => {
      pending.set(nextId, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ id: nextId++, request });
    });
  let deviceMs = 0;
  let cpuMs = 0;
  const runtime: Runtime = {
    name: `onnxruntime-web wasm in a Node worker, ${threads} threads`,
    async createSession(model) {
      const s = await call<Opened>({ op: 'open', model });
      if (s.threads !== threads)
        throw new LatError(
          'UNSUPPORTED',
          `onnxruntime-web runs ${s.threads} wasm threads here, not ${threads}`,
        );
      return {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        async run(feeds, names) {
          const r = await call<{ ms: number; cpuMs: number; outputs: Record<string, HostTensor> }>({
            op: 'run',
            session: s.session,
            feeds,
            ...(names ? { names: [...names] } : {}),
          });
          deviceMs += r.ms;
          cpuMs += r.cpuMs;
          return r.outputs;
        },
        release: () => call<void>({ op: 'release', session: s.session }),
      };
    },
  };
  return {
    runtime,
    clock: () => deviceMs,
    cpu: () => cpuMs,
    close: async () => void (await worker.terminate()),
  };
}
