// Tiny models with random weights — written as a Hugging Face directory, exported as a bundle, or
// both from the same weights. The one helper every package's and app's tests (and the consumer
// job) make their models with.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BundleManifest,
  type StateDict,
  type Tokenizer,
  tokenizerFromJson,
  WordPieceTokenizer,
} from '@lat/core';
import { writeSafetensors } from '@lat/core/node';
import { byteLevelBpeTokenizerJson } from '@lat/core/testing';
import { type ModelConfig, parseModelConfig, toHfConfig } from '../architectures/config.js';
import { createRandomWeights, type Heads, toHfNames } from '../architectures/weights.js';
import { exportModel } from '../export.js';
import type { ModelDtype } from '../quantize.js';
import { adaplerWeightsFile, isAdaplerWeight } from '../reducers/adapler.js';

/** A model in memory with its tokenizer and the files a Hugging Face directory holds it in. */
export interface TinyModel {
  config: ModelConfig;
  weights: StateDict;
  tokenizer: Tokenizer;
  /** The tokenizer's files: vocab.txt (WordPiece) or tokenizer.json (byte-level BPE). */
  tokenizerFiles: Record<string, string>;
}

export interface TinyModelOptions {
  /** bert (a WordPiece `vocab`) or roberta (byte-level BPE merges learnt from `corpus`). */
  architecture?: 'bert' | 'roberta';
  /** BERT: the vocabulary, special tokens first ([PAD], [UNK], [CLS], [SEP]). */
  vocab?: readonly string[];
  /** RoBERTa: texts the BPE merges are learnt from, and how many merges. */
  corpus?: readonly string[];
  merges?: number;
  layers?: number;
  hidden?: number;
  numHeads?: number;
  /** Default 2 × hidden. */
  intermediate?: number;
  /** Positions real tokens can take (RoBERTa's table gets its two offset rows on top). */
  maxPositions?: number;
  labels?: readonly string[];
  /** The output heads to create; default both, so one model serves classification and QA. */
  outputs?: Heads;
  seed?: number;
  /** Standard deviation of the random weights. */
  std?: number;
}

const defaultVocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a', 'gripping', 'film', 'dull', 'the', '.'];
const defaultCorpus = ['a gripping film with a great cast', 'the plot was dull and the ending weak'];

/** A tiny BERT or RoBERTa with random weights (seeded) and a tokenizer of its own. */
export function tinyModel(o: TinyModelOptions = {}): TinyModel {
  const roberta = o.architecture === 'roberta';
  let tokenizer: Tokenizer;
  let tokenizerFiles: Record<string, string>;
  if (roberta) {
    const json = byteLevelBpeTokenizerJson([...(o.corpus ?? defaultCorpus)], o.merges ?? 60);
    tokenizer = tokenizerFromJson(json);
    tokenizerFiles = { 'tokenizer.json': JSON.stringify(json) };
  } else {
    const vocab = o.vocab ?? defaultVocab;
    tokenizer = new WordPieceTokenizer(vocab);
    tokenizerFiles = { 'vocab.txt': `${vocab.join('\n')}\n` };
  }
  const hidden = o.hidden ?? 32;
  const labels = o.labels ?? ['negative', 'positive'];
  const config = parseModelConfig({
    model_type: roberta ? 'roberta' : 'bert',
    vocab_size: tokenizer.vocab.length,
    hidden_size: hidden,
    num_hidden_layers: o.layers ?? 2,
    num_attention_heads: o.numHeads ?? 4,
    intermediate_size: o.intermediate ?? 2 * hidden,
    max_position_embeddings: (o.maxPositions ?? 64) + (roberta ? 2 : 0),
    id2label: Object.fromEntries(labels.map((l, i) => [i, l])),
    ...(roberta ? { pad_token_id: 1, layer_norm_eps: 1e-5, type_vocab_size: 1 } : {}),
  });
  const weights = createRandomWeights(
    config,
    o.seed ?? 7,
    o.outputs ?? { classifier: true, qa: true },
    o.std ?? 0.3,
  );
  return { config, weights, tokenizer, tokenizerFiles };
}

/**
 * Writes `m` as Hugging Face saves it: config.json, model.safetensors and the tokenizer's files
 * (an AdapLeR model's predictors and η go to adapler.safetensors, as `lat train` writes them).
 */
export function writeModelDir(dir: string, m: TinyModel): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(m.config)));
  for (const [name, text] of Object.entries(m.tokenizerFiles)) writeFileSync(join(dir, name), text);
  const adapler = new Map([...m.weights].filter(([name]) => isAdaplerWeight(name)));
  const model = new Map([...m.weights].filter(([name]) => !isAdaplerWeight(name)));
  writeSafetensors(join(dir, 'model.safetensors'), toHfNames(model, m.config), { format: 'pt' });
  if (adapler.size) writeSafetensors(join(dir, adaplerWeightsFile), adapler);
  return dir;
}

/** Exports `m` as a bundle for `task`, as `lat export` does; returns its manifest. */
export function writeBundle(
  dir: string,
  m: TinyModel,
  o: {
    task: 'classification' | 'span';
    name?: string;
    fingerprint?: string;
    maxLength?: number;
    frontier?: unknown;
    examples?: string[];
    dtype?: ModelDtype;
  },
): BundleManifest {
  return exportModel(dir, m.config, m.weights, {
    name: o.name ?? 'tiny',
    fingerprint: o.fingerprint ?? 'tiny',
    task: { type: o.task, labels: o.task === 'span' ? [] : m.config.labels },
    tokenizer: m.tokenizer,
    maxLength: o.maxLength ?? 64,
    ...(o.frontier ? { frontier: o.frontier } : {}),
    ...(o.examples ? { examples: o.examples } : {}),
    ...(o.dtype ? { dtype: o.dtype } : {}),
  });
}
