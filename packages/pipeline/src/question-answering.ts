/**
 * Extractive question answering at a budget: the context is split into overlapping windows (doc
 * stride), every window runs through the span model, and the best span comes back with its exact
 * character offsets in the context.
 */
import type { ModelConfig, WordPieceTokenizer } from '@lat/core';
import type { AnytimeModel, LengthSpec } from '@lat/layers';
import {
  type AnytimeSpanLogits,
  anytimeSpanModel,
  createQuestionAnswerer,
  type SpanModel,
  squadFeatureOptions,
} from '@lat/qa';
import type { FrontierFile, FrontierPoint } from '@lat/search';
import { inputMacs, type LengthOptions, resolveLengths } from './lengths.js';
import type { PipelineBase } from './pipeline.js';

export interface QuestionInput {
  question: string;
  context: string;
}

export interface QuestionAnswer {
  /** The answer's text, exactly as in the context ('' when no span was found). */
  answer: string;
  /** The span's start + end logit. */
  score: number;
  /** Character range [start, end) of the answer in the context (-1 when none). */
  start: number;
  end: number;
  /** How many windows the context was split into, and which one the answer came from. */
  windows: number;
  window: number;
  /** That window's tokens, what each layer kept of it, and its positions kept per layer. */
  tokens: string[];
  lengths: number[];
  keptPositions: number[][];
  /** Multiply-accumulates over every window, and what the full model would have cost. */
  macs: number;
  fullMacs: number;
}

export interface QuestionAnsweringPipeline {
  (input: QuestionInput, options?: LengthOptions): Promise<QuestionAnswer>;
  (inputs: readonly QuestionInput[], options?: LengthOptions): Promise<QuestionAnswer[]>;
  readonly task: 'question-answering';
  /** The model's name (its directory or bundle name). */
  readonly modelName: string;
  readonly config: ModelConfig;
  readonly tokenizer: WordPieceTokenizer;
  readonly frontier: FrontierFile | undefined;
  readonly maxLength: number;
  readonly model: AnytimeModel;
  /** The span model on windows already built (e.g. by @lat/qa's `loadSquadSet`), for `squadScores`. */
  readonly runWindows: SpanModel<LengthOptions, AnytimeSpanLogits>;
  lengthsFor(options?: LengthOptions): { spec?: LengthSpec; point?: FrontierPoint };
  dispose(): Promise<void>;
}

export function createQuestionAnswering(p: PipelineBase): QuestionAnsweringPipeline {
  const { config, tokenizer } = p.files;
  const lengthsFor = (o: LengthOptions = {}) => resolveLengths(o, config.numLayers, p.frontier);
  const spanModel = anytimeSpanModel(p.model, { batchSize: p.options.batchSize ?? 8 });
  const runWindows: QuestionAnsweringPipeline['runWindows'] = (features, options) => {
    const { spec } = lengthsFor(options);
    return spanModel(features, spec ? { lengths: spec } : {});
  };
  const defaults = squadFeatureOptions(p.maxLength);
  const answerer = createQuestionAnswerer({
    tokenizer,
    runSpanModel: runWindows,
    features: {
      maxSeqLength: p.maxLength,
      docStride: p.options.docStride ?? defaults.docStride,
      maxQueryLength: p.options.maxQueryLength ?? defaults.maxQueryLength,
    },
    decode: { maxAnswerLength: p.options.maxAnswerLength ?? 30 },
  });

  async function answerOne(input: QuestionInput, options: LengthOptions): Promise<QuestionAnswer> {
    const a = await answerer.answer(input, options);
    const shown = Math.max(0, a.window);
    const f = a.features[shown]!;
    const o = a.outputs[shown]!;
    let macs = 0;
    let fullMacs = 0;
    a.features.forEach((w, i) => {
      macs += inputMacs(config, w.ids.length, a.outputs[i]!.keepCounts);
      fullMacs += inputMacs(config, w.ids.length);
    });
    return {
      answer: a.text,
      score: a.score,
      start: a.start,
      end: a.end,
      windows: a.features.length,
      window: a.window,
      tokens: f.ids.map((id) => tokenizer.vocab[id]!),
      lengths: o.keepCounts.map((c) => Math.min(c, f.ids.length)),
      keptPositions: o.keptPositions,
      macs,
      fullMacs,
    };
  }

  async function answer(inputs: QuestionInput | readonly QuestionInput[], options: LengthOptions = {}) {
    lengthsFor(options); // bad options fail before any work
    if (!Array.isArray(inputs)) return answerOne(inputs as QuestionInput, options);
    const out: QuestionAnswer[] = [];
    for (const input of inputs as readonly QuestionInput[]) out.push(await answerOne(input, options));
    return out;
  }
  return Object.assign(answer as QuestionAnsweringPipeline, {
    task: 'question-answering' as const,
    modelName: p.files.name,
    config,
    tokenizer,
    frontier: p.frontier,
    maxLength: p.maxLength,
    model: p.model,
    runWindows,
    lengthsFor,
    dispose: () => p.model.release(),
  });
}
