/** SQuAD data for span models: features for training, and dev scoring with the official metrics. */
import { isLatError } from '@lat/core';
import { readJson } from '@lat/core/node';
import type { AnytimeModel, LengthSpec } from '@lat/layers';
import {
  anytimeSpanModel,
  buildFeatures,
  decodeAnswers,
  evaluateSquadPredictions,
  type Feature,
  parseSquad,
  type SquadQuestion,
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

/** The official scores of the model's answers at a length configuration. */
export async function squadScores(m: AnytimeModel, set: SquadSet, lengths?: LengthSpec) {
  const run = anytimeSpanModel(m);
  const predictions: Record<string, string> = {};
  for (let i = 0; i < set.questions.length; i++) {
    const q = set.questions[i]!;
    const logits = await run(set.features[i]!, lengths ? { lengths } : {});
    predictions[q.id] = decodeAnswers(q.context, set.features[i]!, logits)[0]?.text ?? '';
  }
  return evaluateSquadPredictions(set.questions, predictions);
}
