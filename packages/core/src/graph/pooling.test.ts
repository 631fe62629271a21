import { describe, expect, it } from 'vitest';
import { Rng } from '../random.js';
import type { HostTensor } from '../runtime.js';
import { gradCheck, nodeRuntime, randoms } from '../testing/gradcheck.js';
import { Graph, type Value } from './graph.js';
import { halvingRounds, iterativeSoftmaxTopK, mergeBase, successiveHalvingTopK } from './pooling.js';
import { toModelProto } from './serialize.js';

type Rows = number[][];

/**
 * The algorithm of REFERENCE.md §4 written out on plain arrays, one example at a time, on its
 * real rows only (padding dropped): what each example's real output rows must be.
 */
function halvingReference(
  e: Rows,
  s: number[],
  real: boolean[],
  k: number,
  maxRows: number,
  keepFirst = false,
  kept: boolean[] = [],
) {
  let rows = e.map((v, i) => ({ v, s: s[i]!, pos: i, kept: !!kept[i] })).filter((_, i) => real[i]);
  for (let r = 0; r < Math.log2(maxRows / k); r++) {
    const m = rows.length;
    const h = Math.min(m, Math.max(Math.ceil(m / 2), k));
    const isKept = (i: number) => (keepFirst && i === 0) || rows[i]!.kept;
    const rank = (i: number) => (isKept(i) ? 2 : rows[i]!.s);
    const order = rows.map((_, i) => i).sort((a, b) => rank(b) - rank(a) || a - b);
    const pairs = order.slice(0, h).map((a, j) => [a, j < m - h ? order[m - 1 - j]! : a] as const);
    pairs.sort((x, y) => x[0] - y[0]);
    rows = pairs.map(([a, b]) => {
      const A = rows[a]!;
      const B = rows[b]!;
      const za = mergeBase ** A.s;
      const zb = mergeBase ** B.s;
      const wa = isKept(a) ? 1 : Math.exp(za) / (Math.exp(za) + Math.exp(zb));
      const wb = 1 - wa;
      return {
        v: A.v.map((x, i) => wa * x + wb * B.v[i]!),
        s: wa * A.s + wb * B.s,
        pos: A.pos,
        kept: A.kept,
      };
    });
  }
  return rows;
}

/** The iterative softmax top-k loop as the paper states it: k times softmax, take, mask the max. */
function iterativeReference(e: Rows, s: number[], real: boolean[], k: number) {
  const cur = s.map((x, i) => (real[i] ? x : -1e4));
  const out: { v: number[]; pos: number }[] = [];
  for (let t = 0; t < Math.min(k, s.length); t++) {
    let arg = 0;
    for (let i = 1; i < cur.length; i++) if (cur[i]! > cur[arg]!) arg = i;
    const mx = cur[arg]!;
    const logits = cur.map((x) => -((x - mx) ** 2));
    const top = Math.max(...logits);
    const w = logits.map((l) => Math.exp(l - top));
    const z = w.reduce((a, b) => a + b, 0);
    out.push({ v: e[0]!.map((_, d) => e.reduce((acc, row, i) => acc + (w[i]! / z) * row[d]!, 0)), pos: arg });
    cur[arg] = -1e4;
  }
  return out.sort((a, b) => a.pos - b.pos);
}

const f64 = (dims: number[], data: ArrayLike<number>): HostTensor => ({
  type: 'float64',
  dims,
  data: Float64Array.from(data),
});

