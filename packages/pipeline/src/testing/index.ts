// Tiny models on disk for the pipeline's tests (not exported from the package).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '@lat/core/node';
import { createRandomWeights, type ModelConfig, parseModelConfig, toHfConfig, toHfNames } from '@lat/layers';
import { exportModel } from '@lat/layers/node';

export const tinyVocab = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  'a',
  'gripping',
  'film',
  'dull',
  'the',
  'was',
  'shot',
  'in',
  'oslo',
  'over',
  'two',
  'winters',
  'its',
  'cafe',
  'scenes',
  'were',
  'filmed',
  'zurich',
  'where',
  '.',
  '?',
  '##s',
];

/** A 2-layer BERT config of `architecture` with a sentiment head. */
export function tinyConfig(architecture: 'bert' | 'roberta' = 'bert'): ModelConfig {
  return parseModelConfig({
    model_type: architecture,
    vocab_size: tinyVocab.length,
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 64,
    max_position_embeddings: 64 + (architecture === 'roberta' ? 2 : 0),
    id2label: { 0: 'negative', 1: 'positive' },
    ...(architecture === 'roberta' ? { pad_token_id: 1, layer_norm_eps: 1e-5, type_vocab_size: 1 } : {}),
  });
}

/**
 * Writes a Hugging Face model directory (config.json, vocab.txt, model.safetensors) whose
 * checkpoint has both a classification and a question-answering head; returns its config.
 */
export function writeTinyModel(dir: string, config = tinyConfig(), seed = 7): ModelConfig {
  mkdirSync(dir, { recursive: true });
  const weights = createRandomWeights(config, seed, { classifier: true, qa: true }, 0.3);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(config)));
  writeFileSync(join(dir, 'vocab.txt'), `${tinyVocab.join('\n')}\n`);
  writeSafetensors(join(dir, 'model.safetensors'), toHfNames(weights, config));
  return config;
}

/** Exports a bundle of the same weights as writeTinyModel(…, seed) for a task. */
export function writeTinyBundle(
  dir: string,
  task: 'classification' | 'span',
  config = tinyConfig(),
  seed = 7,
  frontier?: unknown,
) {
  const weights = createRandomWeights(config, seed, { classifier: true, qa: true }, 0.3);
  return exportModel(dir, config, weights, {
    name: 'tiny',
    fingerprint: 'tiny',
    task: { type: task, labels: task === 'span' ? [] : config.labels },
    tokenizer: {
      vocab: tinyVocab,
      doLowerCase: true,
      maxLength: 64,
      clsToken: '[CLS]',
      sepToken: '[SEP]',
      padToken: '[PAD]',
      unkToken: '[UNK]',
    },
    ...(frontier ? { frontier } : {}),
  });
}
