import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLatError } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { createWebRuntime } from '@lat/runtime-web';
import { afterAll, describe, expect, it } from 'vitest';
import { type AnytimeModel, createAnytimeModel, type EncodedBatch } from './anytime.js';
import { createRandomWeights, type ModelConfig, parseModelConfig } from './architectures/index.js';
import { loadModelDir } from './model-dir.js';
import { referenceForward } from './testing/reference.js';

const runtime = createNodeRuntime({ threads: 1 });

function config(arch: 'bert' | 'distilbert', act = 'gelu'): ModelConfig {
  return arch === 'bert'
    ? parseModelConfig({
        model_type: 'bert',
        vocab_size: 40,
        hidden_size: 16,
        num_hidden_layers: 3,
        num_attention_heads: 2,
        intermediate_size: 32,
        max_position_embeddings: 32,
        hidden_act: act,
        num_labels: 3,
      })
    : parseModelConfig({
        model_type: 'distilbert',
        vocab_size: 40,
        dim: 16,
        n_layers: 3,
        n_heads: 4,
        hidden_dim: 24,
        max_position_embeddings: 32,
        num_labels: 2,
      });
}

function batchOf(seqs: number[][], types?: number[][]): EncodedBatch {
  const n = Math.max(...seqs.map((s) => s.length));
  const ids = new BigInt64Array(seqs.length * n);
  const mask = new BigInt64Array(seqs.length * n);
  const tt = new BigInt64Array(seqs.length * n);
  seqs.forEach((s, b) =>
    s.forEach((id, j) => {
      ids[b * n + j] = BigInt(id);
      mask[b * n + j] = 1n;
      tt[b * n + j] = BigInt(types?.[b]?.[j] ?? 0);
    }),
  );
  return { inputIds: ids, attentionMask: mask, tokenTypeIds: tt, batch: seqs.length };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-4) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(
      rel * Math.max(1, Math.abs(expected[i]!)),
    );
  }
}

const seqA = [2, 7, 11, 5, 9, 13, 3, 8, 21, 4];
const seqB = [2, 17, 6, 30, 3];
const models: AnytimeModel[] = [];
afterAll(async () => Promise.all(models.map((m) => m.release())));

describe.each(['bert', 'distilbert'] as const)('%s anytime graph vs float64 reference', (arch) => {
  const c = config(arch);
  const w = createRandomWeights(c, 11, {}, 0.3);

  it('matches at full length and at reduced lengths, one session for all', async () => {
    const m = await createAnytimeModel(runtime, c, w);
    models.push(m);
    const types = [seqA.map((_, j) => (j > 5 ? 1 : 0))];
    for (const lengths of [undefined, [8, 5, 3], [10, 10, 2], [4, 4, 4], [1, 1, 1]]) {
      const out = await m.run(batchOf([seqA], types), lengths ? { form: 'absolute', lengths } : undefined);
      const ref = referenceForward(c, w, seqA, types[0], lengths);
      expectClose(out.logits!, ref.logits!);
      expect(out.keptPositions.map((l) => l[0])).toEqual(ref.kept);
    }
  });

  it('equals a plain BERT graph without selection ops at full length', async () => {
    const plain = await createAnytimeModel(runtime, c, w, { selection: false, keptPositions: false });
    const full = await createAnytimeModel(runtime, c, w, { keptPositions: false });
    models.push(plain, full);
    const x = batchOf([seqA, seqB]);
    expectClose((await plain.run(x)).logits!, (await full.run(x)).logits!, 1e-5);
  });

  it('reports only real tokens as kept in a padded batch at full and absolute lengths', async () => {
    const m = await createAnytimeModel(runtime, c, w);
    models.push(m);
    for (const spec of [undefined, { form: 'absolute' as const, lengths: [10, 8, 8] }]) {
      const out = await m.run(batchOf([seqA, seqB]), spec);
      const aloneB = await m.run(batchOf([seqB]), spec && { form: 'absolute', lengths: [5, 5, 5] });
      expect(out.keptPositions.map((l) => l[1])).toEqual(aloneB.keptPositions.map((l) => l[0]));
      expect(out.keptPositions.every((l) => l[1]!.every((p) => p < seqB.length))).toBe(true);
      expectClose(out.logits!.slice(c.numLabels, 2 * c.numLabels), aloneB.logits!);
    }
  });

  it('reads absolute lengths over a padded length (the reference form) like inputs padded to it', async () => {
    const m = await createAnytimeModel(runtime, c, w);
    models.push(m);
    const lengths = [9, 7, 4];
    const spec = { form: 'absolute' as const, lengths, paddedLength: 12 };
    const out = await m.run(batchOf([seqA, seqB]), spec);
    for (const [b, s] of [seqA, seqB].entries()) {
      // The example alone, padded to 12 tokens as the reference pads every input.
      const padded = batchOf([s, new Array<number>(12).fill(1)]);
      const one = (x: BigInt64Array) => x.slice(0, 12);
      const alone = await m.run(
        {
          inputIds: one(padded.inputIds),
          attentionMask: one(padded.attentionMask),
          tokenTypeIds: one(padded.tokenTypeIds!),
          batch: 1,
        },
        { form: 'absolute', lengths },
      );
      expectClose(out.logits!.slice(b * c.numLabels, (b + 1) * c.numLabels), alone.logits!);
    }
    await expect(m.run(batchOf([seqA]), { ...spec, paddedLength: 8 })).rejects.toThrow(/padded to 8/);
    await expect(m.run(batchOf([seqA]), { ...spec, lengths: [13, 7, 4] })).rejects.toThrow(
      /padded to only 12/,
    );
  });

  it('handles a padded batch in ratio form like each example alone', async () => {
    const m = await createAnytimeModel(runtime, c, w);
    models.push(m);
    const ratios = [0.8, 0.6, 0.4];
    const out = await m.run(batchOf([seqA, seqB]), { form: 'ratio', ratios });
    [seqA, seqB].forEach((s, b) => {
      const lengths = ratios.map((r) => Math.ceil(r * s.length));
      const ref = referenceForward(c, w, s, undefined, lengths);
      expectClose(out.logits!.slice(b * c.numLabels, (b + 1) * c.numLabels), ref.logits!);
      expect(out.keptPositions.map((l) => l[b])).toEqual(ref.kept);
    });
  });
});

