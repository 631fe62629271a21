/**
 * The first segment of an input (real tokens of token type 0), the one definition both blockwise
 * attention's global rows and pooling's kept rows read: its values against the definition on
 * arrays, without token types (every real token), and the global rows as it within the first count.
 */
import { Graph, type HostTensor, toModelProto, type Value } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { globalRows } from './attention.js';
import { firstSegment, range } from './rows.js';

const runtime = createNodeRuntime({ threads: 1 });
const [B, n] = [2, 6];
const mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]; // the second example padded after 4 tokens
const types = [0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0]; // questions of 3 and 2 tokens

/** Runs `build(g, mask, types, positions)` on the inputs above; the values of its [B, n] output. */
async function rowsOf(build: (g: Graph, mask: Value, types: Value, positions: Value) => Value) {
  const g = new Graph('rows');
  const m = g.input('mask', 'float32', [B, n]);
  const t = g.input('types', 'int64', [B, n]);
  g.output(build(g, m, t, range(g, g.int64(n))), 'rows');
  const s = await runtime.createSession(toModelProto(g));
  const feeds: Record<string, HostTensor> = {
    mask: { type: 'float32', dims: [B, n], data: Float32Array.from(mask) },
    types: { type: 'int64', dims: [B, n], data: BigInt64Array.from(types, BigInt) },
  };
  const out = (await s.run(feeds))['rows']!;
  await s.release();
  return Array.from(out.data as Float32Array);
}

describe('firstSegment', () => {
  it('is 1 for real tokens of token type 0, and every real token without token types', async () => {
    expect(await rowsOf((g, m, t) => firstSegment(g, m, t))).toEqual(
      mask.map((real, i) => (real && types[i] === 0 ? 1 : 0)),
    );
    expect(await rowsOf((g, m) => firstSegment(g, m))).toEqual(mask);
  });

  it("gives blockwise attention's global rows: the first segment within the first count positions", async () => {
    const count = 2;
    const global = await rowsOf((g, m, t, positions) => globalRows(g, count, m, positions, t).isGlobal);
    expect(global).toEqual(mask.map((real, i) => (real && types[i] === 0 && i % n < count ? 1 : 0)));
  });
});
