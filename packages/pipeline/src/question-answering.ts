/**
 * Extractive question answering at a budget: the context is split into overlapping windows (doc
 * stride), every window runs through the span model, and the best span comes back with its exact
 * character offsets in the context.
 */
import { checkFinite, LatError } from '@lat/core';
import {
  type AnytimeSpanLogits,
  anytimeSpanModel,
  createQuestionAnswerer,
  type SpanModel,
  squadFeatureOptions,
} from '@lat/qa';
import { inputMacs, type LengthOptions } from './lengths.js';
import { type PipelineBase, type PipelineMembers, pipelineMembers } from './loaded.js';

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

export interface QuestionAnsweringPipeline extends PipelineMembers {
  (input: QuestionInput, options?: LengthOptions): Promise<QuestionAnswer>;
  (inputs: readonly QuestionInput[], options?: LengthOptions): Promise<QuestionAnswer[]>;
  readonly task: 'question-answering';
  /** The span model on windows already built (e.g. by @lat/qa's `loadSquadSet`), for `squadScores`. */
  readonly runWindows: SpanModel<LengthOptions, AnytimeSpanLogits>;
}

export function createQuestionAnswering(p: PipelineBase): QuestionAnsweringPipeline {
  const { config, tokenizer } = p.files;
  const members = pipelineMembers(p);
  const spanModel = anytimeSpanModel(p.model, { batchSize: p.options.batchSize ?? 8 });
  const runWindows: QuestionAnsweringPipeline['runWindows'] = async (features, options) => {
    const { spec } = members.lengthsFor(options);
    const out = await spanModel(features, spec ? { lengths: spec } : {});
    for (const w of out) {
      checkFinite(w.start, p.files.name);
      checkFinite(w.end, p.files.name);
    }
    return out;
  };
  const defaults = squadFeatureOptions(p.maxLength);
  const nullThreshold = p.options.nullThreshold ?? p.files.nullThreshold;
  const answerer = createQuestionAnswerer({
    tokenizer,
    runSpanModel: runWindows,
    features: {
      maxSeqLength: p.maxLength,
      docStride: p.options.docStride ?? defaults.docStride,
      maxQueryLength: p.options.maxQueryLength ?? defaults.maxQueryLength,
    },
    decode: {
      maxAnswerLength: p.options.maxAnswerLength ?? 30,
      ...(nullThreshold !== undefined ? { nullThreshold } : {}),
    },
  });

  async function answerOne(input: QuestionInput, options: LengthOptions): Promise<QuestionAnswer> {
    if (typeof input?.question !== 'string' || typeof input.context !== 'string')
      throw new LatError('BAD_INPUT', 'give { question, context } as strings', 'input');
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
    members.lengthsFor(options); // bad options fail before any work
    if (!Array.isArray(inputs)) return answerOne(inputs as QuestionInput, options);
    const out: QuestionAnswer[] = [];
    for (const input of inputs as readonly QuestionInput[]) out.push(await answerOne(input, options));
    return out;
  }
  return Object.assign(answer as QuestionAnsweringPipeline, members, {
    task: 'question-answering' as const,
    runWindows,
  });
}
