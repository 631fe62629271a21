/**
 * The embedded default task: short "reviews" made of filler words and a few sentiment words;
 * the label is the polarity with more sentiment words. Only a handful of tokens matter, which is
 * what length-adaptive models exploit. Generated from a seed, no downloads.
 */

import { Rng } from '@lat/core';
import { type ModelConfig, parseModelConfig } from '@lat/layers';
import type { Example } from './data/examples.js';

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

/** The vocabulary of the synthetic tasks (BERT specials, filler, praise and pan words). */
export const syntheticVocab: readonly string[] = [...specials, ...filler, ...positive, ...negative, '.', ','];

/** A generated task: vocabulary, labels and train/dev examples. */
export interface SyntheticTask {
  vocab: readonly string[];
  labels: string[];
  train: Example[];
  dev: Example[];
}

interface TaskSize {
  seed?: number;
  train?: number;
  dev?: number;
  minWords?: number;
  maxWords?: number;
}

/** What a review maker gets: the seeded RNG and a call that draws its filler words. */
interface ReviewMaker {
  rng: Rng;
  /** Draws the filler words (once per review); returns `place`, which inserts a word at random. */
  fill(): (word: string) => void;
}

/** Builds train and dev splits from one seeded review maker; `review` returns the label. */
function generateTask(o: TaskSize, labels: string[], review: (r: ReviewMaker) => number): SyntheticTask {
  const rng = new Rng(o.seed ?? 7);
  const minWords = o.minWords ?? 10;
  const maxWords = o.maxWords ?? 28;
  const make = (i: number, split: string): Example => {
    let words: string[] = [];
    const fill = () => {
      const n = minWords + rng.int(maxWords - minWords + 1);
      words = Array.from({ length: n }, () => filler[rng.int(filler.length)]!);
      return (w: string) => words.splice(rng.int(words.length + 1), 0, w);
    };
    const label = review({ rng, fill });
    return { textA: `${words.join(' ')} .`, label, source: `synthetic-${split}:${i + 1}` };
  };
  const train = Array.from({ length: o.train ?? 2000 }, (_, i) => make(i, 'train'));
  const dev = Array.from({ length: o.dev ?? 400 }, (_, i) => make(i, 'dev'));
  return { vocab: syntheticVocab, labels, train, dev };
}

/** A seeded sentiment task: the label is the polarity with more words in the review. */
export function generateSentimentTask(o: TaskSize = {}): SyntheticTask {
  return generateTask(o, ['negative', 'positive'], ({ rng, fill }) => {
    const label = rng.int(2);
    const [mine, other] = label === 1 ? [positive, negative] : [negative, positive];
    const nMine = 1 + rng.int(3);
    const nOther = rng.int(nMine); // always fewer words of the other polarity
    const place = fill();
    for (let k = 0; k < nMine; k++) place(mine[rng.int(mine.length)]!);
    for (let k = 0; k < nOther; k++) place(other[rng.int(other.length)]!);
    return label;
  });
}

/**
 * Long documents: the sentiment task's reviews stretched to `minWords`–`maxWords` words (default
 * 1000–2000, one token each, so 1–2k-token inputs; 4k with `maxWords: 4000`). One to three
 * sentiment words (and fewer of the other polarity) at random places decide the label; the rest
 * is filler — few spans matter, which is what trainable pooling keeps. Seeded like every
 * synthetic task: the same options give the same documents.
 */
export function generateLongDocumentTask(o: TaskSize = {}): SyntheticTask {
  return generateSentimentTask({ minWords: 1000, maxWords: 2000, ...o });
}

/**
 * "Rave" reviews: 1–5 praise words among filler; the label is `rave` when there are at least
 * three. Counting is what token dropping disturbs: a plain model keeps re-counting in later
 * layers over the tokens that are left, while LengthDrop teaches it to count in the first layer,
 * which always sees every token. Plain fine-tuning reaches the same full-length accuracy, so the
 * task shows what LengthDrop is for.
 */
export function generateRaveTask(o: TaskSize = {}): SyntheticTask {
  return generateTask({ minWords: 6, maxWords: 25, ...o }, ['not rave', 'rave'], ({ rng, fill }) => {
    const place = fill();
    const praise = 1 + rng.int(5);
    for (let k = 0; k < praise; k++) place(positive[rng.int(positive.length)]!);
    return praise >= 3 ? 1 : 0;
  });
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
