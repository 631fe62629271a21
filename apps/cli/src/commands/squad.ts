import { LatError } from '@lat/core';
import { readJson } from '@lat/core/node';
import { evaluateSquadPredictions, parseSquad } from '@lat/qa';
import type { Output } from '../output.js';

/** `lat eval --task squad --dev dataset.json --predictions predictions.json`: the official scores. */
export async function evalSquadCommand(f: { dev?: string; predictions?: string }, out: Output) {
  if (!f.dev) throw new LatError('BAD_INPUT', 'give the SQuAD dataset with --dev <dataset.json>', '--dev');
  if (!f.predictions)
    throw new LatError('BAD_INPUT', 'give the predictions with --predictions <file.json>', '--predictions');
  const { version, questions } = parseSquad(readJson(f.dev), f.dev);
  const preds = readJson(f.predictions);
  if (
    typeof preds !== 'object' ||
    preds === null ||
    Array.isArray(preds) ||
    Object.values(preds).some((v) => typeof v !== 'string')
  ) {
    throw new LatError(
      'BAD_FILE',
      'predictions must be a JSON object {question id: answer text}',
      f.predictions,
    );
  }
  const scores = evaluateSquadPredictions(questions, preds as Record<string, string>);
  out.result({ command: 'eval', task: 'squad', version, metrics: scores }, () => {
    for (const [k, v] of Object.entries(scores)) out.info(`${k}: ${Number.isInteger(v) ? v : v.toFixed(4)}`);
  });
  return scores;
}
