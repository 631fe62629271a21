/**
 * Global rows in blockwise attention (config `lat_pooling.global_tokens`): the first segment
 * within the first g positions attends to every row and every row to it, the rest stays in its
 * block — checked against a float64 reference with that key mask on arrays. g = 0 builds the
 * plain blockwise graph, one block over the whole input is full attention, the training graph's
 * gradients match finite differences, and bad values are refused in one line.
 */
import { toModelProto } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { buildAnytimeGraph, createAnytimeModel, type EncodedBatch } from '../anytime.js';
import { parseModelConfig, toHfConfig } from '../architectures/config.js';
import { createRandomWeights } from '../architectures/weights.js';
import { gradientMisses, gradientPairs, referenceForward, tinyBertConfig } from '../testing/index.js';
import { buildTrainingGraph, taskLoss } from '../training.js';

const n = 16;
/** The tiny BERT with blockwise attention in both layers (no pooling), or full attention. */
const blockwise = (pooling?: Record<string, unknown>, dropout = 0) =>
  parseModelConfig({
    ...toHfConfig(tinyBertConfig(dropout)),
    ...(pooling ? { lat_pooling: { schedule: [], input_length: n, ...pooling } } : {}),
  });

type Example = { ids: number[]; types: number[] };
/** Examples of `real` tokens whose first `question` are the first segment (token type 0). */
const make = (shapes: { real: number; question: number }[]): Example[] =>
  shapes.map(({ real, question }, e) => ({
    ids: Array.from({ length: real }, (_, i) => 2 + ((i * 7 + e * 3) % 25)),
    types: Array.from({ length: real }, (_, i) => (i < question ? 0 : 1)),
  }));
/** Two examples of n rows: questions of 4 and 7 tokens, the second padded after 13. */
const examples = make([
  { real: 16, question: 4 },
  { real: 13, question: 7 },
]);

/** The examples as one padded batch. */
function batchOf(xs: Example[]): EncodedBatch {
  const seq = Math.max(...xs.map((e) => e.ids.length));
  const at = (i: number) => xs[Math.floor(i / seq)]!;
  const size = xs.length * seq;
  return {
    inputIds: BigInt64Array.from({ length: size }, (_, i) => BigInt(at(i).ids[i % seq] ?? 0)),
    attentionMask: BigInt64Array.from({ length: size }, (_, i) => (i % seq < at(i).ids.length ? 1n : 0n)),
    tokenTypeIds: BigInt64Array.from({ length: size }, (_, i) => BigInt(at(i).types[i % seq] ?? 0)),
    batch: xs.length,
  };
}
const x = batchOf(examples);

/** Start logits of the real rows of each example, through the ONNX graph. */
async function spanStarts(
  c: ReturnType<typeof blockwise>,
  w: ReturnType<typeof createRandomWeights>,
  xs = examples,
) {
  const m = await createAnytimeModel(createNodeRuntime({ threads: 1 }), c, w, { head: 'span' });
  const out = (await m.run(batchOf(xs))).startLogits!;
  await m.release();
  const seq = out.length / xs.length;
  return xs.map((e, b) => Array.from(out.subarray(b * seq, b * seq + e.ids.length)));
}

/** The same on arrays: key j visible to query i when both share a block of `chunk` or either is global. */
function referenceStarts(w: ReturnType<typeof createRandomWeights>, chunk: number, g: number, xs = examples) {
  const c = blockwise();
  return xs.map(({ ids, types }) => {
    const global = (i: number) => i < g && types[i] === 0;
    const attends = (_l: number, i: number, j: number) =>
      global(i) || global(j) || Math.floor(i / chunk) === Math.floor(j / chunk);
    return referenceForward(c, w, ids, types, undefined, 'span', attends).start!;
  });
}

const expectClose = (a: number[][], b: number[][]) =>
  a.forEach((row, e) => row.forEach((v, i) => expect(v).toBeCloseTo(b[e]![i]!, 4)));

