/**
 * Where one training step's time goes: onnxruntime's own profiler on the training graph (fwd +
 * bwd of bert-mini, batch 32 × seq 128, the plain fine-tuning graph the training table's lat
 * column runs), time per op type split
 * into forward and backward nodes, next to the host-side AdamW step over the same weights.
 * `--profile-model bert-base --profile-batch 8` profiles another size and batch.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HostTensor, LatError, toModelProto } from '@lat/core';
import { buildTrainingGraph, createRandomWeights, taskLoss } from '@lat/layers';
import { AdamW, clipGradNorm } from '@lat/train';
import type { Report } from '../report.js';
import { batchOf, configOf, flag, median, numFlag, quick, sizes, threads } from '../setup.js';

interface OrtTensorCtor {
  new (type: string, data: unknown, dims: readonly number[]): unknown;
}
interface OrtNode {
  Tensor: OrtTensorCtor;
  InferenceSession: {
    create(
      bytes: Uint8Array,
      o: Record<string, unknown>,
    ): Promise<{
      run(f: Record<string, unknown>): Promise<unknown>;
      endProfiling(): void;
      release(): Promise<void>;
    }>;
  };
}
/** ORT's profiler is not part of lat's Runtime port: this section drives onnxruntime-node itself. */
const ort = createRequire(createRequire(import.meta.url).resolve('@lat/runtime-node'))(
  'onnxruntime-node',
) as OrtNode;

/** One kernel's run in ORT's profile (Chrome trace format). */
interface TraceEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

