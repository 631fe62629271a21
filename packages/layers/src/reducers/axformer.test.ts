/**
 * AxFormer's masked search graph against the physically pruned model: for random masks (blocks,
 * heads, hard attention) the masked session's logits equal those of the pruned weights run as a
 * plain encoder, and the pruned checkpoint round-trips through config.json + safetensors and
 * loads in a fresh Node process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AxformerMasks, encoderMacs, Rng } from '@lat/core';
import { writeSafetensors } from '@lat/core/node';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { createAnytimeModel, type EncodedBatch } from '../anytime.js';
import { parseModelConfig, toHfConfig } from '../architectures/config.js';
import { fullMasks, pruneModel } from '../architectures/pruning.js';
import { createRandomWeights, parameterCount, toHfNames } from '../architectures/weights.js';
import { loadModelDir } from '../model-dir.js';
import { axformerReducer } from './axformer.js';

const config = parseModelConfig({
  model_type: 'bert',
  vocab_size: 40,
  hidden_size: 16,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  intermediate_size: 24,
  max_position_embeddings: 16,
  num_labels: 3,
});
// Larger than BERT's 0.02 so that every block changes the logits visibly.
const weights = createRandomWeights(config, 7, {}, 0.3);
const runtime = createNodeRuntime({ threads: 1 });

const seq = 10;
/** 40 tokens, BERT's special ones first (loading checks they are there). */
const vocab = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  ...Array.from({ length: 35 }, (_, i) => `t${i}`),
].join('\n');
const lengths = [10, 6, 3];
const batch: EncodedBatch = {
  batch: lengths.length,
  inputIds: BigInt64Array.from(
    lengths.flatMap((n, b) =>
      Array.from({ length: seq }, (_, j) => (j < n ? 1 + ((b * 7 + j * 5) % 39) : 0)),
    ),
    BigInt,
  ),
  attentionMask: BigInt64Array.from(
    lengths.flatMap((n) => Array.from({ length: seq }, (_, j) => (j < n ? 1 : 0))),
    BigInt,
  ),
};

function randomMasks(rng: Rng): AxformerMasks {
  const L = config.numLayers;
  return {
    ffn: Array.from({ length: L }, () => rng.next() < 0.6),
    attention: Array.from({ length: L }, () => rng.next() < 0.7),
    heads: Array.from({ length: L }, () => Array.from({ length: config.numHeads }, () => rng.next() < 0.6)),
    hardAttentionK: Array.from({ length: L }, () => [0, 0, 1, 2, 4][Math.floor(rng.next() * 5)]!),
  };
}

async function plainLogits(c: typeof config, w: typeof weights): Promise<Float32Array> {
  const m = await createAnytimeModel(runtime, c, w, { selection: false, keptPositions: false });
  const out = (await m.run(batch)).logits!;
  await m.release();
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i]!)));
}

