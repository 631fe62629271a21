/**
 * A Runtime whose sessions run in real headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) on onnxruntime-web: its wasm backend at one thread or more, or its WebGPU
 * backend on whatever adapter Chromium offers. The page is served cross-origin isolated (COOP
 * same-origin + COEP require-corp), which is what lets wasm threads (SharedArrayBuffer) run. Graphs
 * and ORT's files — the threaded wasm binary and the script its worker threads load — come from a
 * static server on 127.0.0.1; every other request is aborted and recorded. Each run is timed inside
 * the page (`deviceMs`), so the DevTools round trip and copying tensors across it are not counted as
 * the model's latency.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import {
  type DType,
  type HostTensor,
  hostTensor,
  isLatError,
  LatError,
  type Runtime,
  type TensorDataByType,
} from '@lat/core';
import { chromiumPath, headlessChromium } from '@lat/runtime-web/chromium';

export { chromiumPath };

/** A tensor as it crosses DevTools: plain numbers (int64 as numbers; our ids and counts are small). */
interface WireTensor {
  type: DType;
  dims: number[];
  data: number[];
}

/** Where in Chromium the sessions run. */
export interface ChromiumOptions {
  /** Chromium's binary; default {@link chromiumPath}. */
  executablePath?: string;
  /** wasm threads (`ort.env.wasm.numThreads`); default 1. */
  threads?: number;
  /**
   * 'wasm' (default), or 'webgpu': onnxruntime-web's WebGPU backend on the adapter Chromium offers
   * with --enable-unsafe-webgpu (on a machine without a GPU only SwiftShader, a software adapter).
   */
  backend?: 'wasm' | 'webgpu';
  /** Serve the page with COOP/COEP (default true); false shows what a page that is not isolated gets. */
  isolate?: boolean;
}

/** What the page reports about itself. */
export interface ChromiumPageInfo {
  /** Chromium's version string. */
  version: string;
  /** `crossOriginIsolated` in the page: without it wasm threads fall back to one. */
  crossOriginIsolated: boolean;
  /** The WebGPU adapter the page got (backend 'webgpu' only). */
  adapter?: { vendor: string; architecture: string; fallback: boolean };
}

// The page: onnxruntime-web (its wasm build, or its WebGPU build), sessions by id. The query
// string sets the backend and the wasm threads, which must be set before the first session.
const page = `<!doctype html><meta charset="utf-8"><script type="module">
const query = new URLSearchParams(location.search);
const backend = query.get('backend');
const ort = await import(backend === 'webgpu' ? '/ort/ort.webgpu.min.mjs' : '/ort/ort.wasm.min.mjs');
ort.env.wasm.numThreads = Number(query.get('threads'));
ort.env.wasm.wasmPaths = '/ort/';
let adapter;
if (backend === 'webgpu') {
  const a = await navigator.gpu?.requestAdapter();
  adapter = a ? { vendor: a.info.vendor, architecture: a.info.architecture, fallback: a.info.isFallbackAdapter === true } : null;
}
const sessions = new Map();
let next = 0;
const arrays = { float32: Float32Array, float64: Float64Array, int32: Int32Array, bool: Uint8Array, uint8: Uint8Array };
const toOrt = (t) => new ort.Tensor(t.type, t.type === 'int64' ? BigInt64Array.from(t.data, BigInt) : arrays[t.type].from(t.data), t.dims);
const fromOrt = (t) => ({ type: t.type, dims: [...t.dims], data: Array.from(t.data, Number) });
window.lat = {
  info: () => ({ crossOriginIsolated, adapter }),
  async open(url) {
    const s = await ort.InferenceSession.create(url, { executionProviders: [backend === 'webgpu' ? 'webgpu' : 'wasm'], graphOptimizationLevel: 'all' });
    sessions.set(next, s);
    // ORT sets numThreads back to 1 when the page cannot run wasm threads.
    return { id: next++, inputNames: [...s.inputNames], outputNames: [...s.outputNames], threads: ort.env.wasm.numThreads };
  },
  async run(id, feeds, names) {
    const f = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrt(t)]));
    const t0 = performance.now();
    const out = names ? await sessions.get(id).run(f, names) : await sessions.get(id).run(f);
    const ms = performance.now() - t0;
    return { ms, outputs: Object.fromEntries(Object.entries(out).map(([k, t]) => [k, fromOrt(t)])) };
  },
  async release(id) { await sessions.get(id)?.release(); sessions.delete(id); },
};
window.latReady = true;
</script>`;

/** onnxruntime-web's dist folder, the one @lat/runtime-web runs on. */
function ortDist(): string {
  const fromCli = createRequire(import.meta.url);
  const fromRuntimeWeb = createRequire(fromCli.resolve('@lat/runtime-web/package.json'));
  return dirname(fromRuntimeWeb.resolve('onnxruntime-web'));
}

/**
 * The runtime, its clock (ms spent inside session.run in the page so far, so only the device's time
 * counts), what the page reports, the requests it made (`served`: paths the local server answered;
 * `blocked`: anything else, aborted) and how to close browser and server. Fails with a LatError
 * when the page cannot run the threads or the backend asked for.
 */
