import { spawnSync } from 'node:child_process';
import { runLinearModel } from '@lat/core/testing';
import { describe, expect, it } from 'vitest';
import { createNodeRuntime } from './index.js';

describe('onnxruntime-node runtime', () => {
  it('runs a graph built in the test and returns the right numbers', async () => {
    const r = await runLinearModel(createNodeRuntime());
    expect(r.inputNames).toEqual(['x']);
    expect(r.dims).toEqual([3, 3]);
    expect(r.got).toEqual(r.want);
  });

  it('opens sessions whose idle threads do not spin, with the same numbers', async () => {
    const r = await runLinearModel(createNodeRuntime({ threads: 2, spinning: false }));
    expect(r.got).toEqual(r.want);
  });

  it('survives a process with a 100 KB command line (onnxruntime telemetry would segfault)', () => {
    // Through the built package, in a fresh process whose argv holds one 100 KB argument.
    // One line: the telemetry's regex stops at a newline, so a multi-line -e script hides the crash.
    const script = [
      "import { createNodeRuntime } from '@lat/runtime-node';",
      "import { runLinearModel } from '@lat/core/testing';",
      'const r = await runLinearModel(createNodeRuntime({ threads: 1 }));',
      'console.log(JSON.stringify(r.got));',
    ].join(' ');
    // Without the variable this test process itself got by importing the runtime.
    const { ORT_DISABLE_TELEMETRY: _, ...env } = process.env;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, 'x'.repeat(100_000)], {
      cwd: import.meta.dirname,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\[/);
  });
});
