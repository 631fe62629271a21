/**
 * Browser inference (issue 26): lat's anytime graph of bert-mini at full length, 1 × 128, fp32 and
 * q8, on onnxruntime-node at 1 and 2 threads, onnxruntime-web's wasm backend in headless Chromium
 * at 1 and 2 threads (the page cross-origin isolated, so wasm threads run) and onnxruntime-web's
 * wasm backend in Node (one worker thread per thread count), all open at once and run in turn
 * (`alternating`; node's sessions not spinning), so every ratio compares runs made under the same
 * load. Every device times
 * `session.run` itself. WebGPU is measured once after the rounds when Chromium offers an adapter,
 * and labelled software when that adapter is a fallback (SwiftShader).
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { type ChromiumPageInfo, chromiumPath, openChromiumRuntime } from '@lat/cli/chromium';
import { isLatError, type Runtime } from '@lat/core';
import { type AnytimeModel, createAnytimeModel, createRandomWeights } from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import { headlessChromium } from '@lat/runtime-web/chromium';
import { fmt, type Report } from '../report.js';
import {
  alternating,
  batchOf,
  configOf,
  median,
  quick,
  type Runner,
  roundMs,
  roundRatio,
  sizes,
  type Turns,
  timeRuns,
  turns,
} from '../setup.js';
import { openWasmWorker } from '../wasm-worker.js';

interface Device {
  runtime: Runtime;
  clock: () => number;
  /** CPU ms its process has used so far (every thread): around a one-thread run, the work it does. */
  cpu: () => number;
  close?: () => Promise<void>;
}

const processCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** ms on CPU of every thread of these processes so far (Linux: /proc/<pid>/task/<tid>/schedstat, in ns). */
function threadsCpuMs(pids: number[]): number {
  let ns = 0;
  for (const pid of pids)
    for (const tid of readdirSync(`/proc/${pid}/task`))
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  return ns / 1e6;
}

/** Chromium renderer processes started by this process (Linux; none elsewhere). */
function ownRenderers(): Set<number> {
  const found = new Set<number>();
  if (!existsSync('/proc/self/stat')) return found;
  const parent = (pid: number) => Number(/\) \S+ (\d+)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1]);
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (!readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('--type=renderer')) continue;
      for (let p = Number(name); p > 1; p = parent(p))
        if (p === process.pid) {
          found.add(Number(name));
          break;
        }
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** onnxruntime-node with a clock that, like the page's and the worker's, counts only session.run. */
function timedNode(threads: number): Device {
  const runtime = createNodeRuntime({ threads, spinning: false });
  let ms = 0;
  return {
    clock: () => ms,
    cpu: processCpuMs,
    runtime: {
      name: runtime.name,
      async createSession(model, options) {
        const s = await runtime.createSession(model, { ...options, threads });
        return {
          inputNames: s.inputNames,
          outputNames: s.outputNames,
          release: () => s.release(),
          async run(feeds, names) {
            const t0 = performance.now();
            const out = await s.run(feeds, names);
            ms += performance.now() - t0;
            return out;
          },
        };
      },
    },
  };
}

const dtypes = ['fp32', 'q8'] as const;
const threadCounts = [1, 2] as const;