export async function trainingProfile(report: Report) {
  const name = flag('profile-model') ?? 'bert-mini';
  const size = sizes.find((s) => s.name === name);
  if (!size)
    throw new LatError(
      'BAD_INPUT',
      `unknown model ${name} (${sizes.map((s) => s.name).join(', ')})`,
      '--profile-model',
    );
  const batch = numFlag('profile-batch', quick ? 8 : 32);
  const seq = 128;
  const runs = quick ? 2 : 3;
  const c = configOf(size);
  const w = createRandomWeights(c, 1);
  const t = buildTrainingGraph(c, w, { task: 'classification', maxBatch: batch, maxSeq: seq, reducer: null });
  // Nodes are serialised as `<op>_<index>`; the backward pass is everything after the node
  // computing the loss (autodiff appends it), and ORT's fused nodes carry names of their own.
  const lossInput = t.graph.nodes.find((n) => n.outputs.includes('loss'))!.inputs[0]!;
  const lastForward = t.graph.nodes.findIndex((n) => n.outputs.includes(lossInput));
  const dir = mkdtempSync(join(tmpdir(), 'lat-profile-'));
  const session = await ort.InferenceSession.create(toModelProto(t.graph), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // As the trainer's session: the arena without memory-pattern planning.
    enableCpuMemArena: true,
    enableMemPattern: false,
    enableProfiling: true,
    profileFilePrefix: join(dir, 'train'),
  });
  const x = batchOf(batch, seq);
  const host = {
    ...t.feeds.batch(x, new Array<number>(batch).fill(0), w),
    ...t.feeds.teacher(x),
    ...t.feeds.pass(x, {
      setting: undefined,
      dropoutOffsets: BigInt64Array.from({ length: t.dropoutSites }, (_, i) => BigInt(i * 7919)),
      lossWeights: { [taskLoss]: 1 },
    }),
  } as Record<string, HostTensor>;
  const feeds = Object.fromEntries(
    Object.entries(host).map(([k, v]) => [k, new ort.Tensor(v.type, v.data, v.dims)]),
  );
  await session.run(feeds); // warm-up: its kernels are left out below
  const started: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < runs; i++) {
    started.push(performance.now());
    await session.run(feeds);
    wall.push(performance.now() - started.at(-1)!);
  }
  session.endProfiling();
  await session.release();
  const file = readdirSync(dir).find((f) => f.endsWith('.json'))!;
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as TraceEvent[];
  rmSync(dir, { recursive: true, force: true });
  // The warm-up run's kernels come first: keep the last `runs` model runs.
  const modelRuns = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const from = modelRuns.at(-runs)!.ts;
  const byOp = new Map<string, { fwd: number; bwd: number; fused: number }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
    const op = e.args?.op_name ?? '?';
    const index = /_(\d+)_kernel_time$/.exec(e.name);
    const part = !index ? 'fused' : Number(index[1]) <= lastForward ? 'fwd' : 'bwd';
    const row = byOp.get(op) ?? { fwd: 0, bwd: 0, fused: 0 };
    row[part] += e.dur / 1000 / runs;
    byOp.set(op, row);
  }
  // The optimizer step as the trainer runs it (clipping folded into AdamW: `clipAndStep`), in
  // turns with the path it replaced (`clipGradNorm` then `step`). Fresh gradients each run, made
  // untimed (clipping scales them in place).
  const copy = () => Object.fromEntries([...w].map(([k, v]) => [k, Float32Array.from(v.data)]));
  const [folded, separate] = [copy(), copy()];
  const gradients = () =>
    Object.fromEntries([...w].map(([k, v]) => [k, v.data.map((_, i) => ((i % 7) - 3) * 1e-2)]));
  const [adam, adamSeparate] = [new AdamW({ lr: 1e-4 }), new AdamW({ lr: 1e-4 })];
  const timed = (f: () => unknown) => {
    const a0 = performance.now();
    f();
    return performance.now() - a0;
  };
  const optimizerMs = { folded: [] as number[], separate: [] as number[] };
  for (let i = 0; i <= runs; i++) {
    const [g1, g2] = [gradients(), gradients()];
    const a = timed(() => adam.clipAndStep(folded, g1, 1e-4, 1));
    const b = timed(() => {
      clipGradNorm(g2, 1);
      adamSeparate.step(separate, g2, 1e-4);
    });
    if (i === 0) continue; // warm-up
    optimizerMs.folded.push(a);
    optimizerMs.separate.push(b);
  }
  const adamMs = median(optimizerMs.folded);
  const separateMs = median(optimizerMs.separate);

  const total = [...byOp.values()].reduce((s, r) => s + r.fwd + r.bwd + r.fused, 0);
  const sum = (k: 'fwd' | 'bwd' | 'fused') => [...byOp.values()].reduce((s, r) => s + r[k], 0);
  const wallMs = median(wall);
  report.heading(
    `Training step profile (ORT profiler), ${size.name}, batch ${batch} × seq ${seq}, ${threads} threads, mean of ${runs} runs`,
  );
  report.push(
    `session.run ${wallMs.toFixed(0)} ms (median), kernels ${total.toFixed(0)} ms: forward ${sum('fwd').toFixed(0)}, backward ${sum('bwd').toFixed(0)}, nodes ORT fused (either pass) ${sum('fused').toFixed(0)}; clipping + AdamW step in TS ${adamMs.toFixed(0)} ms (\`clipAndStep\`), in turns with ${separateMs.toFixed(0)} ms for \`clipGradNorm\` + \`step\`. Op types over 1% of kernel time:\n`,
  );
  report.push('| op type | ms per step | share | forward ms | backward ms | fused ms |');
  report.push('|---|---|---|---|---|---|');
  const rows = [...byOp].sort(
    (a, b) => b[1].fwd + b[1].bwd + b[1].fused - (a[1].fwd + a[1].bwd + a[1].fused),
  );
  for (const [op, r] of rows) {
    const ms = r.fwd + r.bwd + r.fused;
    if (ms < 0.01 * total) continue;
    const line = `| ${op} | ${ms.toFixed(1)} | ${((ms / total) * 100).toFixed(1)}% | ${r.fwd.toFixed(1)} | ${r.bwd.toFixed(1)} | ${r.fused.toFixed(1)} |`;
    report.push(line);
    console.log(line);
  }
}
