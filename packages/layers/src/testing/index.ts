// Helpers for tests of @lat/layers and the packages above it. Not exported from the main entry.
import type { StateDict } from '@lat/core';
import { type ModelConfig, parseModelConfig } from '../architectures/config.js';
import { createRandomWeights } from '../architectures/weights.js';
import { adapler, initialAdaplerWeights } from '../reducers/adapler.js';
import { type TinyModel, type TinyModelOptions, tinyModel } from './tiny-model.js';

export * from './reference.js';
export * from './roberta.js';
export * from './tiny-model.js';
export * from './training-check.js';

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

/**
 * AdapLeR predictors scaled up (`scale` × σ 0.02) so their scores differ across tokens, and every
 * η set to `eta`.
 */
export function adaplerTestPredictors(config: ModelConfig, eta: number, scale = 60): StateDict {
  const w = initialAdaplerWeights(config, 4);
  for (const [name, t] of w)
    if (name.startsWith('adapler.cp.') && name.endsWith('.weight'))
      w.set(name, { dims: t.dims, data: t.data.map((v) => v * scale) });
  w.set(adapler.eta, { dims: [config.numLayers], data: new Float32Array(config.numLayers).fill(eta) });
  return w;
}

/** Random encoder weights with {@link adaplerTestPredictors}. */
export const adaplerTestWeights = (config: ModelConfig, eta: number, scale = 60): StateDict =>
  new Map([...createRandomWeights(config, 3, {}, 0.3), ...adaplerTestPredictors(config, eta, scale)]);

/** A tiny model ({@link tinyModel}) turned into an AdapLeR model: its weights plus test predictors. */
export function tinyAdaplerModel(o: TinyModelOptions & { eta: number; scale?: number }): TinyModel {
  const m = tinyModel(o);
  return { ...m, weights: new Map([...m.weights, ...adaplerTestPredictors(m.config, o.eta, o.scale)]) };
}
