/**
 * The embedded default task: short "reviews" made of filler words and a few sentiment words;
 * the label is the polarity with more sentiment words. Only a handful of tokens matter, which is
 * what length-adaptive models exploit. Generated from a seed, no downloads.
 */
import { type ModelConfig, parseModelConfig } from '@lat/core';
import type { Example } from './data/examples.js';
import { Rng } from './rng.js';

const positive = [
  'great',
  'superb',
  'lovely',
  'charming',
  'moving',
  'brilliant',
  'delightful',
  'fresh',
  'witty',
  'gripping',
];
const negative = [
  'dull',
  'awful',
  'boring',
  'clumsy',
  'bland',
  'tedious',
  'messy',
  'stale',
  'weak',
  'shallow',
];
const filler = (
  'the a an film movie story plot cast scene actor director script it this that is was and but with of to in ' +
  'on for as its their his her one two some very quite rather more most than then there here really just also ' +
  'again still only even so too at by from about into over after before while when where which who what how'
).split(' ');
const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

export const syntheticVocab: readonly string[] = [...specials, ...filler, ...positive, ...negative, '.', ','];

export interface SyntheticTask {
  vocab: readonly string[];
  labels: string[];
  train: Example[];
  dev: Example[];
}

export function generateSentimentTask(
  o: { seed?: number; train?: number; dev?: number; minWords?: number; maxWords?: number } = {},
): SyntheticTask {
  const rng = new Rng(o.seed ?? 7);
  const minWords = o.minWords ?? 10;
  const maxWords = o.maxWords ?? 28;
  const make = (i: number, split: string): Example => {
    const label = rng.int(2);
    const [mine, other] = label === 1 ? [positive, negative] : [negative, positive];
    const nMine = 1 + rng.int(3);
    const nOther = rng.int(nMine); // always fewer words of the other polarity
    const n = minWords + rng.int(maxWords - minWords + 1);
    const words = Array.from({ length: n }, () => filler[rng.int(filler.length)]!);
    const place = (w: string) => words.splice(rng.int(words.length + 1), 0, w);
    for (let k = 0; k < nMine; k++) place(mine[rng.int(mine.length)]!);
    for (let k = 0; k < nOther; k++) place(other[rng.int(other.length)]!);
    return { textA: `${words.join(' ')} .`, label, source: `synthetic-${split}:${i + 1}` };
  };
  const train = Array.from({ length: o.train ?? 2000 }, (_, i) => make(i, 'train'));
  const dev = Array.from({ length: o.dev ?? 400 }, (_, i) => make(i, 'dev'));
  return { vocab: syntheticVocab, labels: ['negative', 'positive'], train, dev };
}

/** A small BERT for the embedded task (sizes chosen to train in seconds on 2 cores). */
export function syntheticModelConfig(
  o: { layers?: number; hidden?: number; heads?: number; vocabSize?: number } = {},
): ModelConfig {
  const hidden = o.hidden ?? 64;
  return parseModelConfig({
    model_type: 'bert',
    vocab_size: o.vocabSize ?? syntheticVocab.length,
    hidden_size: hidden,
    num_hidden_layers: o.layers ?? 4,
    num_attention_heads: o.heads ?? 4,
    intermediate_size: hidden * 2,
    max_position_embeddings: 64,
    type_vocab_size: 2,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    id2label: { 0: 'negative', 1: 'positive' },
  });
}