/** Runs an operator in float64 on a batch; returns states, mask and positions per example. */
async function runOperator(
  op: 'halving' | 'iterative',
  e: Rows[],
  s: number[][],
  real: boolean[][],
  o: { k: number; maxRows: number; keepFirst?: boolean; kept?: boolean[][] },
) {
  const B = e.length;
  const n = e[0]!.length;
  const d = e[0]![0]!.length;
  const g = new Graph('pool', 'float64');
  const states = g.input('states', 'float64', ['batch', 'n', d]);
  const scores = g.input('scores', 'float64', ['batch', 'n']);
  const mask = g.input('mask', 'float64', ['batch', 'n']);
  const positions = g.input('positions', 'int64', ['batch', 'n']);
  const kept = o.kept && g.input('kept', 'float64', ['batch', 'n']);
  const input = { scores, mask, positions, keepFirst: o.keepFirst ?? false, ...(kept ? { kept } : {}) };
  const plan = op === 'halving' ? successiveHalvingTopK(g, input, o) : iterativeSoftmaxTopK(g, input, o);
  g.output(plan.apply(states), 'out');
  g.output(plan.mask, 'out_mask');
  g.output(plan.positions, 'out_positions');
  g.output(plan.scores, 'out_scores');
  const session = await nodeRuntime.createSession(toModelProto(g));
  const res = await session.run({
    states: f64([B, n, d], e.flat(2)),
    scores: f64([B, n], s.flat()),
    mask: f64([B, n], real.flat().map(Number)),
    positions: {
      type: 'int64',
      dims: [B, n],
      data: BigInt64Array.from({ length: B * n }, (_, i) => BigInt(i % n)),
    },
    ...(o.kept ? { kept: f64([B, n], o.kept.flat().map(Number)) } : {}),
  });
  await session.release();
  const k = res['out']!.dims[1]!;
  const out = res['out']!.data as Float64Array;
  return Array.from({ length: B }, (_, b) => ({
    rows: Array.from({ length: k }, (_, j) => Array.from(out.subarray((b * k + j) * d, (b * k + j + 1) * d))),
    mask: Array.from((res['out_mask']!.data as Float64Array).subarray(b * k, (b + 1) * k)),
    positions: Array.from((res['out_positions']!.data as BigInt64Array).subarray(b * k, (b + 1) * k), Number),
    scores: Array.from((res['out_scores']!.data as Float64Array).subarray(b * k, (b + 1) * k)),
  }));
}

function randomCase(seed: number, B: number, n: number, d: number, realLengths: number[]) {
  const rng = new Rng(seed);
  const e = Array.from({ length: B }, () =>
    Array.from({ length: n }, () => Array.from({ length: d }, () => rng.next() * 2 - 1)),
  );
  const s = Array.from({ length: B }, () => Array.from({ length: n }, () => 1e-5 + rng.next()));
  const real = realLengths.map((len) => Array.from({ length: n }, (_, i) => i < len));
  return { e, s, real };
}

const cosine = (a: number[], b: number[]) => {
  const dot = a.reduce((acc, x, i) => acc + x * b[i]!, 0);
  return dot / Math.hypot(...a) / Math.hypot(...b);
};

