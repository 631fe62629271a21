/** What every task pipeline is built from and what each exposes besides its call. */
import type { LengthSpec, Runtime, Tokenizer } from '@lat/core';
import type { AnytimeModel, ModelConfig, ModelDtype } from '@lat/layers';
import type { FrontierFile, FrontierPoint } from '@lat/search';
import { type LengthOptions, refuseAdaplerLengths, resolveLengths } from './lengths.js';
import type { ModelFiles } from './model.js';
import type { PipelineOptions } from './pipeline.js';

/** A model loaded for a task: its files, its session, its frontier and the input length. */
export interface PipelineBase {
  files: ModelFiles;
  runtime: Runtime;
  model: AnytimeModel;
  frontier: FrontierFile | undefined;
  maxLength: number;
  options: PipelineOptions;
  /** What the encoder computes in: the graph built (model directories) or exported (bundles). */
  dtype: ModelDtype;
}

/** The members both task pipelines have. */
export interface PipelineMembers {
  /** The model's name (its directory or bundle name). */
  readonly modelName: string;
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  /** The frontier `{ budget }` calls pick from, when the model has one. */
  readonly frontier: FrontierFile | undefined;
  /** Longest input in tokens (QA: longest window). */
  readonly maxLength: number;
  /** 'q8' when the encoder's matrix products run in int8, else 'fp32'. */
  readonly dtype: ModelDtype;
  /** The runtime the model runs on (its `name` says which, e.g. 'onnxruntime-node'). */
  readonly runtime: Runtime;
  /**
   * AdapLeR models: η per layer. Each input keeps its own tokens per layer (results' `lengths`),
   * so calls take no length options.
   */
  readonly adapler: { eta: number[] } | undefined;
  /** The session, for callers that feed it batches themselves (benchmarks). */
  readonly model: AnytimeModel;
  /** The length configuration a call's options stand for, and the frontier point a budget picked. */
  lengthsFor(options?: LengthOptions): { spec?: LengthSpec; point?: FrontierPoint };
  /** Releases the ONNX session. */
  dispose(): Promise<void>;
}

export function pipelineMembers(p: PipelineBase): PipelineMembers {
  return {
    modelName: p.files.name,
    config: p.files.config,
    tokenizer: p.files.tokenizer,
    frontier: p.frontier,
    maxLength: p.maxLength,
    dtype: p.dtype,
    runtime: p.runtime,
    model: p.model,
    adapler: p.files.adapler,
    lengthsFor: (o = {}) => {
      if (p.files.adapler) refuseAdaplerLengths(o);
      return resolveLengths(o, p.files.config.numLayers, p.frontier);
    },
    dispose: () => p.model.release(),
  };
}
