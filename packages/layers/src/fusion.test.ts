/**
 * onnxruntime's graph fusions on lat's graphs: which fused kernels its optimiser makes of them
 * (read back from the optimised model it writes), and that the fused graph gives the unoptimised
 * graph's numbers within 1e-5 — in fp32 and q8, with and without token selection.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { onnx, toModelProto } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  anytimeFeeds,
  buildAnytimeGraph,
  createAnytimeModel,
  type EncodedBatch,
  splitFullLength,
} from './anytime.js';
import { createRandomWeights, parseModelConfig } from './architectures/index.js';

// onnxruntime-node itself (through @lat/runtime-node, whose peer it is): only it can write the
// optimised graph back out.
const ort = createRequire(createRequire(import.meta.url).resolve('@lat/runtime-node'))(
  'onnxruntime-node',
) as {
  InferenceSession: {
    create(
      bytes: Uint8Array,
      o: { graphOptimizationLevel: string; optimizedModelFilePath: string; intraOpNumThreads: number },
    ): Promise<{ release(): Promise<void> }>;
  };
};

const config = parseModelConfig({
  model_type: 'bert',
  vocab_size: 50,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
  max_position_embeddings: 32,
  num_labels: 2,
});
const weights = createRandomWeights(config, 3, {}, 0.1);
const dir = mkdtempSync(join(tmpdir(), 'lat-fusion-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The graph onnxruntime runs after its optimisations (as the model it writes back out). */
async function optimised(bytes: Uint8Array): Promise<onnx.GraphProto> {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.onnx`);
  const s = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: 'all',
    optimizedModelFilePath: path,
    intraOpNumThreads: 1,
  });
  await s.release();
  return fromBinary(onnx.ModelProtoSchema, readFileSync(path)).graph!;
}

/** Op types (with counts) of a graph, its If branches included. */
function opCounts(graph: onnx.GraphProto): Record<string, number> {
  const count: Record<string, number> = {};
  const walk = (g: onnx.GraphProto) => {
    for (const n of g.node) {
      count[n.opType] = (count[n.opType] ?? 0) + 1;
      for (const a of n.attribute) if (a.g) walk(a.g);
    }
  };
  walk(graph);
  return count;
}

const optimisedOps = async (bytes: Uint8Array) => opCounts(await optimised(bytes));

function batch(): EncodedBatch {
  const n = 12;
  const ids = BigInt64Array.from({ length: 2 * n }, (_, i) => BigInt(i % n === 0 ? 2 : 4 + ((i * 7) % 40)));
  const mask = BigInt64Array.from({ length: 2 * n }, (_, i) => (i >= n && i % n >= 9 ? 0n : 1n));
  return { inputIds: ids, attentionMask: mask, tokenTypeIds: new BigInt64Array(2 * n), batch: 2 };
}

describe('onnxruntime fusions on lat graphs', () => {
  it('fuses each GELU with its bias (BiasGelu) and each int8 linear (MatMulIntegerToFloat, DynamicQuantizeMatMul)', async () => {
    const layers = config.numLayers;
    const perLayerIf = { fullLengthBranch: false };
    const fp32 = await optimisedOps(toModelProto(buildAnytimeGraph(config, weights, perLayerIf)));
    expect(fp32['BiasGelu']).toBe(layers);
    expect(fp32['Erf']).toBeUndefined();
    for (const int8Weights of ['per-channel-7bit', 'per-tensor-8bit'] as const) {
      const q8 = await optimisedOps(
        toModelProto(buildAnytimeGraph(config, weights, { ...perLayerIf, dtype: 'q8', int8Weights })),
      );
      // Q, K, V share one quantised input: MatMulIntegerToFloat; the other three quantise their own.
      expect(q8['MatMulIntegerToFloat']).toBe(3 * layers);
      expect(q8['DynamicQuantizeMatMul']).toBe(3 * layers);
      expect(q8['MatMulInteger']).toBeUndefined();
      expect(q8['Gelu']).toBe(layers);
    }
  });

  for (const dtype of ['fp32', 'q8'] as const)
    it(`gives the unoptimised graph's logits within 1e-5 (${dtype}, full and reduced length)`, async () => {
      const fused = await createAnytimeModel(createNodeRuntime({ threads: 1 }), config, weights, { dtype });
      const plain = await createAnytimeModel(
        createNodeRuntime({ threads: 1, graphOptimization: 'disabled' }),
        config,
        weights,
        { dtype },
      );
      for (const setting of [undefined, { form: 'ratio' as const, ratios: [0.7, 0.4] }]) {
        const a = await fused.run(batch(), setting);
        const b = await plain.run(batch(), setting);
        expect(a.keptPositions).toEqual(b.keptPositions);
        a.logits!.forEach((v, i) => expect(Math.abs(v - b.logits![i]!)).toBeLessThan(1e-5));
      }
      await Promise.all([fused.release(), plain.release()]);
    });

  for (const dtype of ['fp32', 'q8'] as const)
    it(`runs full length under one If without selection ops, fused as the plain graph (${dtype})`, async () => {
      const graph = await optimised(toModelProto(buildAnytimeGraph(config, weights, { dtype })));
      const ifs = graph.node.filter((n) => n.opType === 'If');
      expect(ifs).toHaveLength(1);
      const branch = (name: string) => opCounts(ifs[0]!.attribute.find((a) => a.name === name)!.g!);
      const [full, reducing] = [branch('then_branch'), branch('else_branch')];
      const plain = await optimisedOps(
        toModelProto(buildAnytimeGraph(config, weights, { dtype, selection: false, keptPositions: false })),
      );
      // The full-length branch is the plain encoder: no selection ops, the same fused kernels.
      for (const op of ['TopK', 'GatherElements', 'If']) expect(full[op]).toBeUndefined();
      for (const op of ['BiasGelu', 'Gelu', 'MatMulIntegerToFloat', 'DynamicQuantizeMatMul'])
        expect(full[op]).toBe(plain[op]);
      expect(full['LayerNormalization']).toBe(plain['LayerNormalization']! - 1); // the embeddings' is outside
      // The other branch runs only when a layer drops tokens: every layer selects, without an If.
      expect(reducing['If']).toBeUndefined();
      expect(reducing['TopK']).toBe(2 * config.numLayers);
    });

  for (const dtype of ['fp32', 'q8'] as const)
    it(`gives the per-layer-If graph's logits and kept positions with the full-length branch (${dtype})`, async () => {
      const runtime = createNodeRuntime({ threads: 1 });
      const branch = await createAnytimeModel(runtime, config, weights, { dtype, fullLengthBranch: true });
      const perLayer = await createAnytimeModel(runtime, config, weights, { dtype, fullLengthBranch: false });
      for (const setting of [
        undefined,
        { form: 'ratio' as const, ratios: [1, 0.5] },
        { form: 'ratio' as const, ratios: [0.7, 0.4] },
      ]) {
        const a = await branch.run(batch(), setting);
        const b = await perLayer.run(batch(), setting);
        expect(a.keptPositions).toEqual(b.keptPositions);
        a.logits!.forEach((v, i) => expect(Math.abs(v - b.logits![i]!)).toBeLessThan(1e-6));
      }
      await Promise.all([branch.release(), perLayer.release()]);
    });

  for (const dtype of ['fp32', 'q8'] as const)
    it(`runs a graph with a full-length branch as two sessions, with the If graph's numbers (${dtype})`, async () => {
      const runtime = createNodeRuntime({ threads: 1 });
      const bytes = toModelProto(buildAnytimeGraph(config, weights, { dtype }));
      const split = splitFullLength(bytes, config.numLayers)!;
      // The full-length graph is the plain encoder: no If, no keep counts, no kept positions (the
      // host writes them: every real token).
      const full = fromBinary(onnx.ModelProtoSchema, split.full).graph!;
      expect(full.input.map((v) => v.name)).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
      expect(full.output.map((v) => v.name)).toEqual(['logits']);
      const plain = await optimisedOps(
        toModelProto(buildAnytimeGraph(config, weights, { dtype, selection: false, keptPositions: false })),
      );
      const fullOps = await optimisedOps(split.full);
      for (const op of ['If', 'TopK', 'GatherElements', 'ReduceMin']) expect(fullOps[op]).toBeUndefined();
      for (const op of [
        'MatMul',
        'BiasGelu',
        'Gelu',
        'MatMulIntegerToFloat',
        'DynamicQuantizeMatMul',
        'LayerNormalization',
      ])
        expect(fullOps[op]).toBe(plain[op]);
      // The reducing graph runs every layer's selection ops, with no If left.
      const reducing = await optimisedOps(split.reducing);
      expect(reducing['If']).toBeUndefined();
      expect(reducing['TopK']).toBe(2 * config.numLayers);
      // One session of the If graph as it is (what a bundle gives any ORT) against the model's two.
      const single = await runtime.createSession(bytes);
      const model = await createAnytimeModel(runtime, config, weights, { dtype, model: bytes });
      for (const setting of [
        undefined,
        { form: 'ratio' as const, ratios: [1, 0.5] },
        { form: 'ratio' as const, ratios: [0.7, 0.4] },
      ]) {
        const a = await model.run(batch(), setting);
        const b = await single.run(anytimeFeeds(config, batch(), setting));
        a.logits!.forEach((v, i) =>
          expect(Math.abs(v - (b['logits']!.data as Float32Array)[i]!)).toBeLessThan(1e-6),
        );
        for (let l = 0; l < config.numLayers; l++)
          expect(a.outputs[`kept_positions_${l}`]!.data).toEqual(b[`kept_positions_${l}`]!.data);
      }
      await Promise.all([single.release(), model.release()]);
    });
});
