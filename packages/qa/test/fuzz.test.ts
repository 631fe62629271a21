/**
 * Fuzz target for SQuAD files (v1.1/v2.0 JSON): damaged variants of a valid file are read and
 * turned into features as `lat train --task squad` does; every case loads or fails with a
 * LatError naming the file (see @lat/core/testing's fuzz rules).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { isLatError, LatError, WordPieceTokenizer } from '@lat/core';
import { readJson } from '@lat/core/node';
import { checkLoaderCase, corruptJson, fuzzDir, fuzzRuns } from '@lat/core/testing';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { buildFeatures, evaluateSquadPredictions, parseSquad } from '../src/index.js';

const dir = fuzzDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tok = new WordPieceTokenizer([
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  'the',
  'broncos',
  'won',
  'in',
  'denver',
  '.',
  'who',
]);
const good = {
  version: '1.1',
  data: [
    {
      title: 't',
      paragraphs: [
        {
          context: 'The Broncos won in Denver.',
          qas: [
            { id: 'q1', question: 'who won?', answers: [{ text: 'The Broncos', answer_start: 0 }] },
            {
              id: 'q2',
              question: 'where?',
              answers: [{ text: 'Denver', answer_start: 19 }],
              is_impossible: false,
            },
          ],
        },
      ],
    },
  ],
};

/** readJson + parseSquad + features + scores, as training and evaluation use a SQuAD file. */
function loadSquadFile(path: string) {
  const { questions } = parseSquad(readJson(path), path);
  for (const q of questions) {
    const a = q.answers[0];
    try {
      buildFeatures(
        tok,
        {
          question: q.question,
          context: q.context,
          ...(a ? { answer: { start: a.answerStart, text: a.text } } : {}),
        },
        { maxSeqLength: 16, docStride: 4, maxQueryLength: 6 },
      );
    } catch (e) {
      // A bad question is the file's fault: training counts and skips it, naming the file.
      if (!isLatError(e)) throw e;
    }
  }
  const scores = evaluateSquadPredictions(
    questions,
    Object.fromEntries(questions.map((q) => [q.id, 'the broncos'])),
  );
  for (const [k, v] of Object.entries(scores))
    if (!Number.isFinite(v)) throw new LatError('NON_FINITE', `score ${k} is ${v}`, path);
}

describe('fuzz: SQuAD files fail with a LatError naming the file, within time and memory caps', () => {
  it('squad.json', () => {
    const path = join(dir, 'squad.json');
    fc.assert(
      fc.property(corruptJson(good), (text) => checkLoaderCase(path, text, loadSquadFile)),
      { numRuns: fuzzRuns, seed: 18, endOnFailure: true },
    );
  }, 60_000);
});
