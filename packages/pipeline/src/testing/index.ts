// The pipeline tests' tiny model (not exported from the package).
import type { ModelDtype } from '@lat/layers';
import { tinyModel, writeBundle, writeModelDir } from '@lat/layers/testing';

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

/** A 2-layer BERT with a sentiment and a question-answering head (random weights of `seed`). */
export const tinyBert = (seed = 7) => tinyModel({ vocab: tinyVocab, seed });

/** Writes tinyBert() as a Hugging Face model directory (config.json, vocab.txt, model.safetensors). */
export function writeTinyModel(dir: string) {
  writeModelDir(dir, tinyBert());
}

/** Exports a bundle of the same weights as writeTinyModel for a task (fp32, or q8). */
export function writeTinyBundle(
  dir: string,
  task: 'classification' | 'span',
  frontier?: unknown,
  dtype: ModelDtype = 'fp32',
) {
  return writeBundle(dir, tinyBert(), { task, frontier, dtype });
}
