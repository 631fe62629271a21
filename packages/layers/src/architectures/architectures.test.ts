import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isLatError } from '@lat/core';
import { describe, expect, it } from 'vitest';
import { loadModelDir } from '../model-dir.js';
import { bertBaseConfig } from '../testing/index.js';
import { parseModelConfig, toHfConfig } from './config.js';
import { architectures } from './index.js';
import { createRandomWeights, expectedShapes, parameterCount, toCanonical, toHfNames } from './weights.js';

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

  it('keys the registry by model_type and maps RoBERTa names (heads unprefixed, MLM head ignored)', () => {
    for (const [key, a] of Object.entries(architectures)) expect(a.modelType).toBe(key);
    const c = parseModelConfig({ ...toHfConfig(tiny), model_type: 'roberta', pad_token_id: 1 });
    expect(c).toMatchObject({ positionOffset: 2, typeVocabSize: 2 });
    const hf = toHfNames(createRandomWeights(c, 1), c);
    expect(hf.has('roberta.encoder.layer.1.output.dense.weight')).toBe(true);
    expect(hf.has('classifier.out_proj.weight')).toBe(true);
    expect(hf.has('roberta.pooler.dense.weight')).toBe(false);
    hf.set('lm_head.dense.weight', { dims: [8, 8], data: new Float32Array(64) });
    expect([...toCanonical(hf, c, 'x').keys()].sort()).toEqual([...createRandomWeights(c, 1).keys()].sort());
  });

  it('counts BERT-base parameters like PyTorch (109,483,778 for 2-label classification)', () => {
    expect(parameterCount(bertBaseConfig())).toBe(109_483_778);
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
    expect(m.tokenizer?.vocab).toHaveLength(30522);
    expect(m.weights.get('encoder.layer.1.intermediate.dense.weight')!.dims).toEqual([512, 128]);
  });
});
if (!existsSync(fixture)) console.log(`skipping real-checkpoint test: ${fixture} is absent`);
