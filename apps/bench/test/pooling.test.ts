import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mean, pm, Report, std } from '../src/report.js';
import {
  type AccuracyRun,
  accuracyTableRows,
  lengthTuneOptions,
  poolingAccuracy,
} from '../src/sections/pooling.js';
import { pairedDifference } from '../src/sections/pooling-qa.js';

const run = (seed: number, n: number, variant: number, acc: number, ms: number, tuneS = 10): AccuracyRun => ({
  seed,
  n,
  variant,
  name: ['full attention', 'blockwise (512)', 'pooled once → 256'][variant]!,
  what: 'layout',
  acc,
  ms,
  macs: 1e6 * (variant + 1),
  tuneS,
  tuned: true,
});

describe('pooling accuracy table over seeds', () => {
  it('mean ± std is the population std over seeds', () => {
    expect(mean([0.7, 0.8, 0.9])).toBeCloseTo(0.8, 12);
    expect(std([0.7, 0.8, 0.9])).toBeCloseTo(Math.sqrt(0.02 / 3), 12);
    expect(pm([0.7, 0.8, 0.9])).toBe('80.0 ± 8.2');
    expect(pm([0.5])).toBe('50.0 ± 0.0');
  });

  it('one row per variant at n: mean ± std, each seed, Δ of means vs blockwise and full, speed from mean ms', () => {
    const runs = [
      run(1, 4096, 0, 0.8, 400),
      run(2, 4096, 0, 0.9, 600, 30),
      run(1, 4096, 1, 0.5, 100),
      run(2, 4096, 1, 0.6, 100),
      run(1, 4096, 2, 0.75, 20),
      run(2, 4096, 2, 0.85, 30),
      run(1, 2048, 2, 0.1, 1), // another length: not in the 4096 rows
    ];
    expect(accuracyTableRows(runs, 4096)).toEqual([
      '| 4096 | full attention | layout | 85.0 ± 5.0% | 80.0 / 90.0 | 30.0 | 0.0 | 500.0 | 0.20× | 1 | 20 |',
      '| 4096 | blockwise (512) | layout | 55.0 ± 5.0% | 50.0 / 60.0 | 0.0 | -30.0 | 100.0 | 1.00× | 2 | 10 |',
      '| 4096 | pooled once → 256 | layout | 80.0 ± 5.0% | 75.0 / 85.0 | 25.0 | -5.0 | 25.0 | 4.00× | 3 | 10 |',
    ]);
  });

  it('without blockwise or full attention in the run, their columns say –; untuned rows are marked †', () => {
    const rows = accuracyTableRows([{ ...run(1, 2048, 2, 0.75, 20), tuned: false }], 2048);
    expect(rows).toEqual([
      '| 2048 | pooled once → 256 † | layout | 75.0 ± 0.0% | 75.0 | – | – | 20.0 | – | 3 | – |',
    ]);
  });
});

describe('fine-tuning at length', () => {
  it('pooled and blockwise variants run batch 4; full attention accumulates to the same effective batch', () => {
    expect(lengthTuneOptions(false, 1, 1)).toEqual({ epochs: 1, batchSize: 4, learningRate: 1e-3 });
    expect(lengthTuneOptions(true, 1, 2)).toEqual({
      epochs: 2,
      batchSize: 1,
      gradAccumulation: 4,
      learningRate: 1e-3,
    });
    expect(lengthTuneOptions(true, 2, 1)).toMatchObject({ batchSize: 2, gradAccumulation: 2 });
    expect(lengthTuneOptions(true, 4, 1)).toMatchObject({ batchSize: 4, gradAccumulation: 1 });
  });

  it('a full-attention batch that does not divide 4 is refused, naming the flag', () => {
    expect(() => lengthTuneOptions(true, 3, 1)).toThrow(
      '--pooling-full-batch: must divide the effective batch of 4, got 3',
    );
  });
});

describe('--pooling-out', () => {
  it('reuses every finished (seed, variant) from the JSON lines file instead of training it again; seeds in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lat-bench-pooling-test-'));
    const out = join(dir, 'runs.jsonl');
    const line = (seed: number, acc: number) =>
      JSON.stringify({
        seed,
        variant: 2,
        short: { variant: 2, name: 'pooled once → 16', acc: 0.8, trainS: 5 },
        runs: [2048, 4096].map((n) => ({ ...run(seed, n, 2, acc, 20), name: `pooled once → 256 (${n})` })),
      });
    writeFileSync(out, `${line(1, 0.7)}\n${line(2, 0.9)}\n`);
    const argv = process.argv;
    process.argv = [
      ...argv.slice(0, 2),
      ...['--pooling-seeds', '2,1', '--pooling-variants', '2', '--pooling-out', out],
      ...[
        '--pooling-tokens',
        '64',
        '--pooling-train',
        '4',
        '--pooling-long-train',
        '2',
        '--pooling-long-dev',
        '2',
      ],
    ];
    const report = new Report();
    try {
      await poolingAccuracy(report); // would train for minutes if it did not reuse the file
    } finally {
      process.argv = argv;
    }
    report.save(join(dir, 'report.md'));
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain(
      '| 4096 | pooled once → 256 (4096) | layout | 80.0 ± 10.0% | 70.0 / 90.0 | – | – | 20.0 | – | 3 | 10 |',
    );
    expect(md).toContain('| 2048 | pooled once → 256 (2048) |');
    expect(md).toContain('pooled once → 16 80.0 ± 0.0% (5 s)');
  });

  it('a variant index outside 0–4 is refused before any training', async () => {
    const argv = process.argv;
    process.argv = [...argv.slice(0, 2), '--pooling-variants', '2,5'];
    try {
      await expect(poolingAccuracy(new Report())).rejects.toThrow(
        '--pooling-variants: must be a comma-separated list of whole numbers from 0 to 4, got 2,5',
      );
    } finally {
      process.argv = argv;
    }
  });
});

describe('pairedDifference', () => {
  it('is the mean per-question difference in points with its normal 95% half-width', () => {
    // Differences 0, 1, 0, 0: mean 0.25, sample sd 0.5, so ±1.96 · 0.5 / √4.
    expect(pairedDifference([1, 1, 0, 1], [1, 0, 0, 1])).toEqual({ mean: 25, half: expect.closeTo(49, 9) });
    expect(pairedDifference([1, 0], [1, 0])).toEqual({ mean: 0, half: 0 });
  });
});
