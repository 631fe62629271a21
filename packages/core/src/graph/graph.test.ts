import { describe, expect, it } from 'vitest';
import { isLatError } from '../errors.js';
import { nodeRuntime } from '../testing/gradcheck.js';
import { Graph } from './graph.js';
import { toModelProto } from './serialize.js';

describe('Graph.ifElse', () => {
  it('runs the then branch when the condition holds and the else branch otherwise, reading outer values', async () => {
    const g = new Graph('if', 'float32');
    const x = g.input('x', 'float32', ['n']);
    const limit = g.input('limit', 'int64', []);
    const n = g.squeeze(g.shapeOf(x), [0]);
    const doubled = g.mul(x, g.scalar(2)); // built outside, read by the then branch
    const [y, count] = g.ifElse(
      g.less(n, limit),
      () => [doubled, n], // a branch may yield outer values unchanged
      () => [g.neg(x), g.add(n, g.int64(100))],
    );
    g.output(y!, 'y');
    g.output(count!, 'count');
    const s = await nodeRuntime.createSession(toModelProto(g));
    const run = (limitValue: number) =>
      s.run({
        x: { type: 'float32', dims: [3], data: Float32Array.of(1, -2, 3) },
        limit: { type: 'int64', dims: [], data: BigInt64Array.of(BigInt(limitValue)) },
      });
    const small = await run(5);
    expect(Array.from(small['y']!.data as Float32Array)).toEqual([2, -4, 6]);
    expect(small['count']!.data[0]).toBe(3n);
    const large = await run(2);
    expect(Array.from(large['y']!.data as Float32Array)).toEqual([-1, 2, -3]);
    expect(large['count']!.data[0]).toBe(103n);
    await s.release();
  });

  it('refuses branches that yield different dtypes', () => {
    const g = new Graph('if', 'float32');
    const x = g.input('x', 'float32', [2]);
    const cond = g.input('c', 'bool', []);
    try {
      g.ifElse(
        cond,
        () => [x],
        () => [g.int64(1)],
      );
      expect.unreachable();
    } catch (e) {
      expect(isLatError(e, 'BAD_INPUT')).toBe(true);
      expect((e as Error).message).toMatch(/same dtypes/);
    }
  });
});
