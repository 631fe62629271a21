import type { Value } from '@lat/core';
import type { Blocks } from '../blocks/context.js';
import { type Architecture, type ConfigKeys, linearShapes } from './architecture.js';

/** Word + position (+ token type) embeddings, then LayerNorm: BERT, and RoBERTa with a position offset. */
export function sumEmbeddings(b: Blocks, x: { ids: Value; positions: Value; types?: Value }): Value {
  const { g } = b;
  const offset = b.config.positionOffset;
  const posIds = offset ? g.add(x.positions, g.int64(offset)) : x.positions;
  let emb = g.add(
    g.gather(b.param('embeddings.word_embeddings.weight'), x.ids, 0),
    g.gather(b.param('embeddings.position_embeddings.weight'), posIds, 0),
  );
  if (x.types) emb = g.add(emb, g.gather(b.param('embeddings.token_type_embeddings.weight'), x.types, 0));
  return b.layerNorm(emb, 'embeddings.LayerNorm');
}

/** [CLS]'s state: the first row, which every reducer keeps. */
export function firstRow(b: Blocks, h: Value): Value {
  return b.g.gather(h, b.g.int64(0), 1);
}

/** BERT's config.json keys (RoBERTa's are the same). */
export const bertConfigKeys: ConfigKeys = {
  hiddenSize: 'hidden_size',
  numLayers: 'num_hidden_layers',
  numHeads: 'num_attention_heads',
  intermediateSize: 'intermediate_size',
  activation: 'hidden_act',
  hiddenDropout: 'hidden_dropout_prob',
  attentionDropout: 'attention_probs_dropout_prob',
  typeVocabSize: 'type_vocab_size',
};

/** BERT (`model_type` bert): WordPiece, token types, pooler + classifier head. */
export const bert: Architecture = {
  modelType: 'bert',
  sequenceClassifier: 'BertForSequenceClassification',
  prefix: 'bert.',
  tokenizer: 'wordpiece',
  configKeys: bertConfigKeys,
  typeVocabDefault: 2,
  positionOffset: () => 0,
  classificationHeadShapes: (c) => [
    ...linearShapes('pooler.dense', c.hiddenSize, c.hiddenSize),
    ...linearShapes('classifier', c.numLabels, c.hiddenSize),
  ],
  embeddings: sumEmbeddings,
  // Pooler (dense + tanh on [CLS]), dropout, classifier.
  classificationHead: (b, h) =>
    b.linear(
      b.dropout(b.g.tanh(b.linear(firstRow(b, h), 'pooler.dense')), b.config.hiddenDropout),
      'classifier',
    ),
};
