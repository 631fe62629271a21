#!/usr/bin/env node
// The full check CI runs: build every package, one Vitest run over the workspace, the consumer job
// (packed tarballs installed with plain npm, README examples run — tooling/scripts/consumer.mjs),
// then lint. Ends with the totals line `N passed, N failed, N skipped` (Vitest's tests plus the
// consumer job's checks) and a non-zero exit on any failure.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

function step(cmd, args) {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  return r.status ?? 1;
}

const pnpm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['pnpm', []];
const run = (...args) => step(pnpm[0], [...pnpm[1], ...args]);

if (run('run', 'build') !== 0) process.exit(1);
step('bash', ['tooling/scripts/ensure-chromium.sh']);
step('bash', ['tooling/scripts/ensure-python-onnx.sh']);

const report = join(mkdtempSync(join(tmpdir(), 'lat-ci-')), 'vitest.json');
const status = run(
  'exec',
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
);
let totals;
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  totals = {
    passed: r.numPassedTests,
    failed: r.numFailedTests,
    skipped: r.numPendingTests + r.numTodoTests,
  };
} catch {
  totals = { passed: 0, failed: 1, skipped: 0 };
  console.error('no Vitest report was written: counting the run as failed');
}
const consumerReport = join(dirname(report), 'consumer.json');
const consumerStatus = step(process.execPath, ['tooling/scripts/consumer.mjs', '--report', consumerReport]);
try {
  const c = JSON.parse(readFileSync(consumerReport, 'utf8'));
  for (const k of ['passed', 'failed', 'skipped']) totals[k] += c[k];
} catch {
  totals.failed += 1;
  console.error('the consumer job wrote no report: counting it as failed');
}
const lintStatus = run('run', 'lint');
if (lintStatus !== 0) console.error('lint failed (see above)');
console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(status !== 0 || consumerStatus !== 0 || totals.failed > 0 || lintStatus !== 0 ? 1 : 0);