describe('span head with Drop-and-Restore', () => {
  it('returns start/end logits over every original position', async () => {
    const c = config('bert', 'gelu_new');
    const w = createRandomWeights(c, 5, { qa: true, classifier: false }, 0.3);
    const m = await createAnytimeModel(runtime, c, w, { head: 'span' });
    models.push(m);
    const lengths = [7, 5, 3];
    const out = await m.run(batchOf([seqA]), { form: 'absolute', lengths });
    const ref = referenceForward(c, w, seqA, undefined, lengths, 'span');
    expectClose(out.startLogits!, ref.start!);
    expectClose(out.endLogits!, ref.end!);
  });
});

describe('length validation and backends', () => {
  const c = config('bert');
  const w = createRandomWeights(c, 2, {}, 0.3);

  it('rejects invalid lengths with a typed error before ORT runs', async () => {
    const m = await createAnytimeModel(runtime, c, w);
    models.push(m);
    const x = batchOf([seqA]);
    const bad: [number[], RegExp][] = [
      [[8, 9, 3], /larger than the one before/],
      [[8, 0, 0], /whole numbers ≥ 1/],
      [[11, 5, 3], /only 10 tokens/],
      [[8, 5], /expected 3 values/],
      [[8, Number.NaN, 3], /finite/],
    ];
    for (const [lengths, msg] of bad) {
      const e = await m.run(x, { form: 'absolute', lengths }).catch((err: unknown) => err);
      expect(isLatError(e, 'BAD_LENGTHS')).toBe(true);
      expect((e as Error).message).toMatch(msg);
    }
    await expect(m.run(x, { form: 'ratio', ratios: [0.5, 0.7, 0.2] })).rejects.toThrow(/must not increase/);
  });

  it('gives the same logits in onnxruntime-web (wasm) and after a fresh session', async () => {
    const lengths = { form: 'absolute' as const, lengths: [7, 5, 2] };
    const node = await createAnytimeModel(runtime, c, w);
    const web = await createAnytimeModel(createWebRuntime({ threads: 1 }), c, w);
    models.push(node, web);
    await node.run(batchOf([seqA]), { form: 'absolute', lengths: [3, 2, 1] });
    const a = await node.run(batchOf([seqA]), lengths);
    const b = await web.run(batchOf([seqA]), lengths);
    const fresh = await createAnytimeModel(runtime, c, w);
    models.push(fresh);
    const f = await fresh.run(batchOf([seqA]), lengths);
    expectClose(b.logits!, a.logits!);
    expect(Array.from(f.logits!)).toEqual(Array.from(a.logits!));
    expect(b.keptPositions).toEqual(a.keptPositions);
  });
});

const fixture = join(import.meta.dirname, '../../../../shared/fixtures/models/bert-tiny-sst2');
describe.skipIf(!existsSync(fixture))(
  'real checkpoint goldens (../shared/fixtures/models/bert-tiny-sst2)',
  () => {
    it('matches PyTorch logits at full and reduced lengths, and the kept positions', async () => {
      const loaded = loadModelDir(fixture);
      const goldens = JSON.parse(readFileSync(join(fixture, 'goldens.json'), 'utf8')) as {
        cases: {
          input_ids: number[];
          logits: number[];
          reduced: { lengths: number[]; logits: number[]; kept_last_layer: number[] };
        }[];
      };
      const m = await createAnytimeModel(runtime, loaded.config, loaded.weights);
      models.push(m);
      for (const g of goldens.cases) {
        const full = await m.run(batchOf([g.input_ids]));
        expectClose(full.logits!, g.logits);
        const red = await m.run(batchOf([g.input_ids]), { form: 'absolute', lengths: g.reduced.lengths });
        expectClose(red.logits!, g.reduced.logits);
        expect(red.keptPositions.at(-1)![0]).toEqual(g.reduced.kept_last_layer);
      }
    });
  },
);
if (!existsSync(fixture)) console.log(`skipping golden test: ${fixture} is absent`);
