/**
 * The question-answering pipeline: tokenize into windows, run the span model on every window,
 * decode the best answer with its exact character span. The model is injected, so the same
 * pipeline serves onnxruntime-node, onnxruntime-web and tests; options (e.g. a budget) reach it.
 */
import type { WordPieceTokenizer } from '@lat/core';
import { type Answer, type DecodeOptions, decodeAnswers } from './decode.js';
import { buildFeatures, type Feature, type FeatureOptions } from './features.js';

/** Start/end logits for each feature (window), in order. */
export type SpanModel<O> = (
  features: Feature[],
  options: O,
) => Promise<{ start: ArrayLike<number>; end: ArrayLike<number> }[]>;

export function createQuestionAnswerer<O = unknown>(o: {
  tokenizer: WordPieceTokenizer;
  runSpanModel: SpanModel<O>;
  features?: FeatureOptions;
  decode?: DecodeOptions;
}) {
  return {
    async answer(input: { question: string; context: string }, options: O): Promise<Answer> {
      const features = buildFeatures(o.tokenizer, input, o.features);
      const logits = await o.runSpanModel(features, options);
      const [best] = decodeAnswers(input.context, features, logits, o.decode);
      return best ?? { text: '', start: -1, end: -1, score: Number.NEGATIVE_INFINITY };
    },
  };
}
