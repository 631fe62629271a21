/** The markdown report a bench run writes: sections append lines, the run saves after each one. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

export class Report {
  private readonly lines: string[] = [];

  push(...lines: string[]): void {
    this.lines.push(...lines);
  }

  /** A table's heading, followed by the CPU it ran on (machines differ: AVX-512, VNNI, AMX). */
  heading(title: string): void {
    const line = `${cpuLine()}; load average ${loadavg()[0]!.toFixed(2)} when it started`;
    this.lines.push(`\n### ${title}\n`, `${line}.\n`);
    console.log(`  ${line}`);
  }

  /** A markdown table's header row (`columns`: "a | b | c") and separator. */
  table(columns: string): void {
    this.lines.push(`| ${columns} |`, `|${'---|'.repeat(columns.split(' | ').length)}`);
  }

  /** Writes what was measured so far (a failing section keeps the ones before it). */
  save(file: string): void {
    writeFileSync(file, `${this.lines.join('\n')}\n`);
  }
}

/** A number with `d` decimals, or – when it was not measured. */
export const fmt = (x: number | undefined, d = 2) => (x === undefined ? '–' : x.toFixed(d));

/** Mean and population standard deviation (over seeds), and "mean ± std" scaled (default: %). */
export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
export const std = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
export const pm = (xs: number[], scale = 100, digits = 1) =>
  `${fmt(mean(xs) * scale, digits)} ± ${fmt(std(xs) * scale, digits)}`;

/** The SIMD features that decide int8 and fp32 kernel speed, in the order they matter least to most. */
const simdFlags = [
  'sse4_2',
  'avx',
  'avx2',
  'fma',
  'avx_vnni',
  'avx512f',
  'avx512bw',
  'avx512vl',
  'avx512_vnni',
  'avx512_bf16',
  'avx512_fp16',
  'amx_tile',
  'amx_int8',
  'amx_bf16',
];

/** 'CPU: <model>, N cores, SIMD flags: …' from /proc/cpuinfo (Linux), or what Node knows elsewhere. */
export function cpuLine(): string {
  const info = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? cpus()[0]?.model ?? 'unknown CPU';
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(/\s+/));
  const present = simdFlags.filter((f) => flags.has(f));
  return `CPU: ${model}, ${cpus().length} cores, SIMD flags: ${present.length ? present.join(' ') : 'unknown'}`;
}