describe('global rows in blockwise attention', () => {
  const w = createRandomWeights(blockwise({ chunk: 5 }), 3, { qa: true }, 0.5);

  it('each row attends to its block and the question, the question to every row (masked reference on arrays)', async () => {
    // Blocks of 5 (the last padded), g = 6: example 0's question is 4 rows, example 1's is 7
    // rows, of which the first 6 are global; padding is never global.
    const c = blockwise({ chunk: 5, global_tokens: 6 });
    expect(toHfConfig(c)['lat_pooling']).toEqual({
      schedule: [],
      input_length: n,
      chunk: 5,
      global_tokens: 6,
    });
    const global = await spanStarts(c, w);
    expectClose(global, referenceStarts(w, 5, 6));
    // The global rows change the answer: plain blocks give other logits.
    const plain = referenceStarts(w, 5, 0);
    expect(
      Math.max(...global.flatMap((r, e) => r.map((v, i) => Math.abs(v - plain[e]![i]!)))),
    ).toBeGreaterThan(1e-3);
    // As many global slots as rows, and more than an input's rows (6 < g = 16): still the first
    // segment only.
    const wide = blockwise({ chunk: 5, global_tokens: 16 });
    expectClose(await spanStarts(wide, w), referenceStarts(w, 5, 16));
    const short = make([{ real: 6, question: 3 }]);
    expectClose(await spanStarts(wide, w, short), referenceStarts(w, 5, 16, short));
  });

  it('g = 0 builds the plain blockwise graph; one block over the whole input is full attention', async () => {
    const bytes = (pooling: Record<string, unknown>) =>
      toModelProto(buildAnytimeGraph(blockwise(pooling), w, { head: 'span' }));
    expect(bytes({ chunk: 5, global_tokens: 0 })).toEqual(bytes({ chunk: 5 }));
    expect(toHfConfig(blockwise({ chunk: 5, global_tokens: 0 }))['lat_pooling']).toEqual({
      schedule: [],
      input_length: n,
      chunk: 5,
    });
    expectClose(await spanStarts(blockwise({ chunk: 5 }), w), referenceStarts(w, 5, 0));
    const full = await spanStarts(blockwise(), w);
    expectClose(await spanStarts(blockwise({ chunk: n, global_tokens: 6 }), w), full);
    expectClose(referenceStarts(w, n, 0), full);
  });

  it('trains: gradients through the global rows match finite differences; dropout fits the noise table', async () => {
    const c = blockwise({ chunk: 5, global_tokens: 6 });
    const m = await createAnytimeModel(createNodeRuntime({ threads: 1 }), c, w);
    const logits = (await m.run(x)).logits!;
    await m.release();
    // Layer 0's keys reach [CLS] in layer 1 only through the blocks and the global columns.
    const names = [
      'encoder.layer.0.attention.self.key.weight',
      'encoder.layer.0.attention.self.query.weight',
    ];
    const check = await gradientPairs(c, w, x, [1, 0], names, [5, 130]);
    expect(check.logits).toEqual(Array.from(logits).map((v) => expect.closeTo(v, 4)));
    for (const p of check.pairs) expect(p.largest).toBeGreaterThan(1e-4);
    expect(gradientMisses(check.pairs)).toEqual([]);

    // With dropout, the blocks' probabilities [B, nb, H, c, c + g] are the largest tensor.
    const dropped = blockwise({ chunk: 5, global_tokens: 6 }, 0.1);
    const t = buildTrainingGraph(dropped, w, { task: 'classification', maxBatch: 2, maxSeq: n });
    expect(t.noiseTableSize).toBeGreaterThanOrEqual(2 * 2 * 4 * 5 * (5 + 6));
    const s = await createNodeRuntime({ threads: 1 }).createSession(toModelProto(t.graph));
    const result = await s.run({
      ...t.feeds.batch(x, [1, 0], w),
      ...t.feeds.teacher(x),
      ...t.feeds.pass(x, {
        setting: undefined,
        dropoutOffsets: BigInt64Array.from({ length: t.dropoutSites }, (_, i) => BigInt(i * 977)),
        lossWeights: { [taskLoss]: 1 },
      }),
    });
    expect(Number.isFinite(t.feeds.loss(result))).toBe(true);
    await s.release();
  });

  it('refuses bad values in one line', () => {
    for (const [pooling, message] of [
      [
        { chunk: 5, global_tokens: -1 },
        /global tokens must be a whole number in 0\.\.16 \(the input length\), got -1/,
      ],
      [{ chunk: 5, global_tokens: 2.5 }, /got 2\.5/],
      [{ chunk: 5, global_tokens: 17 }, /got 17/],
      [{ schedule: [[0, 4]], global_tokens: 4 }, /global tokens need blockwise attention \(a chunk/],
    ] as [Record<string, unknown>, RegExp][]) {
      expect(() => blockwise(pooling)).toThrow(message);
      try {
        blockwise(pooling);
      } catch (e) {
        expect((e as Error).message).not.toContain('\n');
        expect((e as Error).message).toContain('lat_pooling');
      }
    }
  });
});
