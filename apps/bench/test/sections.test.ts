/**
 * The sections that time several sessions in turn still write their tables: a tiny random model,
 * one round of two steps. The figures are not checked (this machine is shared); every row and
 * its ratio cells are.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeRuntime } from '@lat/runtime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { Report } from '../src/report.js';
import { exportedBaselines, exporterMissing, fullLengthOverhead } from '../src/sections/exported.js';
import { inference } from '../src/sections/inference.js';
import { quantized } from '../src/sections/quantized.js';
import type { Size } from '../src/setup.js';

const tiny: Size = { name: 'tiny', layers: 2, hidden: 32, heads: 2, ffn: 64 };
const shapes: [number, number][] = [
  [1, 16],
  [2, 24],
];
const once = { rounds: 1, runs: 2 };
const runtime = createNodeRuntime({ threads: 1, spinning: false });
const dir = mkdtempSync(join(tmpdir(), 'lat-bench-sections-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The report's table rows (after the header and separator) for the given first-column value. */
function rows(report: Report, first: string): string[][] {
  const file = join(dir, 'report.md');
  report.save(file);
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`| ${first} |`))
    .map((l) => l.split(' | ').map((c) => c.replace(/^\| | \|$/g, '')));
}

/** A ratio over rounds as `spread` prints it: `m× (lo–hi)`. */
const ratio = /^\d+\.\d\d× \(\d+\.\d\d–\d+\.\d\d\)/;
const ms = /^\d+\.\d\d$/;

describe('bench sections timed in turn, on a tiny random model', () => {
  it('inference: a row per shape, ms and ratios with their spread, the r columns', async () => {
    const report = new Report();
    await inference(report, runtime, 'onnxruntime-node, 1 thread', [tiny], shapes, once);
    const got = rows(report, 'tiny');
    expect(got.map((r) => r[1])).toEqual(['1 × 16', '2 × 24']);
    for (const r of got) {
      expect(r).toHaveLength(12);
      for (const i of [2, 3, 6]) expect(r[i]).toMatch(ms);
      expect(r[4]).toMatch(ratio);
      for (const i of [9, 10, 11]) expect(r[i]).toMatch(/^\d+\.\d\d× \(.*\) \(MACs \d+\.\d\d×, \d+%\)$/);
    }
  }, 60_000);

  it('q8 vs fp32: a row per shape, every ratio with its spread', async () => {
    const report = new Report();
    await quantized(report, runtime, 'onnxruntime-node, 1 thread', [tiny], shapes, once);
    const got = rows(report, 'tiny');
    expect(got).toHaveLength(2);
    for (const r of got) {
      expect(r).toHaveLength(9);
      for (const cell of r.slice(4)) expect(cell).toMatch(ratio);
    }
  }, 60_000);

  // These two export the weights with PyTorch (Debian's python3-torch).
  const torch = exporterMissing() === undefined;

  it.skipIf(!torch)(
    'exported: a row per shape, q8 cells only at the q8 shapes',
    async () => {
      const report = new Report();
      await exportedBaselines(report, runtime, [tiny], shapes, [shapes[0]!], once);
      const got = rows(report, 'tiny');
      expect(got.map((r) => r[1])).toEqual(['1 × 16', '2 × 24']);
      for (const r of got) expect(r).toHaveLength(11);
      for (const i of [3, 4, 6, 8, 9, 10]) expect(got[0]![i]).toMatch(ratio);
      expect(got[1]!.slice(3, 7).every((c, i) => i === 2 || ratio.test(c))).toBe(true);
      expect(got[1]!.slice(7)).toEqual(['–', '–', '–', '–']);
    },
    90_000,
  );

  it.skipIf(!torch)(
    'overhead: a row per shape, every ratio with its spread',
    async () => {
      const report = new Report();
      await fullLengthOverhead(report, runtime, [tiny], shapes, once);
      const got = rows(report, 'tiny');
      expect(got).toHaveLength(2);
      for (const r of got) {
        expect(r).toHaveLength(14);
        for (const i of [3, 4, 5, 6, 7, 8, 10, 11, 12, 13]) expect(r[i]).toMatch(ratio);
      }
    },
    90_000,
  );
});