describe('AxFormer masks = pruned export', () => {
  it('gives the pruned model’s logits (within 1e-5) for random masks, in one session', async () => {
    const masked = await createAnytimeModel(runtime, config, weights, {
      reducer: axformerReducer,
      keptPositions: false,
    });
    const full = await plainLogits(config, weights);
    expect(maxDiff((await masked.run(batch, fullMasks(config))).logits!, full)).toBeLessThan(1e-6);
    const rng = new Rng(22);
    let changed = 0;
    for (let t = 0; t < 10; t++) {
      const masks = randomMasks(rng);
      const got = (await masked.run(batch, masks)).logits!;
      const pruned = pruneModel(config, weights, masks);
      expect(maxDiff(got, await plainLogits(pruned.config, pruned.weights))).toBeLessThan(1e-5);
      if (maxDiff(got, full) > 1e-3) changed++;
      // Pruning a pruned model: its remaining heads are renumbered, the masks refer to them.
      const again = randomMasks(rng);
      const slots = (i: number) => pruned.config.layers![i]!.heads.length;
      const second: AxformerMasks = {
        ...again,
        heads: again.heads.map((h, i) => h.slice(0, slots(i))),
        attention: again.attention.map((on, i) => on && slots(i) > 0),
      };
      const masked2 = await createAnytimeModel(runtime, pruned.config, pruned.weights, {
        reducer: axformerReducer,
        keptPositions: false,
      });
      const twice = pruneModel(pruned.config, pruned.weights, second);
      expect(
        maxDiff((await masked2.run(batch, second)).logits!, await plainLogits(twice.config, twice.weights)),
      ).toBeLessThan(1e-5);
      await masked2.release();
    }
    expect(changed).toBeGreaterThan(5); // the masks really remove things
    await masked.release();
  }, 60_000);

  it('hard attention with k ≥ the length changes nothing; k = 1 does', async () => {
    const masked = await createAnytimeModel(runtime, config, weights, {
      reducer: axformerReducer,
      keptPositions: false,
    });
    const full = await plainLogits(config, weights);
    const withK = (k: number) => ({ ...fullMasks(config), hardAttentionK: [k, k, k] });
    expect(maxDiff((await masked.run(batch, withK(seq))).logits!, full)).toBeLessThan(1e-6);
    expect(maxDiff((await masked.run(batch, withK(1))).logits!, full)).toBeGreaterThan(1e-3);
    await masked.release();
  });

  it('writes a smaller checkpoint that records its structure and loads in a fresh process', async () => {
    const masks: AxformerMasks = {
      ffn: [true, false, true],
      attention: [true, true, false],
      heads: [
        [true, false, true, false],
        [false, true, true, true],
        [true, true, true, true],
      ],
      hardAttentionK: [0, 2, 0],
    };
    const pruned = pruneModel(config, weights, masks);
    const dir = mkdtempSync(join(tmpdir(), 'lat-axformer-'));
    writeSafetensors(join(dir, 'model.safetensors'), toHfNames(pruned.weights, pruned.config));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(pruned.config)));
    writeFileSync(join(dir, 'vocab.txt'), vocab);
    const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(json.pruned_heads).toEqual({ 0: [1, 3], 1: [0] });
    expect(json.lat_removed_attention).toEqual([2]);
    expect(json.lat_removed_ffn).toEqual([1]);
    expect(json.lat_hard_attention_k).toEqual({ 1: 2 });

    const loaded = loadModelDir(dir);
    expect(loaded.config.layers).toEqual(pruned.config.layers);
    expect(parameterCount(loaded.config)).toBeLessThan(parameterCount(config));
    expect(encoderMacs(loaded.config, seq)).toBeLessThan(encoderMacs(config, seq));
    const full = new Map(weights);
    const fullDir = mkdtempSync(join(tmpdir(), 'lat-axformer-'));
    writeSafetensors(join(fullDir, 'model.safetensors'), toHfNames(full, config));
    expect(statSync(join(dir, 'model.safetensors')).size).toBeLessThan(
      statSync(join(fullDir, 'model.safetensors')).size,
    );
    const expected = await plainLogits(pruned.config, pruned.weights);
    expect(maxDiff(await plainLogits(loaded.config, loaded.weights), expected)).toBe(0);

    // A fresh process loads it through the registry (the built package, as a user would).
    const dist = join(dirname(fileURLToPath(import.meta.url)), '../../dist/node.js');
    if (!existsSync(dist))
      return expect.soft(existsSync(dist), 'build @lat/layers to run this check').toBe(true);
    const script = `
      const { loadModelDir } = await import(${JSON.stringify(dist)});
      const { createAnytimeModel } = await import(${JSON.stringify(dist.replace(/node\.js$/, 'index.js'))});
      const { createNodeRuntime } = await import('@lat/runtime-node');
      const m = loadModelDir(process.argv[1]);
      const x = JSON.parse(process.argv[2]);
      const model = await createAnytimeModel(createNodeRuntime({ threads: 1 }), m.config, m.weights, { selection: false });
      const r = await model.run({ batch: x.batch, inputIds: BigInt64Array.from(x.ids, BigInt), attentionMask: BigInt64Array.from(x.mask, BigInt) });
      console.log(JSON.stringify(Array.from(r.logits)));`;
    const args = JSON.stringify({
      batch: batch.batch,
      ids: Array.from(batch.inputIds, Number),
      mask: Array.from(batch.attentionMask, Number),
    });
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, dir, args], {
      encoding: 'utf8',
      cwd: join(dirname(fileURLToPath(import.meta.url)), '../..'),
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(maxDiff(Float32Array.from(JSON.parse(r.stdout)), expected)).toBeLessThan(1e-6);
  }, 60_000);

  it('rejects a config that disagrees with its weights about removed heads, in one line', () => {
    const masks = {
      ...fullMasks(config),
      heads: [
        [true, false, true, true],
        [true, true, true, true],
        [true, true, true, true],
      ],
    };
    const pruned = pruneModel(config, weights, masks);
    const dir = mkdtempSync(join(tmpdir(), 'lat-axformer-'));
    writeSafetensors(join(dir, 'model.safetensors'), toHfNames(weights, config)); // unpruned weights
    writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(pruned.config)));
    expect(() => loadModelDir(dir)).toThrowError(
      /encoder\.layer\.0\.attention\.self\.query\.weight is \[16,16\] but the config needs \[12,16\]/,
    );
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ ...toHfConfig(config), pruned_heads: { 0: [0, 1, 2, 3] } }),
    );
    expect(() => loadModelDir(dir)).toThrowError(
      /prunes every head of layer 0; list the layer in lat_removed_attention/,
    );
  });

  it('prunes DistilBERT and RoBERTa checkpoints through the registry (their own tensor names)', async () => {
    for (const arch of [
      { model_type: 'distilbert', dim: 16, n_layers: 3, n_heads: 4, hidden_dim: 24 },
      {
        model_type: 'roberta',
        hidden_size: 16,
        num_hidden_layers: 3,
        num_attention_heads: 4,
        intermediate_size: 24,
        pad_token_id: 1,
        type_vocab_size: 1,
      },
    ]) {
      const c = parseModelConfig({ ...arch, vocab_size: 40, max_position_embeddings: 20, num_labels: 2 });
      const w = createRandomWeights(c, 3, {}, 0.3);
      const masks = { ...randomMasks(new Rng(5)), hardAttentionK: [0, 2, 0] };
      const masked = await createAnytimeModel(runtime, c, w, {
        reducer: axformerReducer,
        keptPositions: false,
      });
      const want = (await masked.run(batch, masks)).logits!;
      await masked.release();
      const p = pruneModel(c, w, masks);
      const dir = mkdtempSync(join(tmpdir(), 'lat-axformer-'));
      writeSafetensors(join(dir, 'model.safetensors'), toHfNames(p.weights, p.config));
      writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(p.config)));
      writeFileSync(join(dir, 'vocab.txt'), vocab);
      const loaded = loadModelDir(dir);
      expect(loaded.config.architecture).toBe(arch.model_type);
      expect(maxDiff(await plainLogits(loaded.config, loaded.weights), want)).toBeLessThan(1e-5);
    }
  });
});