describe('successive-halving top-k', () => {
  it('k = n is the identity (no rounds, and rounds built for longer inputs merge nothing)', async () => {
    const { e, s, real } = randomCase(1, 2, 8, 5, [8, 6]);
    for (const maxRows of [8, 32]) {
      const out = await runOperator('halving', e, s, real, { k: 8, maxRows });
      out.forEach((r, b) => {
        expect(r.rows).toEqual(e[b]);
        expect(r.positions).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
        expect(r.mask).toEqual(real[b]!.map(Number));
        expect(r.scores).toEqual(s[b]);
      });
    }
  });

  it('matches the algorithm written out on arrays: lengths, document order, padding last', async () => {
    // Full inputs (exact halving), shorter ones (partial rounds), padding, and fewer real rows than k.
    const { e, s, real } = randomCase(2, 4, 16, 3, [16, 13, 9, 3]);
    for (const [k, keepFirst] of [
      [8, false],
      [4, false],
      [2, false],
      [4, true],
      [2, true],
    ] as const) {
      const out = await runOperator('halving', e, s, real, { k, maxRows: 16, keepFirst });
      out.forEach((r, b) => {
        const want = halvingReference(e[b]!, s[b]!, real[b]!, k, 16, keepFirst);
        expect(r.rows.length).toBe(k);
        // The real rows come first, in document order; padding slots after them.
        expect(r.mask).toEqual(Array.from({ length: k }, (_, j) => Number(j < want.length)));
        const n = want.length;
        expect(r.positions.slice(0, n)).toEqual(want.map((x) => x.pos));
        r.rows
          .slice(0, n)
          .forEach((row, j) => row.forEach((v, i) => expect(v).toBeCloseTo(want[j]!.v[i]!, 10)));
        r.scores.slice(0, n).forEach((v, j) => expect(v).toBeCloseTo(want[j]!.s, 10));
      });
    }
  });

  it('gives an example the same rows whatever its batch is padded to', async () => {
    const { e, s, real } = randomCase(10, 1, 12, 3, [12]);
    const [alone] = await runOperator('halving', e, s, real, { k: 4, maxRows: 32 });
    const padded = (x: number[][] | number[], fill: () => unknown) => [
      ...x,
      ...Array.from({ length: 20 }, fill),
    ];
    const [inBatch] = await runOperator(
      'halving',
      [padded(e[0]!, () => [9, 9, 9]) as Rows],
      [padded(s[0]!, () => 0.99) as number[]],
      [[...real[0]!, ...new Array(20).fill(false)]],
      { k: 4, maxRows: 32 },
    );
    expect(inBatch!.positions).toEqual(alone!.positions);
    inBatch!.rows.forEach((row, j) => row.forEach((v, i) => expect(v).toBeCloseTo(alone!.rows[j]![i]!, 12)));
  });

  it('well-separated scores give the hard top-k rows (cosine ≈ 1), in document order', async () => {
    const n = 32;
    const k = 4;
    const rng = new Rng(3);
    const top = [3, 11, 20, 27];
    const { e, real } = randomCase(4, 1, n, 6, [n]);
    const s = [
      Array.from({ length: n }, (_, i) => (top.includes(i) ? 0.95 + rng.next() * 0.05 : rng.next() * 0.05)),
    ];
    const [r] = await runOperator('halving', e, s, real, { k, maxRows: n });
    expect(r!.positions).toEqual(top);
    r!.rows.forEach((row, j) => expect(cosine(row, e[0]![top[j]!]!)).toBeGreaterThan(0.99999));
  });

  it('keepFirst keeps row 0 first and unmerged (its state and score as they were), even when it scores lowest', async () => {
    for (const first of [1e-5, 0.5, 1]) {
      const { e, s, real } = randomCase(5, 1, 16, 3, [16]);
      s[0]![0] = first;
      const [r] = await runOperator('halving', e, s, real, { k: 4, maxRows: 16, keepFirst: true });
      expect(r!.positions[0]).toBe(0);
      expect(r!.rows[0]).toEqual(e[0]![0]);
      expect(r!.scores[0]).toBe(first);
    }
  });

  // A question-like prefix of q rows kept (span QA's first segment), per example.
  const prefix = (real: boolean[][], q: number[]) => real.map((r, b) => r.map((_, i) => i < q[b]!));

  it('kept rows: matches the algorithm on arrays, each kept row bit-equal to its input and its score', async () => {
    const { e, s, real } = randomCase(12, 4, 16, 3, [16, 13, 9, 3]);
    // Kept rows scoring lowest are the hard case: without the mask they would be merged away.
    for (const row of s) for (let i = 0; i < 4; i++) row[i] = 1e-5 + i * 1e-3;
    for (const [k, q] of [
      [4, [4, 3, 1, 2]],
      [4, [2, 2, 2, 2]],
      [8, [5, 1, 8, 3]],
      [2, [2, 1, 2, 0]],
    ] as const) {
      const kept = prefix(real, [...q]);
      const out = await runOperator('halving', e, s, real, { k, maxRows: 16, keepFirst: true, kept });
      out.forEach((r, b) => {
        const want = halvingReference(e[b]!, s[b]!, real[b]!, k, 16, true, kept[b]);
        const n = want.length;
        expect(r.mask).toEqual(Array.from({ length: k }, (_, j) => Number(j < n)));
        expect(r.positions.slice(0, n)).toEqual(want.map((x) => x.pos));
        r.rows
          .slice(0, n)
          .forEach((row, j) => row.forEach((v, i) => expect(v).toBeCloseTo(want[j]!.v[i]!, 10)));
        r.scores.slice(0, n).forEach((v, j) => expect(v).toBeCloseTo(want[j]!.s, 10));
        // The kept rows come out first (they are a prefix), exactly as they went in.
        const q0 = Math.min(q[b]!, n);
        expect(r.positions.slice(0, q0)).toEqual(Array.from({ length: q0 }, (_, i) => i));
        for (let i = 0; i < q0; i++) {
          expect(r.rows[i]).toEqual(e[b]![i]);
          expect(r.scores[i]).toBe(s[b]![i]);
        }
      });
    }
  });

  it('kept rows: k = n is still the identity, and kept padding is ignored', async () => {
    const { e, s, real } = randomCase(13, 2, 8, 5, [8, 6]);
    // Row 7 of example 1 is padding marked kept: it must neither rank first nor count.
    const kept = [
      [true, true, false, false, false, false, false, false],
      [true, false, false, false, false, false, false, true],
    ];
    for (const maxRows of [8, 32]) {
      const out = await runOperator('halving', e, s, real, { k: 8, maxRows, keepFirst: true, kept });
      out.forEach((r, b) => {
        expect(r.rows).toEqual(e[b]);
        expect(r.positions).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
        expect(r.mask).toEqual(real[b]!.map(Number));
        expect(r.scores).toEqual(s[b]);
      });
    }
    const [, short] = await runOperator('halving', e, s, real, { k: 2, maxRows: 8, keepFirst: true, kept });
    expect(short!.positions).toEqual(
      halvingReference(e[1]!, s[1]!, real[1]!, 2, 8, true, kept[1]).map((x) => x.pos),
    );
  });

  it('iterative softmax refuses kept rows in one line (it cannot keep a row intact)', () => {
    const g = new Graph('pool', 'float64');
    const v = (name: string) => g.input(name, 'float64', ['batch', 'n']);
    expect(() =>
      iterativeSoftmaxTopK(
        g,
        { scores: v('s'), mask: v('m'), positions: g.input('p', 'int64', ['batch', 'n']), kept: v('k') },
        { k: 2 },
      ),
    ).toThrow(/^pooling: iterative softmax mixes every row.*use successive halving$/);
  });

  it('gradients of states and scores (through a sigmoid scorer) match finite differences away from ties', async () => {
    const B = 2;
    const n = 8;
    const d = 3;
    const maskData = Float64Array.from({ length: B * n }, (_, i) => (i >= n + 6 ? 0 : 1));
    const err = await gradCheck({
      wrt: {
        states: { dims: [B, n, d], data: randoms(B * n * d, 6) },
        // Logits spread out so ±1e-6 never reorders rows (no ties).
        logits: { dims: [B, n], data: Float64Array.from(randoms(B * n, 7), (x, i) => x * 2 + (i % 5) * 0.3) },
      },
      feeds: {
        mask: { type: 'float64', dims: [B, n], data: maskData },
        positions: {
          type: 'int64',
          dims: [B, n],
          data: BigInt64Array.from({ length: B * n }, (_, i) => BigInt(i % n)),
        },
        // Kept rows 2 and 5 of example 0, row 1 of example 1 (besides [CLS] with keepFirst).
        kept: {
          type: 'float64',
          dims: [B, n],
          data: Float64Array.from({ length: B * n }, (_, i) => Number([2, 5, n + 1].includes(i))),
        },
      },
      build: (g, { states, logits }) => {
        const mask = g.value('mask');
        const scores = g.add(g.sigmoid(logits!), g.scalar(1e-5));
        const plan = (keepFirst: boolean, kept?: Value) =>
          successiveHalvingTopK(
            g,
            { scores, mask, positions: g.value('positions'), keepFirst, ...(kept ? { kept } : {}) },
            { k: kept ? 4 : 2, maxRows: 8 },
          );
        // Every pairing (plain, [CLS] kept first, kept rows); static shapes for the check's random projection.
        const out = (p: ReturnType<typeof plan>, k = 2) =>
          g.reshape(g.add(p.apply(states!), g.unsqueeze(p.scores, [2])), [B, k, d]);
        return g.concat([out(plan(false)), out(plan(true)), out(plan(true, g.value('kept')), 4)], 1);
      },
    });
    expect(err).toBeLessThan(1e-6);
  });

  it('refuses a width not reachable by halving, in one line', () => {
    expect(() => halvingRounds(4096, 1000)).toThrow(
      /width 1000 is not reachable by halving 4096 rows.*use 2048, 1024, 512/,
    );
    expect(() => halvingRounds(512, 1024)).toThrow(/not reachable/);
    expect(halvingRounds(4096, 1024)).toBe(2);
  });
});

