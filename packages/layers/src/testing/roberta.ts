// A tiny RoBERTa checkpoint directory as Hugging Face writes it, for tests.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@lat/core/node';
import { byteLevelBpeTokenizerJson } from '@lat/core/testing';
import { parseModelConfig, toHfConfig } from '../architectures/config.js';
import { createRandomWeights, type Heads, toHfNames } from '../architectures/weights.js';

export const robertaCorpus = [
  'a gripping film with a great cast',
  'the plot was dull and the ending weak',
  'Paris is the capital of France.',
];
const tokenizerJson = byteLevelBpeTokenizerJson(robertaCorpus, 60);
const vocabSize = Object.keys(tokenizerJson.model.vocab).length;

/**
 * config.json, model.safetensors (`roberta.` names, classifier.dense/out_proj or qa_outputs) and a
 * byte-level BPE tokenizer.json, with random weights (std 0.3, so every part matters).
 */
export function tinyRobertaDir(heads: Heads = {}) {
  const config = parseModelConfig({
    model_type: 'roberta',
    vocab_size: vocabSize,
    hidden_size: 16,
    num_hidden_layers: 3,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 66,
    type_vocab_size: 1,
    pad_token_id: 1,
    layer_norm_eps: 1e-5,
    num_labels: 3,
  });
  const weights = createRandomWeights(config, 7, heads, 0.3);
  const dir = mkdtempSync(join(tmpdir(), 'lat-roberta-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(config)));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeSafetensors(join(dir, 'model.safetensors'), toHfNames(weights, config), { format: 'pt' });
  return { dir, config, weights };
}
