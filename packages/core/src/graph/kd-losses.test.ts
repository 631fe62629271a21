import { describe, expect, it } from 'vitest';
import { gradCheck, nodeRuntime, randoms } from '../testing/gradcheck.js';
import { klDivergence, reverseKlDivergence } from './autodiff.js';
import { Graph } from './graph.js';
import { toModelProto } from './serialize.js';

const teacher = [0.1, 0.2, 0.3, 0.4, 0.7, 0.1, 0.1, 0.1, 0.25, 0.25, 0.25, 0.25];
const logits = Array.from(randoms(12, 5), (x) => 3 * x);

function softmaxRows(x: number[], C: number): number[] {
  return x.map((_, i) => {
    const row = x.slice(i - (i % C), i - (i % C) + C);
    const m = Math.max(...row);
    return Math.exp(x[i]! - m) / row.reduce((s, v) => s + Math.exp(v - m), 0);
  });
}

/** Σ_b Σ_c a log(a / b) / B: the batch-mean KL(a ‖ b) of two row-stochastic [B, C] arrays. */
function kl(a: number[], b: number[], batch: number): number {
  return a.reduce((s, ai, i) => s + (ai > 0 ? ai * Math.log(ai / b[i]!) : 0), 0) / batch;
}

async function lossOf(loss: typeof klDivergence): Promise<number> {
  const g = new Graph('kd', 'float64');
  const p = g.input('p', 'float64', [3, 4]);
  const z = g.input('z', 'float64', [3, 4]);
  g.output(loss(g, p, z), 'loss');
  const s = await nodeRuntime.createSession(toModelProto(g));
  const f64 = (x: number[]) => ({ type: 'float64' as const, dims: [3, 4], data: Float64Array.from(x) });
  const out = await s.run({ p: f64(teacher), z: f64(logits) });
  await s.release();
  return Number(out['loss']!.data[0]);
}

describe('distillation losses equal their formulas', () => {
  it('forward KL(teacher ‖ student) and reverse KL(student ‖ teacher), which differ', async () => {
    const student = softmaxRows(logits, 4);
    const forward = await lossOf(klDivergence);
    const reverse = await lossOf(reverseKlDivergence);
    expect(forward).toBeCloseTo(kl(teacher, student, 3), 10);
    expect(reverse).toBeCloseTo(kl(student, teacher, 3), 10);
    expect(Math.abs(forward - reverse)).toBeGreaterThan(0.05);
  });

  it('reverse KL has correct gradients for the student logits', async () => {
    const err = await gradCheck({
      wrt: { z: { dims: [3, 4], data: Float64Array.from(logits) } },
      feeds: { p: { type: 'float64', dims: [3, 4], data: Float64Array.from(teacher) } },
      build: (g, { z }) => reverseKlDivergence(g, g.value('p'), z!),
    });
    expect(err).toBeLessThan(1e-6);
  });
});
