/**
 * Token reduction behind one interface. The encoder asks a reducer, after each layer's attention
 * sub-block, which rows the layer's feed-forward block runs on; everything else (embeddings,
 * attention, LayerDrop, Drop-and-Restore, heads) is the encoder's and never changes for a method.
 *
 * How the planned methods fit:
 * - LAT (`latReducer`): scores = attention received, TopK with per-example counts fed as a graph
 *   input; `rows` is a Gather, `positions` the kept original positions.
 * - AdapLeR (`adaplerReducer`): `parameters` lists the predictor weights and η (trained with the
 *   encoder); `attentionScores` scores the layer's input tokens through the predictors and masks
 *   the removed ones as keys, `reduce` drops their rows, padded to the batch's largest count
 *   (per-input counts); in training graphs `losses` gives the KL and length terms an objective
 *   weights by name.
 * - Trainable pooling: `rows(x)` is a weighted merge — MatMul of a [B, k, n] merge matrix (built
 *   from the reducer's parameters) with x — not a subset; `positions` names each merged row's
 *   representative (e.g. its first member) for kept-position outputs and Drop-and-Restore, and
 *   `valid` marks the rows restore may write back.
 * - AxFormer masks and hard attention (`axformerReducer`): `blockOn` switches a layer's attention or
 *   feed-forward block off (its input passes unchanged), `headMask` silences single heads, and
 *   `attentionScores` edits the [B, H, n, n] scores before the softmax (everything outside each
 *   query's top-k gets the −10000 of a masked key); `reduce` returns `undefined`, keeping every token.
 * Graph inputs a reducer declares (by name, once, in its own file) are fed by its `feeds`, so the
 * host code that runs a graph never spells them. `reducer.test.ts` builds a merge and a mask
 * reducer this way; train's `toy-reducer.test.ts` trains a first-k reducer with its own objective.
 */
import type { Graph, HostTensor, Value } from '@lat/core';
import type { ModelConfig } from '../architectures/index.js';

/** What the encoder gives a reducer when building a graph. */
export interface ReducerContext {
  /** The graph being built. */
  g: Graph;
  config: ModelConfig;
  /** Training graphs: the reduction must be differentiable where it matters (no ONNX If). */
  training: boolean;
  /** One of the reducer's own `parameters`, as an initializer or a trained graph input. */
  param(name: string): Value;
  /** int64 scalar: the input's length in tokens (the rows layer 0 receives). */
  seqLength: Value;
}

/** One layer's state at the point where tokens are reduced. */
export interface LayerInput {
  /** The layer's index, from 0. */
  layer: number;
  /** The layer's input states [B, n, d] (what a skipped layer passes on). */
  input: Value;
  /** States after the attention sub-block [B, n, d]: what the feed-forward block would read. */
  attended: Value;
  /** Attention probabilities [B, H, n, n] (before dropout). */
  probs: Value;
  /** [B, n] float: 1 for real tokens still present, 0 for padding or unused slots. */
  mask: Value;
  /** [B, n] int64: each row's original position. */
  positions: Value;
}

/** The rows a layer keeps: k rows per example, k ≤ n. */
export interface Reduction {
  /** Maps any [B, n, d] states onto the kept rows [B, k, d] (a Gather, or a weighted merge). */
  rows(x: Value): Value;
  /** [B, k] float: 1 for real tokens among the kept rows. */
  mask: Value;
  /** [B, k] int64: the original position each kept row stands for. */
  positions: Value;
  /** [B, k] float: 1 where the row is a real kept slot of this example (restore writes it back). */
  valid: Value;
}

/** A layer's reduction, built lazily so inference can skip it when every token is kept. */
export interface LayerReduction {
  /**
   * A bool scalar (or one-element tensor), true when every example keeps every token: inference
   * then skips `reduce`'s ops under an If. Built only when the encoder asks (graphs with a
   * full-length branch have no per-layer If).
   */
  keepsAll?(): Value;
  /** Builds the reduction's ops (inside an ONNX If branch at inference when `keepsAll` is given). */
  reduce(): Reduction;
  /**
   * int64 scalar: how many rows `reduce` keeps, without its ops. A training graph whose last
   * layer computes only [CLS]'s row draws that row's dropout mask from the kept rows' mask.
   */
  keptRows?(): Value;
}

/** A reducer's part of one graph. */
export interface ReducerGraph {
  /**
   * Edits one layer's attention scores [B, H, n, n] before the softmax (masks, hard attention);
   * `input` is the layer's input [B, n, d] (what AdapLeR's predictors read).
   */
  attentionScores?(layer: number, scores: Value, mask: Value, input: Value): Value;
  /** [heads] float: 1 keeps a head's output, 0 silences it; `heads` is the layer's head count. */
  headMask?(layer: number, heads: number): Value;
  /** A bool scalar; false makes the layer's block pass its input through unchanged. */
  blockOn?(layer: number, block: 'attention' | 'ffn'): Value;
  /**
   * Inference: a bool scalar, true when no layer will drop a token of any example in an input of
   * `seqLength` tokens (int64 scalar); the encoder then runs its layers without this reducer's
   * `reduce` ops, under one If instead of one per layer.
   */
  keepsEverything?(seqLength: Value): Value;
  /** The reduction after layer `x.layer`'s attention; undefined keeps every token. */
  reduce(x: LayerInput): LayerReduction | undefined;
  /** Extra graph outputs, named, built after the last layer. */
  outputs?(): Record<string, Value>;
  /** Scalar loss terms, named; a training objective weights them per pass. */
  losses?(targets: LossTargets): Record<string, Value>;
}

/** The task's targets in a training graph, for reducer losses that read them. */
export interface LossTargets {
  /** Span tasks: [B] int64 gold start and end token positions (inclusive). */
  spans?: { start: Value; end: Value };
}

/** The batch a reducer's feeds are computed for: [batch × seq] row-major. */
export interface ReducerBatch {
  attentionMask: BigInt64Array;
  /** Segment ids (absent: all 0), for reducers that treat a segment apart. */
  tokenTypeIds?: BigInt64Array;
  batch: number;
}

/**
 * A token-reduction method. `S` is its per-call setting (LAT: a length configuration), turned
 * into graph feeds by `feeds`.
 */
export interface TokenReducer<S> {
  /** The method's name (what the CLI and objectives pick it by). */
  readonly name: string;
  /** Trained parameters of the reducer's own, by name, with their shapes. */
  parameters?(config: ModelConfig): Map<string, number[]>;
  /** Adds the reducer's graph inputs to `ctx.g` and returns its per-layer part. */
  build(ctx: ReducerContext): ReducerGraph;
  /** Feeds for the graph inputs `build` declared, for one batch at one setting. */
  feeds(setting: S, x: ReducerBatch, config: ModelConfig): Record<string, HostTensor>;
  /**
   * The host's reading of {@link ReducerGraph.keepsEverything}: whether these feeds keep every
   * token of inputs `seq` tokens long in every layer (a model then runs its full-length session).
   */
  keepsEverything?(feeds: Record<string, HostTensor>, seq: number): boolean;
}