describe('iterative softmax top-k (the comparison operator)', () => {
  it('matches the k-iteration loop of the paper, rows in document order', async () => {
    const { e, s, real } = randomCase(8, 2, 10, 3, [10, 7]);
    const out = await runOperator('iterative', e, s, real, { k: 4, maxRows: 10 });
    out.forEach((r, b) => {
      const want = iterativeReference(e[b]!, s[b]!, real[b]!, 4);
      expect(r.positions).toEqual(want.map((x) => x.pos));
      r.rows.forEach((row, j) => row.forEach((v, i) => expect(v).toBeCloseTo(want[j]!.v[i]!, 8)));
    });
  });

  it('gradients match finite differences', async () => {
    const err = await gradCheck({
      wrt: {
        states: { dims: [1, 6, 2], data: randoms(12, 9) },
        scores: { dims: [1, 6], data: Float64Array.from([0.9, 0.2, 0.6, 0.75, 0.1, 0.4]) },
      },
      feeds: {
        mask: { type: 'float64', dims: [1, 6], data: new Float64Array(6).fill(1) },
        positions: { type: 'int64', dims: [1, 6], data: BigInt64Array.from([0n, 1n, 2n, 3n, 4n, 5n]) },
      },
      build: (g, { states, scores }) => {
        const plan = iterativeSoftmaxTopK(
          g,
          { scores: scores!, mask: g.value('mask'), positions: g.value('positions') },
          { k: 3 },
        );
        return g.reshape(plan.apply(states!), [1, 3, 2]);
      },
    });
    expect(err).toBeLessThan(1e-6);
  });
});
