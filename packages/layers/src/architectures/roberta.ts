import { type Architecture, linearShapes } from './architecture.js';
import { bertConfigKeys, firstRow, sumEmbeddings } from './bert.js';

/**
 * RoBERTa (`model_type` roberta): byte-level BPE, one token type, positions counted from
 * padding_idx + 1, classifier.dense + tanh + out_proj head on `<s>`.
 */
export const roberta: Architecture = {
  modelType: 'roberta',
  sequenceClassifier: 'RobertaForSequenceClassification',
  prefix: 'roberta.',
  tokenizer: 'bpe',
  configKeys: bertConfigKeys,
  typeVocabDefault: 1,
  // Position ids count from padding_idx + 1 (real tokens of right-padded inputs).
  positionOffset: (pad) => pad + 1,
  // RobertaClassificationHead: no pooler; dense + tanh, then out_proj.
  classificationHeadShapes: (c) => [
    ...linearShapes('classifier.dense', c.hiddenSize, c.hiddenSize),
    ...linearShapes('classifier.out_proj', c.numLabels, c.hiddenSize),
  ],
  embeddings: sumEmbeddings,
  // dropout, classifier.dense + tanh on <s>, dropout, classifier.out_proj.
  classificationHead: (b, h) => {
    const p = b.config.hiddenDropout;
    const x = b.g.tanh(b.linear(b.dropout(firstRow(b, h), p), 'classifier.dense'));
    return b.linear(b.dropout(x, p), 'classifier.out_proj');
  },
};
