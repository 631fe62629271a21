import type { TokenizerKind, Value } from '@lat/core';
import type { Blocks } from '../blocks/context.js';
import type { ModelConfig } from './config.js';

/** config.json keys of one model family (they differ between BERT and DistilBERT). */
export interface ConfigKeys {
  hiddenSize: string;
  numLayers: string;
  numHeads: string;
  intermediateSize: string;
  activation: string;
  hiddenDropout: string;
  attentionDropout: string;
  /** Absent: the family has no token-type embeddings. */
  typeVocabSize?: string;
}

/**
 * Everything lat knows about one model family (`model_type`): its config.json keys, checkpoint
 * names, the tensors of its classification head, and its embedding and head graph parts.
 * Canonical weight names are BERT's without the model prefix; a family maps its own onto them.
 */
export interface Architecture {
  /** The config.json `model_type` it reads (its key in the registry). */
  readonly modelType: string;
  /** The Hugging Face class written to config.json's `architectures`. */
  readonly sequenceClassifier: string;
  /** Prefix of encoder tensors in Hugging Face checkpoints (`bert.`, `roberta.` …). */
  readonly prefix: string;
  readonly configKeys: ConfigKeys;
  /** The tokenizer its checkpoints ship with: which files a model directory's tokenizer is read from. */
  readonly tokenizer: TokenizerKind;
  /** token_type_ids rows when config.json does not say (0: the family has no token types). */
  readonly typeVocabDefault: number;
  /** First position id (RoBERTa counts from padding_idx + 1). */
  positionOffset(padTokenId: number): number;
  /** Per-layer module names that differ from BERT's: [family's, canonical]. */
  readonly layerNames?: readonly (readonly [string, string])[];
  /** The classification head's tensors (canonical names) and their shapes. */
  classificationHeadShapes(c: ModelConfig): [string, number[]][];
  /** Token embeddings [B, n, d] before dropout; `positions` are 0..n−1. */
  embeddings(b: Blocks, x: { ids: Value; positions: Value; types?: Value }): Value;
  /** Sequence classification logits [B, C] from the last states [B, k, d] (the first row is [CLS]/<s>). */
  classificationHead(b: Blocks, h: Value): Value;
}

/** A linear layer's weight [out, in] and bias [out]. */
export function linearShapes(name: string, out: number, inp: number): [string, number[]][] {
  return [
    [`${name}.weight`, [out, inp]],
    [`${name}.bias`, [out]],
  ];
}
