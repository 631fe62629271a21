import { fromBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { ModelProtoSchema } from '../onnx/index.js';
import { nodeRuntime } from '../testing/gradcheck.js';
import { Graph } from './graph.js';
import { inlineIfBranch } from './inline.js';
import { toModelProto } from './serialize.js';

/** y = x · 2 + 1 when n < limit, else −x − offset; only the else branch reads `offset`. */
function branched(): Uint8Array {
  const g = new Graph('if', 'float32');
  const x = g.input('x', 'float32', ['n']);
  const limit = g.input('limit', 'int64', []);
  const offset = g.input('offset', 'float32', []);
  const n = g.squeeze(g.shapeOf(x), [0]);
  const doubled = g.mul(x, g.scalar(2)); // outside, read by the then branch
  const [y, count] = g.ifElse(
    g.less(n, limit),
    () => [g.add(doubled, g.scalar(1)), n], // n: an outer value yielded unchanged
    () => [g.sub(g.neg(x), offset), g.add(n, g.int64(100))],
    'short',
  );
  g.output(y!, 'y');
  g.output(count!, 'count');
  return toModelProto(g);
}

const x = { type: 'float32', dims: [3], data: Float32Array.of(1, -2, 3) } as const;
const feeds = {
  x,
  limit: { type: 'int64', dims: [], data: BigInt64Array.of(5n) },
  offset: { type: 'float32', dims: [], data: Float32Array.of(0.5) },
} as const;

async function run(bytes: Uint8Array, names: readonly string[]) {
  const s = await nodeRuntime.createSession(bytes);
  expect([...s.inputNames].sort()).toEqual([...names].sort());
  const out = await s.run(Object.fromEntries(names.map((k) => [k, feeds[k as keyof typeof feeds]])));
  await s.release();
  return { y: Array.from(out['y']!.data as Float32Array), count: out['count']!.data[0] };
}

describe('inlineIfBranch', () => {
  it("puts the named branch in the If's place and drops what only the condition and the other branch read", async () => {
    const model = branched();
    const then = inlineIfBranch(model, 'short/then')!;
    const otherwise = inlineIfBranch(model, 'short/else')!;
    // Each gives what the If gives when it takes that branch, from only the inputs it reads.
    expect(await run(then, ['x'])).toEqual({ y: [3, -3, 7], count: 3n });
    expect(await run(otherwise, ['x', 'offset'])).toEqual({ y: [-1.5, 1.5, -3.5], count: 103n });
    for (const bytes of [then, otherwise]) {
      const g = fromBinary(ModelProtoSchema, bytes).graph!;
      expect(g.node.map((n) => n.opType)).not.toContain('If');
      expect(g.node.map((n) => n.opType)).not.toContain('Less'); // the condition is gone
    }
  });

  it('returns undefined when the model has no If of that name', () => {
    expect(inlineIfBranch(branched(), 'long/then')).toBeUndefined();
  });
});
