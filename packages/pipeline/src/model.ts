/** What a pipeline runs: a model read from a directory, a bundle, or handed over in memory. */
import type { StateDict, Tokenizer } from '@lat/core';
import type { ModelConfig, ModelDtype } from '@lat/layers';

export type ModelTask = 'classification' | 'regression' | 'span';

/**
 * A model ready for a pipeline. Either `weights` (the graph is built here, as from a Hugging Face
 * directory) or `graph` (an exported bundle's ONNX bytes) must be given.
 */
export interface ModelFiles {
  name: string;
  config: ModelConfig;
  tokenizer: Tokenizer;
  weights?: StateDict;
  graph?: Uint8Array;
  /** What the model was trained for, when known; a pipeline for another task refuses it. */
  task?: ModelTask;
  /** Longest input in tokens (longer inputs are truncated, or split into windows for QA). */
  maxLength?: number;
  /** SQuAD v2 span models: answer "" when the null score beats the best span by more than this. */
  nullThreshold?: number;
  /** The frontier file's content (from `lat search`), for `{ budget }` and `{ latencyMs }` calls. */
  frontier?: unknown;
  /** With `weights`: the frontier searched on the q8 graph of these weights (`lat search --dtype q8`). */
  q8Frontier?: unknown;
  /** With `graph`: what the graph computes in (an exported bundle's `model.dtype`, default fp32). */
  dtype?: ModelDtype;
  /** A hash of the weights; a frontier made on other weights is refused. */
  fingerprint?: string;
  /**
   * AdapLeR models (with `weights`: their predictors and η are among them): each input keeps its
   * own tokens per layer, so calls take no length options. η per layer.
   */
  adapler?: { eta: number[] };
}

/** Whether a source is an in-memory model (rather than bundle files). */
export function isModelFiles(x: object): x is ModelFiles {
  return 'config' in x && 'tokenizer' in x;
}
