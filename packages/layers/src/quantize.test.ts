/**
 * The q8 anytime graph: per-channel int8 weights, run-time activation quantisation, token
 * selection unchanged. Checked against the fp32 graph of the same weights (a stated tolerance),
 * across backends (onnxruntime-node = onnxruntime-web wasm), and on bad input.
 */
import { isLatError, toModelProto } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { createWebRuntime } from '@lat/runtime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnytimeModel, buildAnytimeGraph, createAnytimeModel, type EncodedBatch } from './anytime.js';
import { createRandomWeights, parseModelConfig } from './architectures/index.js';
import {
  dtypeFingerprint,
  parseInt8Weights,
  parseModelDtype,
  quantizeWeight,
  weightQuantMax,
} from './quantize.js';

const config = parseModelConfig({
  model_type: 'bert',
  vocab_size: 60,
  hidden_size: 64,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  intermediate_size: 128,
  max_position_embeddings: 64,
  num_labels: 3,
});
const weights = createRandomWeights(config, 11, { classifier: true }, 0.1);

/** Three sentences of 24, 17 and 9 tokens (seeded), padded into one batch. */
function batch(): EncodedBatch {
  const lengths = [24, 17, 9];
  const n = 24;
  const ids = new BigInt64Array(lengths.length * n);
  const mask = new BigInt64Array(lengths.length * n);
  let s = 7;
  lengths.forEach((len, b) => {
    for (let j = 0; j < len; j++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      ids[b * n + j] = BigInt(j === 0 ? 2 : 4 + (s % 50));
      mask[b * n + j] = 1n;
    }
  });
  return { inputIds: ids, attentionMask: mask, tokenTypeIds: new BigInt64Array(ids.length), batch: 3 };
}

describe('quantizeWeight', () => {
  it('gives int8 values in [−63, 63], transposed, with one scale per output row, within half a step', () => {
    const w = weights.get('encoder.layer.0.intermediate.dense.weight')!;
    const [out, inp] = w.dims as [number, number];
    const q = quantizeWeight(w);
    expect(q.dims).toEqual([inp, out]);
    let worst = 0;
    for (let o = 0; o < out; o++) {
      let rowMax = 0;
      for (let i = 0; i < inp; i++) {
        const v = q.values[i * out + o]!;
        expect(Math.abs(v)).toBeLessThanOrEqual(weightQuantMax['per-channel-7bit']);
        rowMax = Math.max(rowMax, Math.abs(v));
        worst = Math.max(worst, Math.abs(v * q.scales[o]! - w.data[o * inp + i]!) / q.scales[o]!);
      }
      expect(rowMax).toBe(weightQuantMax['per-channel-7bit']); // each row's largest weight uses the full range
    }
    expect(worst).toBeLessThanOrEqual(0.5 + 1e-5);
  });

  it('keeps an all-zero row zero', () => {
    const q = quantizeWeight({ dims: [2, 3], data: Float32Array.of(0, 0, 0, 1, -2, 0.5) });
    expect(Array.from(q.values)).toEqual([0, 32, 0, -63, 0, 16]);
    expect(q.scales[0]).toBe(1);
  });

  // ORT's dynamic quantiser (transformers.js q8): scale = max|w| / 127 as float32, w / scale in
  // float32, numpy's rint (ties to even), clipped to ±127. Worked through by hand: max|w| = 2.54
  // gives scale fround(0.02); 0.05 / 0.02 = 2.5 → 2 (tie to even), −0.07 → −3.5 → −4, 2.54 → 127.
  it('per tensor at 8 bits: one float32 scale, ties to even, as ORT quantises', () => {
    const q = quantizeWeight(
      { dims: [2, 2], data: Float32Array.of(0.05, -0.07, 2.54, -1) },
      'per-tensor-8bit',
    );
    expect(q.scales).toEqual(Float32Array.of(Math.fround(2.54) / 127));
    const step = (v: number) => Math.fround(Math.fround(v) / q.scales[0]!);
    expect(step(0.05)).toBe(2.5); // a real tie in float32
    expect(Array.from(q.values)).toEqual([2, 127, -4, -50]); // [in, out]: w[0,0], w[1,0], w[0,1], w[1,1]
    const w = weights.get('encoder.layer.1.output.dense.weight')!;
    const big = quantizeWeight(w, 'per-tensor-8bit');
    expect(Math.max(...Array.from(big.values, Math.abs))).toBe(weightQuantMax['per-tensor-8bit']);
    expect(big.scales).toHaveLength(1);
  });

  it('refuses an unknown layout', () => {
    expect(() => parseInt8Weights('per-row-4bit', '--int8-weights')).toThrow(
      /per-channel-7bit.*per-tensor-8bit/,
    );
  });
});

