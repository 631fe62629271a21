/** SQuAD data for span models: windows (features) for training, and dev scoring with the official metrics. */
import { isLatError, type Tokenizer } from '@lat/core';
import type { Encoded } from '@lat/layers';
import type { SpanModel } from './answerer.js';
import { spanCandidates } from './decode.js';
import { buildFeatures, type Feature, type FeatureOptions } from './features.js';
import { evaluateSquadPredictions, parseSquad, type SquadQuestion, tuneNullThreshold } from './squad-eval.js';

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
  tokenizer: Tokenizer,
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
 * Every question's best non-null answer and its null-score difference (null score − best span's
 * score), decoded as the reference does; `options` reach the model (e.g. lengths). The windows of
 * `questionsPerCall` questions go to the model together, so it can batch them.
 */
export async function squadPredictions<O>(
  runSpanModel: SpanModel<O>,
  set: SquadSet,
  options: O,
  o: { questionsPerCall?: number } = {},
): Promise<{ answers: Record<string, string>; scoreDiff: Record<string, number> }> {
  const answers: Record<string, string> = {};
  const scoreDiff: Record<string, number> = {};
  const step = o.questionsPerCall ?? 16;
  for (let first = 0; first < set.questions.length; first += step) {
    const questions = set.questions.slice(first, first + step);
    const features = set.features.slice(first, first + step);
    const logits = await runSpanModel(features.flat(), options);
    let at = 0;
    questions.forEach((q, i) => {
      const windows = features[i]!;
      const { answers: best, nullScore } = spanCandidates(
        q.context,
        windows,
        logits.slice(at, at + windows.length),
      );
      at += windows.length;
      answers[q.id] = best[0]?.text ?? '';
      scoreDiff[q.id] = nullScore - (best[0]?.score ?? Number.NEGATIVE_INFINITY);
    });
  }
  return { answers, scoreDiff };
}

/**
 * The official scores (EM/F1) of a span model's best answers (see `squadPredictions`). SQuAD v2
 * (a set with unanswerable questions): a question abstains when its null score beats the best
 * span by more than `nullThreshold` (0 when not given).
 */
export async function squadScores<O>(
  runSpanModel: SpanModel<O>,
  set: SquadSet,
  options: O,
  o: { questionsPerCall?: number; nullThreshold?: number } = {},
): Promise<Record<string, number>> {
  const { answers, scoreDiff } = await squadPredictions(runSpanModel, set, options, o);
  const v2 = set.questions.some((q) => q.isImpossible);
  const predictions: Record<string, string> = {};
  for (const q of set.questions)
    predictions[q.id] = v2 && scoreDiff[q.id]! > (o.nullThreshold ?? 0) ? '' : answers[q.id]!;
  return evaluateSquadPredictions(set.questions, predictions);
}

/**
 * Dev metrics after training: EM and F1; for SQuAD v2 the null threshold is tuned on this dev set
 * first, as the official recipe does, and returned as `null_threshold` (stored with the model).
 */
export async function squadDevMetrics<O>(
  runSpanModel: SpanModel<O>,
  set: SquadSet,
  options: O,
): Promise<Record<string, number>> {
  let nullThreshold: number | undefined;
  if (set.questions.some((q) => q.isImpossible)) {
    const { answers, scoreDiff } = await squadPredictions(runSpanModel, set, options);
    nullThreshold = tuneNullThreshold(set.questions, answers, scoreDiff).threshold;
  }
  const s = await squadScores(
    runSpanModel,
    set,
    options,
    nullThreshold !== undefined ? { nullThreshold } : {},
  );
  return {
    exact_match: s['exact_match'] ?? s['exact']!,
    f1: s['f1']!,
    ...(nullThreshold !== undefined ? { null_threshold: nullThreshold } : {}),
  };
}
