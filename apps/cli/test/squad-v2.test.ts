/** SQuAD v2 (as the CLI runs it, through @lat/qa): the null threshold is tuned on dev, and questions abstain by it. */
import { WordPieceTokenizer } from '@lat/core';
import type { AnytimeModel, EncodedBatch } from '@lat/layers';
import {
  anytimeSpanModel,
  buildFeatures,
  type SquadQuestion,
  type SquadSet,
  squadDevMetrics,
  squadScores,
} from '@lat/qa';
import { describe, expect, it } from 'vitest';

const vocab = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  'where',
  'is',
  'it',
  'the',
  'cafe',
  'a',
  'town',
  'paris',
  'rome',
];
const tok = new WordPieceTokenizer(vocab);
const cities = new Set([vocab.indexOf('paris'), vocab.indexOf('rome')]);

/** Points at a city when the window has one (and half-believes there is no answer), else at [CLS]. */
const model = {
  async run(x: EncodedBatch) {
    const n = x.inputIds.length / x.batch;
    const start = new Float32Array(x.inputIds.length);
    for (let b = 0; b < x.batch; b++) {
      const row = Array.from(x.inputIds.subarray(b * n, (b + 1) * n), Number);
      const city = row.findIndex((id) => cities.has(id));
      start[b * n] = city >= 0 ? 1 : 6;
      row.forEach((id, j) => {
        if (j > 0 && (cities.has(id) || (city < 0 && id === vocab.indexOf('town')))) start[b * n + j] = 4;
      });
    }
    return { startLogits: start, endLogits: start, keptPositions: [], keepCounts: [] };
  },
} as unknown as AnytimeModel;

function question(id: string, context: string, answer?: string): SquadQuestion {
  return {
    id,
    question: 'where is it',
    context,
    answers: answer ? [{ text: answer, answerStart: context.indexOf(answer) }] : [],
    isImpossible: !answer,
  };
}

describe('SQuAD v2 null threshold', () => {
  it('is tuned on dev so answerable questions answer and the rest abstain', async () => {
    const questions = [
      question('1', 'the cafe is in paris', 'paris'),
      question('2', 'a town is rome', 'rome'),
      question('3', 'the cafe is in a town'),
      question('4', 'a town'),
    ];
    const set: SquadSet = {
      questions,
      features: questions.map((q) => buildFeatures(tok, q, { maxSeqLength: 32, docStride: 8 })),
      skipped: 0,
    };
    // Null minus best span: answerable 2 − 8 = −6, unanswerable 12 − 8 = +4.
    const run = anytimeSpanModel(model);
    const tuned = await squadDevMetrics(run, set, {});
    expect(tuned).toMatchObject({ exact_match: 100, f1: 100, null_threshold: -6 });
    // Below the threshold a question answers; above it, it abstains.
    expect((await squadScores(run, set, {}, { nullThreshold: 100 }))['NoAns_f1']).toBe(0);
    expect((await squadScores(run, set, {}, { nullThreshold: -10 }))['HasAns_f1']).toBe(0);
    expect((await squadScores(run, set, {}, { nullThreshold: tuned['null_threshold']! }))['f1']).toBe(100);
  });
});