export async function browser(report: Report, { rounds, runs }: Turns = turns('browser', quick ? 2 : 5, 5)) {
  if (!existsSync(chromiumPath)) {
    const skip = `browser section skipped: no Chromium at ${chromiumPath} (sudo apt-get install -y chromium, or tooling/scripts/ensure-chromium.sh)`;
    report.push(`\n${skip}\n`);
    return console.log(`  (${skip})`);
  }
  const size = sizes.find((s) => s.name === 'bert-mini')!;
  const c = configOf(size);
  const w = createRandomWeights(c, 1);
  const x = batchOf(1, 128);
  report.heading(
    `Browser: onnxruntime-web wasm in Chromium and in Node vs onnxruntime-node, ${size.name} 1 × 128, full length, ${rounds} rounds of ${runs} steps in turn, median (min–max) over rounds`,
  );
  const devices: Record<string, Device> = {};
  const models: Record<string, AnytimeModel> = {};
  let page: ChromiumPageInfo | undefined;
  try {
    for (const t of threadCounts) {
      devices[`node${t}`] = timedNode(t);
      const before = ownRenderers();
      const chromium = await openChromiumRuntime({ threads: t });
      const renderers = [...ownRenderers()].filter((p) => !before.has(p));
      page = chromium.page;
      devices[`chromium${t}`] = {
        ...chromium,
        cpu: () => (renderers.length ? threadsCpuMs(renderers) : Number.NaN),
      };
      devices[`nodeWasm${t}`] = await openWasmWorker(t);
    }
    for (const [name, d] of Object.entries(devices))
      for (const dtype of dtypes)
        models[`${name} ${dtype}`] = await createAnytimeModel(d.runtime, c, w, {
          dtype,
          keptPositions: false,
        });

    // Same weights, same input: every device must give onnxruntime-node's logits before timing.
    const diffs: string[] = [];
    for (const dtype of dtypes) {
      const want = (await models[`node1 ${dtype}`]!.run(x)).logits!;
      let most = 0;
      for (const name of Object.keys(devices)) {
        const got = (await models[`${name} ${dtype}`]!.run(x)).logits!;
        got.forEach((v, i) => (most = Math.max(most, Math.abs(v - want[i]!))));
      }
      if (!(most < 1e-3)) throw new Error(`${dtype} logits differ between devices by ${most}`);
      diffs.push(`${dtype} ${most.toExponential(1)}`);
    }

    report.push(
      `Chromium ${page!.version} (headless, ${headlessChromium.args.join(' ')}), crossOriginIsolated: ${page!.crossOriginIsolated}; onnxruntime-web 1.30 wasm (\`ort.wasm.min.mjs\`, SIMD + threads binary \`ort-wasm-simd-threaded.wasm\` and its worker script served from 127.0.0.1 with COOP same-origin / COEP require-corp, nothing else reachable), \`ort.env.wasm.numThreads\` = 1 or 2, checked after the first session; Node wasm: the same package's Node build, one worker thread per thread count. Times are each device's own \`session.run\` time (median and fastest run per round); logits of every device agree with onnxruntime-node 1 thread within ${diffs.join(', ')} (max |diff|).\n`,
    );
    // Each run's CPU time too, on its device's process (every call, warm-ups included: a median).
    const runners: Record<string, Runner> = {};
    const cpuRuns: Record<string, number[]> = {};
    for (const [key, m] of Object.entries(models)) {
      const d = devices[key.split(' ')[0]!]!;
      const cpu = (cpuRuns[key] = [] as number[]);
      runners[key] = {
        clock: d.clock,
        async run() {
          const c0 = d.cpu();
          await m.run(x);
          cpu.push(d.cpu() - c0);
        },
      };
    }
    const ms = await alternating(runners, rounds, runs);

    report.table(
      'dtype | threads | onnxruntime-node ms (median, fastest) | Chromium wasm ms | Node wasm ms | Chromium / node | Node wasm / node',
    );
    for (const dtype of dtypes)
      for (const t of threadCounts) {
        const k = (d: string) => `${d}${t} ${dtype}`;
        const line = `| ${dtype} | ${t} | ${roundMs(ms, k('node'))} | ${roundMs(ms, k('chromium'))} | ${roundMs(ms, k('nodeWasm'))} | ${roundRatio(ms, k('chromium'), k('node'))} | ${roundRatio(ms, k('nodeWasm'), k('node'))} |`;
        report.push(line);
        console.log(line);
      }
    report.push('\nSpeed-up from a second thread (1-thread time / 2-thread time, same rounds):\n');
    report.table('dtype | onnxruntime-node | Chromium wasm | Node wasm');
    for (const dtype of dtypes) {
      const r = (d: string) => roundRatio(ms, `${d}1 ${dtype}`, `${d}2 ${dtype}`);
      const line = `| ${dtype} | ${r('node')} | ${r('chromium')} | ${r('nodeWasm')} |`;
      report.push(line);
      console.log(line);
    }
    // CPU time per run at one thread: the work each build does for the same graph. Other processes
    // change it less than wall time (they still do, through shared caches and cores).
    const cpuMedian = (k: string) => median(cpuRuns[k]!);
    report.push(
      "\nCPU time per run at 1 thread (median over all runs of the rounds; onnxruntime-node and Node wasm: `process.cpuUsage()`, Chromium: the renderer process's threads from /proc/<pid>/task/*/schedstat): the work each build does for the same graph, which the load changes less than wall time (it still does, through shared caches and cores):\n",
    );
    report.table(
      'dtype | onnxruntime-node CPU ms | Chromium wasm CPU ms | Node wasm CPU ms | Chromium / node | Node wasm / node',
    );
    for (const dtype of dtypes) {
      const [n, ch, nw] = ['node', 'chromium', 'nodeWasm'].map((d) => cpuMedian(`${d}1 ${dtype}`)) as [
        number,
        number,
        number,
      ];
      const line = `| ${dtype} | ${fmt(n)} | ${fmt(ch)} | ${fmt(nw)} | ${fmt(ch / n)}× | ${fmt(nw / n)}× |`;
      report.push(line);
      console.log(line);
    }
    report.push(`\nLoad average after the rounds: ${loadavg()[0]!.toFixed(2)}.`);
    await webgpu(report, c, w, x, devices['node1']!, models);
  } finally {
    for (const m of Object.values(models)) await m.release();
    for (const d of Object.values(devices)) await d.close?.();
  }
}

