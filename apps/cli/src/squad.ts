/** SQuAD data for span models: features for training, and dev scoring with the official metrics. */
import { isLatError } from '@lat/core';
import { readJson } from '@lat/core/node';
import type { AnytimeModel, LengthSpec } from '@lat/layers';
import {
  anytimeSpanModel,
  buildFeatures,
  evaluateSquadPredictions,
  type Feature,
  parseSquad,
  type SquadQuestion,
  spanCandidates,
  tuneNullThreshold,
} from '@lat/qa';
import type { Encoded } from '@lat/train';
import type { CliModel } from './model.js';

export interface SquadSet {
  questions: SquadQuestion[];
  features: Feature[][];
  skipped: number;
}

export const squadFeatureOptions = (maxLength: number) => ({
  maxSeqLength: maxLength,
  docStride: Math.max(16, Math.floor(maxLength / 3)),
  maxQueryLength: 64,
});

/** Reads a SQuAD file and builds its features; questions whose answer is not where it claims are counted and skipped. */
export function loadSquad(model: CliModel, path: string, maxLength: number, withAnswers: boolean): SquadSet {
  const { questions } = parseSquad(readJson(path), path);
  const limit = Math.min(maxLength, model.config.maxPositions);
  const kept: SquadQuestion[] = [];
  const features: Feature[][] = [];
  let skipped = 0;
  for (const q of questions) {
    const a = q.answers[0];
    try {
      features.push(
        buildFeatures(
          model.tokenizer,
          {
            question: q.question,
            context: q.context,
            ...(withAnswers && a ? { answer: { start: a.answerStart, text: a.text } } : {}),
          },
          squadFeatureOptions(limit),
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
 * score) at a length configuration; features run in batches.
 */
export async function squadPredictions(m: AnytimeModel, set: SquadSet, lengths?: LengthSpec) {
  const all = set.features.flat();
  const logits = await anytimeSpanModel(m)(all, lengths ? { lengths } : {});
  const answers: Record<string, string> = {};
  const scoreDiff: Record<string, number> = {};
  let at = 0;
  set.questions.forEach((q, i) => {
    const features = set.features[i]!;
    const { answers: best, nullScore } = spanCandidates(
      q.context,
      features,
      logits.slice(at, at + features.length),
    );
    at += features.length;
    answers[q.id] = best[0]?.text ?? '';
    scoreDiff[q.id] = nullScore - (best[0]?.score ?? Number.NEGATIVE_INFINITY);
  });
  return { answers, scoreDiff };
}

/**
 * The official scores at a length configuration. SQuAD v2 (a set with unanswerable questions):
 * a question abstains when its null score beats the best span by more than `nullThreshold`.
 */
export async function squadScores(
  m: AnytimeModel,
  set: SquadSet,
  lengths?: LengthSpec,
  nullThreshold?: number,
) {
  const { answers, scoreDiff } = await squadPredictions(m, set, lengths);
  const v2 = set.questions.some((q) => q.isImpossible);
  const predictions: Record<string, string> = {};
  for (const q of set.questions)
    predictions[q.id] = v2 && scoreDiff[q.id]! > (nullThreshold ?? 0) ? '' : answers[q.id]!;
  return evaluateSquadPredictions(set.questions, predictions);
}

/**
 * Dev metrics after training: EM and F1; for SQuAD v2 the null threshold is tuned on this dev set
 * first, as the official recipe does, and returned as `null_threshold` (stored with the model).
 */
export async function squadDevMetrics(m: AnytimeModel, set: SquadSet): Promise<Record<string, number>> {
  let threshold: number | undefined;
  if (set.questions.some((q) => q.isImpossible)) {
    const { answers, scoreDiff } = await squadPredictions(m, set);
    threshold = tuneNullThreshold(set.questions, answers, scoreDiff).threshold;
  }
  const s = await squadScores(m, set, undefined, threshold);
  return {
    exact_match: s['exact_match'] ?? s['exact']!,
    f1: s['f1']!,
    ...(threshold !== undefined ? { null_threshold: threshold } : {}),
  };
}
