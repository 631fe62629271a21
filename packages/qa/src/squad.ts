/** SQuAD data for span models: windows (features) for training, and dev scoring with the official metrics. */
import { isLatError, type WordPieceTokenizer } from '@lat/core';
import type { Encoded } from '@lat/layers';
import type { SpanModel } from './answerer.js';
import { decodeAnswers } from './decode.js';
import { buildFeatures, type Feature, type FeatureOptions } from './features.js';
import { evaluateSquadPredictions, parseSquad, type SquadQuestion } from './squad-eval.js';

export interface SquadSet {
  questions: SquadQuestion[];
  /** The windows of each question, in order. */
  features: Feature[][];
  /** Questions whose answer is not where the file says (counted, not scored). */
  skipped: number;
}

/** Window settings for inputs of `maxLength` tokens: a stride of a third of the window, questions ≤ 64 tokens. */
export function squadFeatureOptions(maxLength: number): Required<FeatureOptions> {
  return {
    maxSeqLength: maxLength,
    docStride: Math.max(16, Math.floor(maxLength / 3)),
    maxQueryLength: 64,
  };
}

/**
 * Builds the windows of a parsed SQuAD file (`json`, read from `where`) for inputs of `maxLength`
 * tokens; with `withAnswers`, each window is labelled with the answer's token span.
 */
export function loadSquadSet(
  tokenizer: WordPieceTokenizer,
  json: unknown,
  o: { maxLength: number; withAnswers: boolean; where?: string },
): SquadSet {
  const { questions } = parseSquad(json, o.where);
  const kept: SquadQuestion[] = [];
  const features: Feature[][] = [];
  let skipped = 0;
  for (const q of questions) {
    const a = q.answers[0];
    try {
      features.push(
        buildFeatures(
          tokenizer,
          {
            question: q.question,
            context: q.context,
            ...(o.withAnswers && a ? { answer: { start: a.answerStart, text: a.text } } : {}),
          },
          squadFeatureOptions(o.maxLength),
        ),
      );
      kept.push(q);
    } catch (e) {
      if (!isLatError(e)) throw e;
      skipped++;
    }
  }
  return { questions: kept, features, skipped };
}

/** Training items: every window, labelled with the answer's token span ([CLS] when outside). */
export function spanItems(set: SquadSet): Encoded[] {
  return set.features.flat().map((f) => ({
    ids: f.ids,
    typeIds: f.typeIds,
    label: 0,
    span: [f.startPosition ?? 0, f.endPosition ?? 0],
  }));
}

/**
 * The official scores (EM/F1) of a span model's best answers; `options` reach the model (e.g.
 * lengths). The windows of `questionsPerCall` questions go to the model together, so it can batch them.
 */
export async function squadScores<O>(
  runSpanModel: SpanModel<O>,
  set: SquadSet,
  options: O,
  o: { questionsPerCall?: number } = {},
): Promise<Record<string, number>> {
  const predictions: Record<string, string> = {};
  const step = o.questionsPerCall ?? 16;
  for (let first = 0; first < set.questions.length; first += step) {
    const questions = set.questions.slice(first, first + step);
    const features = set.features.slice(first, first + step);
    const logits = await runSpanModel(features.flat(), options);
    let at = 0;
    questions.forEach((q, i) => {
      const windows = features[i]!;
      const mine = logits.slice(at, at + windows.length);
      at += windows.length;
      predictions[q.id] = decodeAnswers(q.context, windows, mine)[0]?.text ?? '';
    });
  }
  return evaluateSquadPredictions(set.questions, predictions);
}
