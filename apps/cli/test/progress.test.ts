import { describe, expect, it } from 'vitest';
import { createProgress, formatDuration, type StepProgress } from '../src/progress.js';

const step = (n: number, total = 100): StepProgress => ({
  step: n,
  totalSteps: total,
  epoch: Math.floor((n - 1) / 50),
  loss: 1 / n,
  lr: 1e-3,
  tokensPerSec: 2500.4,
  etaSec: (total - n) * 1.5,
});

describe('training progress without a terminal', () => {
  it('prints a line on the first step, every N steps, once a minute in between, and on the last step', () => {
    const lines: string[] = [];
    let clock = 0;
    const p = createProgress((l) => lines.push(l), {
      tty: false,
      epochs: 2,
      everySteps: 25,
      now: () => clock,
    });
    for (let n = 1; n <= 100; n++) {
      clock += n === 31 ? 61_000 : 100; // a slow step: the minute rule prints step 31
      p.step(step(n));
    }
    p.line('epoch 2: accuracy 0.9000');
    expect(lines.map((l) => l.split(' ')[1])).toEqual([
      '1/100',
      '25/100',
      '31/100',
      '50/100',
      '75/100',
      '100/100',
      '2:',
    ]);
    expect(lines[0]).toBe('step 1/100 (1%) · epoch 1/2 · loss 1.0000 · lr 1.00e-3 · 2500 tok/s · ETA 2m29s');
    expect(lines[4]).toContain('epoch 2/2');
  });

  it('defaults to about 20 lines per run', () => {
    const lines: string[] = [];
    const p = createProgress((l) => lines.push(l), { tty: false, epochs: 1, now: () => 0 });
    for (let n = 1; n <= 1000; n++) p.step(step(n, 1000));
    expect(lines).toHaveLength(21);
  });

  it('formats durations for ETAs', () => {
    expect([
      formatDuration(5),
      formatDuration(125),
      formatDuration(3 * 3600 + 300),
      formatDuration(Number.NaN),
    ]).toEqual(['5s', '2m05s', '3h05m', '?']);
  });
});
