import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLatError } from '../errors.js';
import { parseModelConfig, toHfConfig } from './config.js';
import { loadModelDir } from './model-dir.js';
import { bf16ToFloat, halfToFloat, readSafetensors, writeSafetensors } from './safetensors.js';
import { createRandomWeights, expectedShapes, toCanonical, toHfNames } from './weights.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-io-'));
const tiny = parseModelConfig({
  model_type: 'bert',
  vocab_size: 20,
  hidden_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 16,
  max_position_embeddings: 32,
  id2label: { 0: 'neg', 1: 'pos' },
});

describe('safetensors', () => {
  it('round-trips tensors exactly and writes atomically', () => {
    const w = createRandomWeights(tiny, 3);
    const p = join(dir, 'w.safetensors');
    writeSafetensors(p, w, { format: 'pt' });
    const back = readSafetensors(p);
    expect([...back.keys()].sort()).toEqual([...w.keys()].sort());
    for (const [k, t] of w) {
      expect(back.get(k)!.dims).toEqual(t.dims);
      expect(back.get(k)!.data).toEqual(t.data);
    }
    const headerLen = Number(readFileSync(p).readBigUInt64LE(0));
    expect(headerLen % 8).toBe(0);
  });

  it('rejects truncated files and bad headers with a typed error', () => {
    const p = join(dir, 'w2.safetensors');
    writeSafetensors(p, new Map([['a', { dims: [4], data: Float32Array.of(1, 2, 3, 4) }]]));
    const bytes = readFileSync(p);
    const bad = join(dir, 'bad.safetensors');
    for (const b of [
      bytes.subarray(0, bytes.length - 4),
      bytes.subarray(0, 5),
      Buffer.concat([Buffer.from([255, 255, 255, 255, 0, 0, 0, 0]), bytes.subarray(8)]),
    ]) {
      writeFileSync(bad, b);
      expect(() => readSafetensors(bad)).toThrow(/not a valid safetensors file/);
    }
  });

  it('widens fp16 and bf16', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(bf16ToFloat(0x3f80)).toBe(1);
  });
});

const distilConfig = () =>
  parseModelConfig({
    model_type: 'distilbert',
    vocab_size: 20,
    dim: 8,
    n_layers: 1,
    n_heads: 2,
    hidden_dim: 16,
    max_position_embeddings: 32,
  });

describe('config and weight names', () => {
  it('parses BERT and DistilBERT configs and round-trips them', () => {
    expect(tiny).toMatchObject({ numLayers: 2, hiddenSize: 8, labels: ['neg', 'pos'], typeVocabSize: 2 });
    const distil = distilConfig();
    expect(distil).toMatchObject({ architecture: 'distilbert', typeVocabSize: 0, intermediateSize: 16 });
    expect(parseModelConfig(toHfConfig(distil))).toEqual(distil);
    expect(parseModelConfig(toHfConfig(tiny))).toEqual(tiny);
    expect(() => parseModelConfig({ ...toHfConfig(tiny), num_attention_heads: 3 })).toThrow(
      /config.json#num_attention_heads: hidden size 8 is not divisible by 3/,
    );
    expect(() => parseModelConfig({ model_type: 'gpt2' })).toThrow(/model_type 'gpt2' is not supported/);
  });

  it('maps DistilBERT names both ways and lists missing tensors', () => {
    const distil = distilConfig();
    const w = createRandomWeights(distil, 1);
    const hf = toHfNames(w, distil);
    expect(hf.has('distilbert.transformer.layer.0.attention.q_lin.weight')).toBe(true);
    expect(hf.has('distilbert.transformer.layer.0.sa_layer_norm.bias')).toBe(true);
    expect(hf.has('pre_classifier.weight')).toBe(true);
    expect([...toCanonical(hf, distil, 'x').keys()].sort()).toEqual([...w.keys()].sort());
    const bert = toHfNames(createRandomWeights(tiny, 1), tiny);
    bert.delete('bert.encoder.layer.1.output.dense.weight');
    try {
      toCanonical(bert, tiny, 'model.safetensors');
      expect.unreachable();
    } catch (e) {
      expect(isLatError(e, 'MISSING_TENSORS')).toBe(true);
      expect((e as Error).message).toContain('missing tensors: encoder.layer.1.output.dense.weight');
    }
    expect(expectedShapes(tiny).get('classifier.weight')).toEqual([2, 8]);
  });
});

const fixture = join(import.meta.dirname, '../../../../../shared/fixtures/models/bert-tiny-sst2');
describe.skipIf(!existsSync(fixture))('real checkpoint (../shared/fixtures/models/bert-tiny-sst2)', () => {
  it('loads config, vocab and safetensors weights', () => {
    const m = loadModelDir(fixture);
    expect(m.config).toMatchObject({
      numLayers: 2,
      hiddenSize: 128,
      numHeads: 2,
      labels: ['negative', 'positive'],
    });
    expect(m.vocab).toHaveLength(30522);
    expect(m.weights.get('encoder.layer.1.intermediate.dense.weight')!.dims).toEqual([512, 128]);
  });
});
if (!existsSync(fixture)) console.log(`skipping real-checkpoint test: ${fixture} is absent`);