/**
 * WebGPU once, next to onnxruntime-node at 1 thread timed right after it: when Chromium offers no
 * adapter, says so; a fallback adapter is labelled software.
 */
async function webgpu(
  report: Report,
  c: ReturnType<typeof configOf>,
  w: ReturnType<typeof createRandomWeights>,
  x: ReturnType<typeof batchOf>,
  node: Device,
  nodeModels: Record<string, AnytimeModel>,
) {
  const opened = await openChromiumRuntime({ backend: 'webgpu' }).catch((e: unknown) => {
    if (isLatError(e, 'UNSUPPORTED')) return String((e as Error).message);
    throw e;
  });
  if (typeof opened === 'string') {
    report.push(
      `\nWebGPU (Chromium with --enable-unsafe-webgpu, GPU process on): not measured — ${opened}.\n`,
    );
    console.log(`  WebGPU: ${opened}`);
    return;
  }
  try {
    const a = opened.page.adapter!;
    const kind = a.fallback
      ? `software: ${a.vendor} ${a.architecture}, a fallback adapter`
      : `${a.vendor} ${a.architecture}`;
    report.push(
      `\nWebGPU once (onnxruntime-web 1.30 \`ort.webgpu.min.mjs\`, Chromium with --enable-unsafe-webgpu and the GPU process on; the only adapter offered is ${kind}), next to onnxruntime-node 1 thread timed right after:\n`,
    );
    report.table(
      'dtype | WebGPU ms (median, fastest) | onnxruntime-node 1 thread ms | WebGPU / node | max abs logit diff',
    );
    for (const dtype of dtypes) {
      const m = await createAnytimeModel(opened.runtime, c, w, { dtype, keptPositions: false });
      try {
        const want = (await nodeModels[`node1 ${dtype}`]!.run(x)).logits!;
        const got = (await m.run(x)).logits!;
        const diff = Math.max(...got.map((v, i) => Math.abs(v - want[i]!)));
        const gpu = await timeRuns(() => m.run(x), 3, opened.clock);
        const cpu = await timeRuns(() => nodeModels[`node1 ${dtype}`]!.run(x), 3, node.clock);
        const line = `| ${dtype} | ${fmt(gpu.median)}, ${fmt(gpu.min)} | ${fmt(cpu.median)}, ${fmt(cpu.min)} | ${fmt(gpu.median / cpu.median)}× | ${diff.toExponential(1)} |`;
        report.push(line);
        console.log(`  WebGPU (${kind}) ${line}`);
      } finally {
        await m.release();
      }
    }
  } finally {
    await opened.close();
  }
}
