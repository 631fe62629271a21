/** SQuAD files from disk for `lat train` and `lat eval`; windows and scoring are @lat/qa's. */
import { readJson } from '@lat/core/node';
import { loadSquadSet, type SquadSet } from '@lat/qa';
import type { ModelView } from './model.js';

/** Reads a SQuAD file and builds its windows; questions whose answer is not where it claims are counted and skipped. */
export function loadSquad(model: ModelView, path: string, maxLength: number, withAnswers: boolean): SquadSet {
  return loadSquadSet(model.tokenizer, readJson(path), {
    maxLength: Math.min(maxLength, model.config.maxPositions),
    withAnswers,
    where: path,
  });
}
