import { type Architecture, linearShapes } from './architecture.js';
import { firstRow, sumEmbeddings } from './bert.js';

/**
 * DistilBERT (`model_type` distilbert): BERT's layers under other names, no token types,
 * pre_classifier + ReLU head.
 */
export const distilbert: Architecture = {
  modelType: 'distilbert',
  sequenceClassifier: 'DistilBertForSequenceClassification',
  prefix: 'distilbert.',
  tokenizer: 'wordpiece',
  configKeys: {
    hiddenSize: 'dim',
    numLayers: 'n_layers',
    numHeads: 'n_heads',
    intermediateSize: 'hidden_dim',
    activation: 'activation',
    hiddenDropout: 'dropout',
    attentionDropout: 'attention_dropout',
  },
  typeVocabDefault: 0,
  positionOffset: () => 0,
  layerNames: [
    ['attention.q_lin', 'attention.self.query'],
    ['attention.k_lin', 'attention.self.key'],
    ['attention.v_lin', 'attention.self.value'],
    ['attention.out_lin', 'attention.output.dense'],
    ['sa_layer_norm', 'attention.output.LayerNorm'],
    ['ffn.lin1', 'intermediate.dense'],
    ['ffn.lin2', 'output.dense'],
    ['output_layer_norm', 'output.LayerNorm'],
  ],
  classificationHeadShapes: (c) => [
    ...linearShapes('pre_classifier', c.hiddenSize, c.hiddenSize),
    ...linearShapes('classifier', c.numLabels, c.hiddenSize),
  ],
  // No token types.
  embeddings: (b, x) => sumEmbeddings(b, { ids: x.ids, positions: x.positions }),
  // pre_classifier + ReLU on [CLS], dropout, classifier.
  classificationHead: (b, h) =>
    b.linear(
      b.dropout(b.g.relu(b.linear(firstRow(b, h), 'pre_classifier')), b.config.hiddenDropout),
      'classifier',
    ),
};
