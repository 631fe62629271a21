/**
 * Why q8 gains less in the browser than in onnxruntime-node: one linear layer of bert-mini at
 * 128 rows in every op form a q8 graph can take (`wasm_q8_ops.py`: fp32 MatMul, uint8 × int8 and
 * uint8 × uint8 MatMulInteger after DynamicQuantizeLinear, MatMulNBits 8-bit at accuracy levels 0
 * and 4), timed in process CPU time at one thread on onnxruntime-node and on onnxruntime-web's
 * wasm build (in a Node worker: the binary Chromium runs), in turn within each round; and which
 * SIMD instructions the shipped wasm binaries hold (a relaxed-SIMD int8 dot product or not).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { hostTensor } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import type { Report } from '../report.js';
import {
  alternating,
  cpuMs,
  python,
  quick,
  type Runner,
  roundMs,
  roundRatio,
  type Turns,
  turns,
} from '../setup.js';
import { openWasmWorker } from '../wasm-worker.js';

/** Wasm SIMD opcodes (0xFD prefix, LEB128 index) that tell which int8 kernels a binary can run. */
const opcodes = {
  'i32x4.dot_i16x8_s (SIMD128)': [0xfd, 0xba, 0x01],
  'i32x4.relaxed_dot_i8x16_i7x16_add_s (relaxed SIMD)': [0xfd, 0x93, 0x02],
  'f32x4.relaxed_madd (relaxed SIMD)': [0xfd, 0x85, 0x02],
};

function count(bytes: Uint8Array, pattern: number[]): number {
  let n = 0;
  for (let i = bytes.indexOf(pattern[0]!); i >= 0; i = bytes.indexOf(pattern[0]!, i + 1))
    if (pattern.every((b, j) => bytes[i + j] === b)) n++;
  return n;
}

const forms = ['fp32', 's8', 'u8', 'nbits0', 'nbits4'] as const;
const formNames: Record<(typeof forms)[number], string> = {
  fp32: 'fp32 MatMul',
  s8: 'DynamicQuantizeLinear + MatMulInteger, int8 weights (fused: DynamicQuantizeMatMul)',
  u8: 'the same, uint8 weights (u8u8)',
  nbits0: 'MatMulNBits 8-bit, accuracy level 0',
  nbits4: 'MatMulNBits 8-bit, accuracy level 4 (int8 compute)',
};

export async function q8Ops(report: Report, { rounds, runs }: Turns = turns('q8ops', quick ? 3 : 5, 10)) {
  report.heading(
    `q8 op forms, one bert-mini linear at 128 rows: onnxruntime-node vs onnxruntime-web wasm, 1 thread, CPU time, ${rounds} rounds of ${runs} steps in turn, median (min–max) over rounds`,
  );
  // onnxruntime-web's dist folder, the one @lat/runtime-web (and Chromium's page) runs on.
  const fromBench = createRequire(import.meta.url);
  const dist = dirname(
    createRequire(fromBench.resolve('@lat/runtime-web/package.json')).resolve('onnxruntime-web'),
  );
  const version = (JSON.parse(readFileSync(join(dist, '../package.json'), 'utf8')) as { version: string })
    .version;
  report.push(
    `The wasm binaries onnxruntime-web ${version} ships, and how many of each instruction they hold (a byte scan for the opcode): MLAS's wasm int8 GEMM (\`qgemm_kernel_wasmsimd.cpp\`) widens both operands to int16 and multiplies with i32x4.dot_i16x8_s (8 multiply-adds per instruction, one row of A per kernel call, B packed again on every run); its relaxed-SIMD kernel (\`qgemm_kernel_wasmrelaxedsimd.cpp\`, 16 per instruction, 6 rows per call) is compiled only with \`--enable_wasm_relaxed_simd\`.\n`,
  );
  report.table(`binary | ${Object.keys(opcodes).join(' | ')}`);
  for (const file of readdirSync(dist).filter((f) => f.endsWith('.wasm'))) {
    const bytes = readFileSync(join(dist, file));
    const line = `| ${file} | ${Object.values(opcodes)
      .map((p) => count(bytes, p))
      .join(' | ')} |`;
    report.push(line);
    console.log(line);
  }
  const dir = mkdtempSync(join(tmpdir(), 'lat-bench-q8-ops-'));
  const shapes = [
    [256, 256],
    [256, 1024],
    [1024, 256],
  ];
  const r = spawnSync(
    python,
    [join(import.meta.dirname, '../../wasm_q8_ops.py'), JSON.stringify({ out: dir, m: 128, shapes })],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    const why = `wasm_q8_ops.py failed (needs Debian's python3-onnx): ${r.stderr.trim().split('\n').at(-1)}`;
    console.log(`  skipped: ${why}`);
    report.push(`\nOp forms: skipped, ${why}.\n`);
    return;
  }
  report.push(
    `\nLoad average when the timing started: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' ',
      )}. Each K × N: X [1, 128, K] times a K × N weight (bert-mini: 256 × 256 for Q, K, V and the attention output, 256 × 1024 and 1024 × 256 for the feed-forward). onnxruntime-node: process CPU time; wasm: the worker's CPU time over its runs. Each cell: ratio of medians, then of fastest runs; ms: median, fastest.\n`,
  );
  report.table(
    'op form | K × N | node CPU ms | wasm CPU ms | wasm / node | node: fp32 / this | wasm: fp32 / this',
  );
  const node = createNodeRuntime({ threads: 1 });
  const wasm = await openWasmWorker(1);
  try {
    for (const [k, n] of shapes) {
      const tag = `${k}x${n}`;
      const x = {
        X: hostTensor(
          'float32',
          [1, 128, k!],
          Float32Array.from({ length: 128 * k! }, (_, i) => Math.sin(i)),
        ),
      };
      const runners: Record<string, Runner> = {};
      const sessions = [];
      for (const form of forms) {
        const bytes = readFileSync(join(dir, `${form}_${tag}.onnx`));
        const [a, b] = [
          await node.createSession(bytes, { threads: 1 }),
          await wasm.runtime.createSession(bytes),
        ];
        sessions.push(a, b);
        runners[`node ${form}`] = () => a.run(x);
        runners[`wasm ${form}`] = { run: () => b.run(x), clock: wasm.cpu };
      }
      const ms = await alternating(runners, rounds, runs, cpuMs);
      for (const form of forms) {
        const line = `| ${formNames[form]} | ${k} × ${n} | ${roundMs(ms, `node ${form}`)} | ${roundMs(ms, `wasm ${form}`)} | ${roundRatio(ms, `wasm ${form}`, `node ${form}`)} | ${roundRatio(ms, 'node fp32', `node ${form}`)} | ${roundRatio(ms, 'wasm fp32', `wasm ${form}`)} |`;
        report.push(line);
        console.log(line);
      }
      await Promise.all(sessions.map((s) => s.release()));
    }
  } finally {
    await wasm.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
