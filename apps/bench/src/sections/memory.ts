/**
 * Resident memory of lat's anytime model against the plain graph (issue 26: the full-length
 * branch must not double it). Every graph is opened as `createAnytimeModel` opens it (a small
 * model's branch as two sessions, a larger one's as one session with its If) in a fresh process
 * that holds nothing else, and runs once at 1 × 128. Each process runs twice: with glibc's default
 * malloc (what a user sees; memory freed while loading may stay resident) and with a fixed mmap
 * threshold (`MALLOC_MMAP_THRESHOLD_`), where freed blocks go back to the system and RSS is the
 * memory ORT still holds.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HostTensor, toModelProto } from '@lat/core';
import {
  buildAnytimeGraph,
  createRandomWeights,
  type ModelDtype,
  opensTwoSessions,
  splitFullLength,
} from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import type { Report } from '../report.js';
import { chosen, configOf, type Size } from '../setup.js';

const variants = ['plain graph', 'lat (default)', 'lat, per-layer Ifs'] as const;

/** MB of resident memory from /proc/self/status (`VmRSS`, or the peak `VmHWM`). */
function statusMb(key: 'VmRSS' | 'VmHWM'): number {
  const m = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`${key}:\\s+(\\d+)`));
  return Number(m![1]) / 1024;
}

/** In the child: opens the model files (one session each), runs each once at 1 × 128, prints its memory. */
export async function memoryWorker(args: { numLayers: number; files: string[] }) {
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  const before = statusMb('VmRSS');
  const runtime = createNodeRuntime({ threads: 1, spinning: false });
  const sessions = [];
  for (const f of args.files) {
    sessions.push(await runtime.createSession(readFileSync(f), { threads: 1 }));
    gc();
  }
  const [batch, seq] = [1, 128];
  const ints = (n: number, value: (i: number) => number): HostTensor => ({
    type: 'int64',
    dims: n === seq ? [batch, seq] : [batch, n],
    data: BigInt64Array.from({ length: batch * n }, (_, i) => BigInt(value(i))),
  });
  const feeds: Record<string, HostTensor> = {
    input_ids: ints(seq, (i) => 100 + ((i * 7) % 1000)),
    attention_mask: ints(seq, () => 1),
    token_type_ids: ints(seq, () => 0),
    keep_counts: ints(args.numLayers, () => seq),
  };
  for (const s of sessions) await s.run(Object.fromEntries(s.inputNames.map((name) => [name, feeds[name]!])));
  gc();
  console.log(JSON.stringify({ grown: statusMb('VmRSS') - before, peak: statusMb('VmHWM') }));
}

export async function branchMemory(report: Report, which: Size[]) {
  report.heading('Resident memory: lat (full-length branch) vs the plain graph (onnxruntime-node, 1 thread)');
  report.push(
    "Each graph in a fresh process, opened as `createAnytimeModel` opens it, after one 1 × 128 run: RSS growth over the process before any session (MB), then the process's peak RSS. `default malloc`: what a user sees; `live`: with `MALLOC_MMAP_THRESHOLD_=131072`, so memory freed while loading goes back to the system. Random weights.\n",
  );
  report.table(
    `model | dtype | ${variants.map((v) => `${v}: default malloc (peak) | ${v}: live`).join(' | ')} | lat / plain: default malloc | lat / plain: live`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'lat-memory-'));
  try {
    for (const s of which.filter(chosen)) {
      const c = configOf(s);
      const w = createRandomWeights(c, 1);
      for (const dtype of ['fp32', 'q8'] as ModelDtype[]) {
        const files = (name: string, o: object): string[] => {
          const bytes = toModelProto(buildAnytimeGraph(c, w, { dtype, keptPositions: false, ...o }));
          const split = opensTwoSessions(c) ? splitFullLength(bytes, c.numLayers) : undefined;
          const models = split ? [split.full, split.reducing] : [bytes];
          return models.map((m, i) => {
            const file = join(dir, `${name}-${i}.onnx`);
            writeFileSync(file, m);
            return file;
          });
        };
        const opened = {
          'plain graph': files('plain', { selection: false }),
          'lat (default)': files('lat', {}),
          'lat, per-layer Ifs': files('per-layer', { fullLengthBranch: false }),
        };
        const measure = (models: string[], live: boolean): { grown: number; peak: number } => {
          const out = spawnSync(
            process.execPath,
            [
              '--expose-gc',
              process.argv[1]!,
              '--memory-worker',
              JSON.stringify({ numLayers: c.numLayers, files: models }),
            ],
            {
              encoding: 'utf8',
              env: { ...process.env, ...(live ? { MALLOC_MMAP_THRESHOLD_: '131072' } : {}) },
            },
          );
          if (out.status !== 0) throw new Error(`memory worker failed: ${out.stderr}`);
          return JSON.parse(out.stdout.trim().split('\n').at(-1)!);
        };
        const mb: Record<string, { normal: { grown: number; peak: number }; live: { grown: number } }> = {};
        for (const v of variants)
          mb[v] = { normal: measure(opened[v], false), live: measure(opened[v], true) };
        const cells = variants.map(
          (v) =>
            `${mb[v]!.normal.grown.toFixed(0)} (${mb[v]!.normal.peak.toFixed(0)}) | ${mb[v]!.live.grown.toFixed(0)}`,
        );
        const ratio = (k: 'normal' | 'live') =>
          `${(mb['lat (default)']![k].grown / mb['plain graph']![k].grown).toFixed(2)}×`;
        const line = `| ${s.name} | ${dtype} | ${cells.join(' | ')} | ${ratio('normal')} | ${ratio('live')} |`;
        report.push(line);
        console.log(line);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
