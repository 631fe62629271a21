/**
 * A Runtime whose sessions run in real headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) on onnxruntime-web's wasm backend, single-threaded, so a latency table can be
 * measured on the kernels a browser user gets. Graphs and ORT's files come from a static server on
 * 127.0.0.1; the page may reach nothing else. Each run is timed inside the page (`deviceMs`), so
 * the DevTools round trip and copying tensors across it are not counted as the model's latency.
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

// The page: onnxruntime-web's wasm build, one thread, sessions by id.
const page = `<!doctype html><meta charset="utf-8"><script type="module">
import * as ort from '/ort/ort.wasm.min.mjs';
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = '/ort/';
const sessions = new Map();
let next = 0;
const arrays = { float32: Float32Array, float64: Float64Array, int32: Int32Array, bool: Uint8Array, uint8: Uint8Array };
const toOrt = (t) => new ort.Tensor(t.type, t.type === 'int64' ? BigInt64Array.from(t.data, BigInt) : arrays[t.type].from(t.data), t.dims);
const fromOrt = (t) => ({ type: t.type, dims: [...t.dims], data: Array.from(t.data, Number) });
window.lat = {
  async open(url) {
    const s = await ort.InferenceSession.create(url, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    sessions.set(next, s);
    return { id: next++, inputNames: [...s.inputNames], outputNames: [...s.outputNames] };
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
 * counts) and how to close browser and server.
 */
export async function openChromiumRuntime(executablePath = chromiumPath): Promise<{
  runtime: Runtime;
  clock: () => number;
  close: () => Promise<void>;
}> {
  if (!existsSync(executablePath))
    throw new LatError(
      'NOT_FOUND',
      `--device chromium needs Debian's headless Chromium at ${executablePath}; install it with ` +
        '`sudo apt-get install -y chromium` (or run tooling/scripts/ensure-chromium.sh), or measure with --device node or wasm',
    );
  const { chromium } = await import('playwright-core');
  const dist = ortDist();
  const ortFiles = new Set(readdirSync(dist).filter((n) => /\.(mjs|wasm)$/.test(n)));
  const graphs = new Map<string, Uint8Array>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const send = (type: string, body: string | Uint8Array) => {
      // Cross-origin isolated: the page's performance.now() then ticks in µs, not 0.1 ms.
      res.writeHead(200, {
        'content-type': type,
        'cache-control': 'no-store',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      });
      res.end(body);
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
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  try {
    browser = await chromium.launch({ ...headlessChromium, executablePath });
    const tab = await browser.newPage();
    // No network beyond the loopback server.
    await tab.route('**/*', (route) =>
      route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort(),
    );
    await tab.goto(`${origin}/`);
    await tab.waitForFunction(() => (globalThis as { latReady?: boolean }).latReady === true);
    let deviceMs = 0;
    let graphId = 0;
    const b = browser;
    const runtime: Runtime = {
      name: 'onnxruntime-web/wasm in Chromium',
      async createSession(model) {
        const url = `/graph/${graphId++}.onnx`;
        graphs.set(url, model);
        const s = await tab.evaluate((u) => (globalThis as unknown as PageApi).lat.open(u), url);
        graphs.delete(url);
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
      async close() {
        await b.close();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  } catch (e) {
    await browser?.close();
    server.close();
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
    open(url: string): Promise<{ id: number; inputNames: string[]; outputNames: string[] }>;
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
