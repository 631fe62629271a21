/**
 * Scoring SQuAD predictions as the official scripts do: v1.1 (exact_match, f1 in percent, max over
 * the ground truths) and v2.0 (exact, f1, HasAns_* and NoAns_* splits; an unanswerable question
 * counts as right only when the prediction is empty).
 */
import { LatError } from '@lat/core';
import { exactMatch, f1Score, normalizeAnswer } from './squad-metrics.js';

/** One SQuAD question with its context and gold answers. */
export interface SquadQuestion {
  id: string;
  question: string;
  context: string;
  answers: { text: string; answerStart: number }[];
  isImpossible: boolean;
}

/** Reads SQuAD v1.1 / v2.0 JSON (`{data: [{paragraphs: [{context, qas}]}]}`); errors name the JSON path. */
export function parseSquad(
  json: unknown,
  where = 'dataset.json',
): { version: string; questions: SquadQuestion[] } {
  const fail = (path: string, msg: string): never => {
    throw new LatError('BAD_DATA', `${msg} (expected the SQuAD format)`, `${where}#${path}`);
  };
  if (typeof json !== 'object' || json === null) return fail('', 'not a JSON object');
  const root = json as Record<string, unknown>;
  if (!Array.isArray(root['data'])) return fail('data', 'missing the data array');
  const questions: SquadQuestion[] = [];
  root['data'].forEach((article: Record<string, unknown>, a) => {
    if (!Array.isArray(article?.['paragraphs'])) fail(`data[${a}].paragraphs`, 'missing');
    (article['paragraphs'] as Record<string, unknown>[]).forEach((p, pi) => {
      const at = `data[${a}].paragraphs[${pi}]`;
      if (typeof p?.['context'] !== 'string') fail(`${at}.context`, 'must be a string');
      if (!Array.isArray(p['qas'])) fail(`${at}.qas`, 'missing');
      (p['qas'] as Record<string, unknown>[]).forEach((q, qi) => {
        const qat = `${at}.qas[${qi}]`;
        if (typeof q?.['id'] !== 'string') fail(`${qat}.id`, 'must be a string');
        const answers = (q['answers'] ?? []) as Record<string, unknown>[];
        if (!Array.isArray(answers)) fail(`${qat}.answers`, 'must be an array');
        questions.push({
          id: q['id'] as string,
          question: String(q['question'] ?? ''),
          context: p['context'] as string,
          answers: answers.map((x, xi) => {
            if (typeof x?.['text'] !== 'string') fail(`${qat}.answers[${xi}].text`, 'must be a string');
            return { text: x['text'] as string, answerStart: Number(x['answer_start'] ?? -1) };
          }),
          isImpossible: q['is_impossible'] === true,
        });
      });
    });
  });
  return { version: String(root['version'] ?? ''), questions };
}

/** One question's EM and F1 (0..1) for a prediction, max over its gold answers. */
function questionScores(q: SquadQuestion, p: string, v2: boolean) {
  const golds = q.answers.map((a) => a.text).filter((t) => normalizeAnswer(t) !== '' || !v2);
  if (v2 && golds.length === 0) {
    const right = normalizeAnswer(p) === '' ? 1 : 0;
    return { em: right, f1: right, hasAnswer: false };
  }
  return {
    em: Math.max(...golds.map((g) => (exactMatch(p, g) ? 1 : 0))),
    f1: Math.max(...golds.map((g) => f1Score(p, g))),
    hasAnswer: true,
  };
}

/**
 * SQuAD v2's null threshold tuned on dev, as the official evaluation script's best_f1_thresh:
 * `scoreDiff[id]` is the null score minus the best span's score, `answers[id]` that best span's text;
 * a question abstains when its difference exceeds the threshold. Starting from all abstaining,
 * questions answer in order of increasing difference; the threshold with the highest F1 wins.
 */
export function tuneNullThreshold(
  questions: readonly SquadQuestion[],
  answers: Record<string, string>,
  scoreDiff: Record<string, number>,
): { threshold: number; f1: number } {
  const scored = questions.filter((q) => scoreDiff[q.id] !== undefined);
  let current = scored.filter((q) => questionScores(q, '', true).hasAnswer === false).length;
  let best = current;
  let threshold = 0;
  const order = [...scored].sort((a, b) => scoreDiff[a.id]! - scoreDiff[b.id]!);
  for (const q of order) {
    const answered = questionScores(q, answers[q.id] ?? '', true);
    current += answered.hasAnswer ? answered.f1 : answered.f1 - 1;
    if (current > best) {
      best = current;
      threshold = scoreDiff[q.id]!;
    }
  }
  return { threshold, f1: scored.length ? (100 * best) / scored.length : 0 };
}

/** Scores as the official SQuAD scripts print them. */
export interface SquadScores {
  [k: string]: number;
}

/**
 * v1.1 scores when every question has an answer, v2.0 scores otherwise (or when `v2` is set):
 * like the official v2.0 script, a question without answers is unanswerable (v1.1's script would
 * take the max over no answers).
 */
export function evaluateSquadPredictions(
  questions: readonly SquadQuestion[],
  predictions: Record<string, string>,
  o: { v2?: boolean } = {},
): SquadScores {
  const v2 =
    o.v2 ?? questions.some((q) => q.isImpossible || q.answers.every((a) => normalizeAnswer(a.text) === ''));
  let em = 0;
  let f1 = 0;
  const split = { HasAns: { em: 0, f1: 0, n: 0 }, NoAns: { em: 0, f1: 0, n: 0 } };
  let missing = 0;
  for (const q of questions) {
    const pred = predictions[q.id];
    if (pred === undefined) missing++;
    const { em: qem, f1: qf1, hasAnswer } = questionScores(q, pred ?? '', v2);
    em += qem;
    f1 += qf1;
    const s = split[hasAnswer ? 'HasAns' : 'NoAns'];
    s.em += qem;
    s.f1 += qf1;
    s.n++;
  }
  const pct = (x: number, n: number) => (n ? (100 * x) / n : 0);
  const total = questions.length;
  if (!v2) return { exact_match: pct(em, total), f1: pct(f1, total), total, missing };
  const out: SquadScores = { exact: pct(em, total), f1: pct(f1, total), total, missing };
  for (const [name, s] of Object.entries(split)) {
    if (!s.n) continue;
    out[`${name}_exact`] = pct(s.em, s.n);
    out[`${name}_f1`] = pct(s.f1, s.n);
    out[`${name}_total`] = s.n;
  }
  return out;
}
