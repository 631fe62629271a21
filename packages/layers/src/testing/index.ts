// Helpers for tests of @lat/layers and the packages above it. Not exported from the main entry.
import { parseModelConfig } from '../architectures/config.js';

export * from './reference.js';
export * from './roberta.js';
export * from './tiny-model.js';

/** BERT-base (uncased) dimensions, for cost and graph-size checks. */
export const bertBaseConfig = () =>
  parseModelConfig({
    model_type: 'bert',
    vocab_size: 30522,
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    intermediate_size: 3072,
    max_position_embeddings: 512,
    type_vocab_size: 2,
  });

/** A 2-layer, 16-wide BERT for graph tests; `dropout` sets both dropout rates (0.1 by default). */
export const tinyBertConfig = (dropout?: number) =>
  parseModelConfig({
    model_type: 'bert',
    vocab_size: 30,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 16,
    ...(dropout !== undefined ? { hidden_dropout_prob: dropout, attention_probs_dropout_prob: dropout } : {}),
  });