export async function openChromiumRuntime(o: ChromiumOptions = {}): Promise<{
  runtime: Runtime;
  clock: () => number;
  page: ChromiumPageInfo;
  served: string[];
  blocked: string[];
  close: () => Promise<void>;
}> {
  const { executablePath = chromiumPath, threads = 1, backend = 'wasm', isolate = true } = o;
  if (!existsSync(executablePath))
    throw new LatError(
      'NOT_FOUND',
      `--device chromium needs Debian's headless Chromium at ${executablePath}; install it with ` +
        '`sudo apt-get install -y chromium` (or run tooling/scripts/ensure-chromium.sh), or measure with --device node or wasm',
    );
  if (!(Number.isInteger(threads) && threads >= 1))
    throw new LatError('BAD_INPUT', `threads must be a whole number ≥ 1, got ${threads}`, '--threads');
  const { chromium } = await import('playwright-core');
  const dist = ortDist();
  const ortFiles = new Set(readdirSync(dist).filter((n) => /\.(mjs|wasm)$/.test(n)));
  const graphs = new Map<string, Uint8Array>();
  const served: string[] = [];
  const blocked: string[] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const send = (type: string, body: string | Uint8Array) => {
      // Cross-origin isolated, so wasm threads can share memory (and performance.now() ticks in µs).
      res.writeHead(200, {
        'content-type': type,
        'cache-control': 'no-store',
        ...(isolate
          ? {
              'cross-origin-opener-policy': 'same-origin',
              'cross-origin-embedder-policy': 'require-corp',
            }
          : {}),
      });
      res.end(body);
      served.push(path);
    };
    const ortFile = path.startsWith('/ort/') ? path.slice(5) : '';
    if (path === '/') send('text/html', page);
    else if (ortFiles.has(ortFile))
      send(
        ortFile.endsWith('.wasm') ? 'application/wasm' : 'text/javascript',
        readFileSync(join(dist, ortFile)),
      );
    else if (graphs.has(path)) send('application/octet-stream', graphs.get(path)!);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // WebGPU needs the GPU process and the unsafe flag (Linux); wasm runs without either.
  const args =
    backend === 'webgpu'
      ? [...headlessChromium.args.filter((a) => a !== '--disable-gpu'), '--enable-unsafe-webgpu']
      : headlessChromium.args;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  try {
    browser = await chromium.launch({ executablePath, args });
    const context = await browser.newContext();
    // No network beyond the loopback server (the context's routes also see workers' requests).
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`)) return route.continue();
      blocked.push(url);
      return route.abort();
    });
    const tab = await context.newPage();
    await tab.goto(`${origin}/?backend=${backend}&threads=${threads}`);
    await tab.waitForFunction(() => (globalThis as { latReady?: boolean }).latReady === true);
    const info = await tab.evaluate(() => (globalThis as unknown as PageApi).lat.info());
    const pageInfo: ChromiumPageInfo = {
      version: browser.version(),
      crossOriginIsolated: info.crossOriginIsolated,
    };
    if (backend === 'webgpu') {
      if (!info.adapter)
        throw new LatError(
          'UNSUPPORTED',
          'Chromium offers no WebGPU adapter here (requestAdapter() gave null)',
        );
      pageInfo.adapter = info.adapter;
    }
    let deviceMs = 0;
    let graphId = 0;
    const b = browser;
    const runtime: Runtime = {
      name: `onnxruntime-web ${backend} in Chromium`,
      async createSession(model) {
        const url = `/graph/${graphId++}.onnx`;
        graphs.set(url, model);
        const s = await tab.evaluate((u) => (globalThis as unknown as PageApi).lat.open(u), url);
        graphs.delete(url);
        if (backend === 'wasm' && s.threads !== threads)
          throw new LatError(
            'UNSUPPORTED',
            `onnxruntime-web in Chromium runs ${s.threads} wasm thread(s), not ${threads} (crossOriginIsolated: ${info.crossOriginIsolated})`,
          );
        return {
          inputNames: s.inputNames,
          outputNames: s.outputNames,
          async run(feeds, outputNames) {
            const wire = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toWire(t)]));
            const r = await tab.evaluate(
              ([id, f, names]) => (globalThis as unknown as PageApi).lat.run(id, f, names),
              [s.id, wire, outputNames ? [...outputNames] : undefined] as const,
            );
            deviceMs += r.ms;
            return Object.fromEntries(Object.entries(r.outputs).map(([k, t]) => [k, fromWire(t)]));
          },
          async release() {
            await tab.evaluate((id) => (globalThis as unknown as PageApi).lat.release(id), s.id);
          },
        };
      },
    };
    return {
      runtime,
      clock: () => deviceMs,
      page: pageInfo,
      served,
      blocked,
      async close() {
        await b.close();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  } catch (e) {
    await browser?.close();
    server.close();
    if (isLatError(e)) throw e;
    throw new LatError(
      'UNSUPPORTED',
      `could not run onnxruntime-web in ${executablePath}: ${String(e)}`,
      undefined,
      {
        cause: e,
      },
    );
  }
}

interface PageApi {
  lat: {
    info(): { crossOriginIsolated: boolean; adapter?: ChromiumPageInfo['adapter'] | null };
    open(url: string): Promise<{ id: number; inputNames: string[]; outputNames: string[]; threads: number }>;
    run(
      id: number,
      feeds: Record<string, WireTensor>,
      names: string[] | undefined,
    ): Promise<{ ms: number; outputs: Record<string, WireTensor> }>;
    release(id: number): Promise<void>;
  };
}

function toWire(t: HostTensor): WireTensor {
  return { type: t.type, dims: [...t.dims], data: Array.from(t.data as ArrayLike<number | bigint>, Number) };
}

const arrays = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  bool: Uint8Array,
  uint8: Uint8Array,
  int8: Int8Array,
};

function fromWire(t: WireTensor): HostTensor {
  const data: TensorDataByType[DType] =
    t.type === 'int64' ? BigInt64Array.from(t.data, BigInt) : arrays[t.type].from(t.data);
  return hostTensor(t.type, t.dims, data as never);
}
