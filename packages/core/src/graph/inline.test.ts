import { fromBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { ModelProtoSchema } from '../onnx/index.js';
import { nodeRuntime } from '../testing/gradcheck.js';
import { Graph } from './graph.js';
import { inlineIfBranches } from './inline.js';
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
    () => [
      // An If inside the branch, inlined too when named.
      g.ifElse(
        g.less(n, g.int64(1000)),
        () => [g.sub(g.neg(x), offset)],
        () => [x],
        'inner',
      )[0]!,
      g.add(n, g.int64(100)),
    ],
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

describe('inlineIfBranches', () => {
  it("puts the named branch in the If's place and drops what only the condition and the other branch read", async () => {
    const model = branched();
    const then = inlineIfBranches(model, ['short/then'])!;
    const otherwise = inlineIfBranches(model, ['short/else'])!;
    // Each gives what the If gives when it takes that branch, from only the inputs it reads.
    expect(await run(then, ['x'])).toEqual({ y: [3, -3, 7], count: 3n });
    expect(await run(otherwise, ['x', 'offset'])).toEqual({ y: [-1.5, 1.5, -3.5], count: 103n });
    const nested = inlineIfBranches(model, ['short/else', 'inner/then'])!;
    expect(await run(nested, ['x', 'offset'])).toEqual({ y: [-1.5, 1.5, -3.5], count: 103n });
    const ops = (bytes: Uint8Array) => fromBinary(ModelProtoSchema, bytes).graph!.node.map((n) => n.opType);
    expect(ops(otherwise)).toContain('If'); // the inner If, not named
    for (const bytes of [then, nested]) {
      expect(ops(bytes)).not.toContain('If');
      expect(ops(bytes)).not.toContain('Less'); // the conditions are gone
    }
  });

  it('returns undefined when the model has no If of the first name', () => {
    expect(inlineIfBranches(branched(), ['long/then', 'short/then'])).toBeUndefined();
  });
});
