/**
 * The question-answering pipeline: tokenize into windows, run the span model on every window,
 * decode the best answer with its exact character span. The model is injected, so the same
 * pipeline serves onnxruntime-node, onnxruntime-web and tests; options (e.g. a budget) reach it.
 */
import type { Tokenizer } from '@lat/core';
import { type Answer, type DecodeOptions, decodeAnswers } from './decode.js';
import { buildFeatures, type Feature, type FeatureOptions } from './features.js';

/** A span model's output for one window: start/end logits, plus whatever else it reports. */
export interface SpanLogits {
  start: ArrayLike<number>;
  end: ArrayLike<number>;
}

/** Start/end logits for each feature (window), in order. */
export type SpanModel<O, R extends SpanLogits = SpanLogits> = (
  features: Feature[],
  options: O,
) => Promise<R[]>;

/** The best answer, and every window the context was split into with the model's output on it. */
export interface AnswerWithWindows<R extends SpanLogits = SpanLogits> extends Answer {
  features: Feature[];
  outputs: R[];
}

export function createQuestionAnswerer<O = unknown, R extends SpanLogits = SpanLogits>(o: {
  tokenizer: Tokenizer;
  runSpanModel: SpanModel<O, R>;
  features?: FeatureOptions;
  decode?: DecodeOptions;
}) {
  return {
    async answer(input: { question: string; context: string }, options: O): Promise<AnswerWithWindows<R>> {
      const features = buildFeatures(o.tokenizer, input, o.features);
      const outputs = await o.runSpanModel(features, options);
      const [best] = decodeAnswers(input.context, features, outputs, o.decode);
      return {
        ...(best ?? { text: '', start: -1, end: -1, score: Number.NEGATIVE_INFINITY, window: -1 }),
        features,
        outputs,
      };
    },
  };
}