describe('the q8 anytime graph', () => {
  const node = createNodeRuntime({ threads: 1 });
  const wasm = createWebRuntime({ threads: 1 });
  let fp32: AnytimeModel;
  let q8: AnytimeModel;
  let q8Wasm: AnytimeModel;
  beforeAll(async () => {
    fp32 = await createAnytimeModel(node, config, weights);
    q8 = await createAnytimeModel(node, config, weights, { dtype: 'q8' });
    q8Wasm = await createAnytimeModel(wasm, config, weights, { dtype: 'q8' });
  });
  afterAll(async () => {
    for (const m of [fp32, q8, q8Wasm]) await m.release();
  });

  it('stores int8 encoder weights only (no float copy) and is smaller', () => {
    // One build of the layers (no full-length branch), so each node is counted once.
    const g = buildAnytimeGraph(config, weights, { dtype: 'q8', fullLengthBranch: false });
    const names = [...g.initializers.keys()];
    expect(names).toContain('encoder.layer.0.attention.self.query.weight_int8');
    expect(names).not.toContain('encoder.layer.0.attention.self.query.weight');
    expect(names).toContain('classifier.weight_t'); // heads and embeddings stay fp32 (linears' stored as MatMul reads them)
    const ops = new Set(g.nodes.map((n) => n.opType));
    for (const op of ['DynamicQuantizeLinear', 'MatMulInteger', 'If']) expect(ops).toContain(op);
    // Q, K and V read one quantised copy of their input: one DynamicQuantizeLinear per layer for
    // them, one each for the attention output, the intermediate and the output dense.
    expect(g.nodes.filter((n) => n.opType === 'DynamicQuantizeLinear')).toHaveLength(4 * config.numLayers);
    const fpBytes = toModelProto(buildAnytimeGraph(config, weights, { fullLengthBranch: false })).length;
    expect(toModelProto(g).length).toBeLessThan(0.75 * fpBytes);
  });

  // Tolerance: activations are 8-bit per tensor and weights 7-bit per channel, so each product
  // carries ~1% relative error; through 3 layers every logit stays within 5% of the spread of the
  // fp32 logits (measured: 3%), and the token selection keeps as many tokens per layer.
  it('gives logits within 5% of their spread of the fp32 graph, at full and at reduced length', async () => {
    const x = batch();
    for (const setting of [undefined, { form: 'ratio' as const, ratios: [0.8, 0.6, 0.4] }]) {
      const a = await fp32.run(x, setting);
      const b = await q8.run(x, setting);
      const za = a.logits!;
      const zb = b.logits!;
      let worst = 0;
      for (let i = 0; i < za.length; i++) worst = Math.max(worst, Math.abs(za[i]! - zb[i]!));
      const spread = Math.max(...za) - Math.min(...za);
      expect(worst).toBeLessThan(0.05 * spread);
      expect(worst).toBeGreaterThan(0); // it really is another computation
      // Token selection is unchanged: the same keep counts per layer and example.
      expect(b.keepCounts).toEqual(a.keepCounts);
      b.keptPositions.forEach((layer, i) =>
        layer.forEach((kept, e) => expect(kept.length).toBe(a.keptPositions[i]![e]!.length)),
      );
    }
  });

  // Integer products are exact on both, but the fp32 ops before each quantisation differ in the
  // last bits between the backends (as in fp32 graphs, ~1e-7), and an activation that sits on a
  // rounding boundary then lands one quantisation step apart: measured 0.2% of the logits' spread.
  it('gives the same selection and logits within 1% of their spread in onnxruntime-node and -web (wasm)', async () => {
    const x = batch();
    for (const setting of [undefined, { form: 'ratio' as const, ratios: [0.7, 0.5, 0.3] }]) {
      const a = await q8.run(x, setting);
      const b = await q8Wasm.run(x, setting);
      expect(b.keptPositions).toEqual(a.keptPositions);
      const za = a.logits!;
      const spread = Math.max(...za) - Math.min(...za);
      za.forEach((v, i) => expect(Math.abs(v - b.logits![i]!)).toBeLessThan(0.01 * spread));
    }
  });

  // Quantisation noise may swap two tokens of nearly equal significance (here example 1 keeps
  // position 5 instead of 2 in layer 0); those two positions' logits then differ legitimately,
  // so logits are compared for the examples whose selections agree.
  it('runs a span head with Drop-and-Restore in q8 too, close to fp32 where selections agree', async () => {
    const span = createRandomWeights(config, 11, { qa: true, classifier: false }, 0.1);
    const setting = { form: 'ratio' as const, ratios: [0.8, 0.6, 0.4] };
    const run = async (dtype: 'fp32' | 'q8') => {
      const m = await createAnytimeModel(node, config, span, { head: 'span', dtype });
      const out = await m.run(batch(), setting);
      await m.release();
      return out;
    };
    const [a, b] = [await run('fp32'), await run('q8')];
    expect(b.keepCounts).toEqual(a.keepCounts);
    const n = a.startLogits!.length / 3;
    const same = [0, 1, 2].filter((e) =>
      a.keptPositions.every((l, i) => `${l[e]}` === `${b.keptPositions[i]![e]}`),
    );
    expect(same.length).toBeGreaterThanOrEqual(2);
    for (const k of ['startLogits', 'endLogits'] as const)
      for (const e of same) {
        const za = a[k]!.subarray(e * n, (e + 1) * n);
        const zb = b[k]!.subarray(e * n, (e + 1) * n);
        const spread = Math.max(...za) - Math.min(...za);
        za.forEach((v, i) => expect(Math.abs(v - zb[i]!)).toBeLessThan(0.05 * spread));
      }
  });

  it('builds the per-tensor 8-bit layout with scalar scales, close to fp32 and equal on node and wasm', async () => {
    const g = buildAnytimeGraph(config, weights, {
      dtype: 'q8',
      int8Weights: 'per-tensor-8bit',
      fullLengthBranch: false,
    });
    expect(g.initializers.get('encoder.layer.0.attention.self.query.weight_scale')!.dims).toEqual([]);
    const x = batch();
    const setting = { form: 'ratio' as const, ratios: [0.7, 0.5, 0.3] };
    const open = (r: typeof node) =>
      createAnytimeModel(r, config, weights, { dtype: 'q8', int8Weights: 'per-tensor-8bit' });
    const [onNode, onWasm] = [await open(node), await open(wasm)];
    // Against fp32 at full length (at reduced length a near tie may select another token).
    const za = (await fp32.run(x)).logits!;
    const spread = Math.max(...za) - Math.min(...za);
    const full = (await onNode.run(x)).logits!;
    za.forEach((v, i) => expect(Math.abs(v - full[i]!)).toBeLessThan(0.05 * spread));
    const b = await onNode.run(x, setting);
    const c = await onWasm.run(x, setting);
    expect(c.keptPositions).toEqual(b.keptPositions);
    b.logits!.forEach((v, i) => expect(Math.abs(v - c.logits![i]!)).toBeLessThan(0.01 * spread));
    // Not the per-channel graph under another name.
    expect(b.logits).not.toEqual((await q8.run(x, setting)).logits);
    await Promise.all([onNode.release(), onWasm.release()]);
  });

  it('refuses an unknown dtype and q8 weights as graph inputs, with clear errors', () => {
    const bad = (f: () => unknown, code: string, text: RegExp) => {
      try {
        f();
        expect.unreachable();
      } catch (e) {
        expect(isLatError(e) && e.code).toBe(code);
        expect((e as Error).message).toMatch(text);
      }
    };
    bad(() => buildAnytimeGraph(config, weights, { dtype: 'int4' as 'q8' }), 'BAD_INPUT', /'fp32'.*'q8'/);
    bad(() => parseModelDtype('float16', '--dtype'), 'BAD_INPUT', /unknown dtype "float16"/);
    bad(
      () => buildAnytimeGraph(config, weights, { dtype: 'q8', weightsAsInputs: true }),
      'UNSUPPORTED',
      /fp32 while training/,
    );
  });

  it('ties frontiers to the dtype', () => {
    expect(dtypeFingerprint('abc', 'fp32')).toBe('abc');
    expect(dtypeFingerprint('abc', 'q8')).not.toBe('abc');
  });
});
