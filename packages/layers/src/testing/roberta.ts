// A tiny RoBERTa checkpoint directory as Hugging Face writes it, for tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Heads } from '../architectures/weights.js';
import { tinyModel, writeModelDir } from './tiny-model.js';

export const robertaCorpus = [
  'a gripping film with a great cast',
  'the plot was dull and the ending weak',
  'Paris is the capital of France.',
];

/**
 * config.json, model.safetensors (`roberta.` names, classifier.dense/out_proj or qa_outputs) and a
 * byte-level BPE tokenizer.json, with random weights (std 0.3, so every part matters).
 */
export function tinyRobertaDir(heads: Heads = {}) {
  const m = tinyModel({
    architecture: 'roberta',
    corpus: robertaCorpus,
    hidden: 16,
    layers: 3,
    numHeads: 2,
    labels: ['LABEL_0', 'LABEL_1', 'LABEL_2'],
    outputs: heads,
  });
  const dir = writeModelDir(mkdtempSync(join(tmpdir(), 'lat-roberta-')), m);
  return { dir, config: m.config, weights: m.weights };
}
