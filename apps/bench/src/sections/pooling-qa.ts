/**
 * Span QA over long contexts with trained pooled models (issue 21): each model directory given
 * (`--qa-models label=dir,…`, the first one the baseline) answers every question of a SQuAD file
 * (`--qa-dev`) through `pipeline('question-answering')` on onnxruntime-node, 1 thread, batch 1.
 * The models take turns per question (the first to run rotates), so a loaded machine slows every
 * variant alike and the speed-ups are ratios measured in one run. Reports official EM/F1, the
 * mean wall-clock per question (whole pipeline: tokenising, windows, model, decoding, and the
 * model alone on the same windows built beforehand), the mean MACs per question and the ratios to
 * the baseline. MACs are the pipeline's: `poolingMacs` of each window's real length (blockwise
 * layers at n·c). "Δ EM" comes with the normal 95% interval of the per-question paired
 * difference to the baseline.
 * "answer kept": how often a token of the gold answer is one of the rows the last layer runs on
 * (for a pooled model: the representative of a pooled row; blockwise keeps every row).
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LatError } from '@lat/core';
import { pipeline } from '@lat/pipeline';
import { evaluateSquadPredictions, loadSquadSet, parseSquad } from '@lat/qa';
import { fmt, type Report } from '../report.js';
import { flag, numFlag } from '../setup.js';

/** "blocks of 512, layer 0 → 256, iterative softmax | question kept" from a model directory's lat_pooling. */
function layout(dir: string): string {
  const p = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))['lat_pooling'];
  if (!p) return 'n² in every layer';
  const parts = [
    p.chunk ? `blocks of ${p.chunk}` : '',
    p.global_tokens ? `question global (≤ ${p.global_tokens})` : '',
    ...(p.schedule as [number, number][]).map(([l, k]) => `layer ${l} → ${k}`),
    p.pooled_chunk ? `then blocks of ${p.pooled_chunk}` : '',
    p.operator === 'iterative' ? 'iterative softmax' : '',
    p.keep_first_segment ? 'question kept' : '',
  ];
  return `${p.input_length} tokens: ${parts.filter(Boolean).join(', ')}`;
}

/**
 * The mean per-question difference a − b of 0/1 scores, in points, and the half-width of its
 * normal 95% interval (paired: both answered the same questions).
 */
export function pairedDifference(a: readonly number[], b: readonly number[]): { mean: number; half: number } {
  const d = a.map((x, i) => x - b[i]!);
  const mean = d.reduce((s, x) => s + x, 0) / d.length;
  const variance = d.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, d.length - 1);
  return { mean: 100 * mean, half: 100 * 1.96 * Math.sqrt(variance / d.length) };
}

/** start, start + 1, …, end. */
const range = (start: number, end: number) => Array.from({ length: end - start + 1 }, (_, i) => start + i);

export async function poolingQa(report: Report): Promise<void> {
  const dev = flag('qa-dev');
  const models = flag('qa-models')
    ?.split(',')
    .map((s) => s.split('='));
  if (!dev || !models?.length || models.some((m) => m.length !== 2))
    throw new LatError(
      'BAD_INPUT',
      'pooling-qa needs --qa-dev <squad.json> and --qa-models label=dir,label=dir (the first: the baseline)',
      '--qa-models',
    );
  const limit = numFlag('qa-limit', Number.MAX_SAFE_INTEGER);
  const { questions: all } = parseSquad(JSON.parse(readFileSync(dev, 'utf8')), dev);
  const questions = all.slice(0, limit);
  const json = {
    version: '1.1',
    data: [
      {
        paragraphs: questions.map((q) => ({
          context: q.context,
          qas: [
            {
              id: q.id,
              question: q.question,
              answers: q.answers.slice(0, 1).map((a) => ({ text: a.text, answer_start: a.answerStart })),
            },
          ],
        })),
      },
    ],
  };
  const variants = [];
  for (const [label, dir] of models) {
    const qa = await pipeline('question-answering', dir!, { session: { threads: 1 }, batchSize: 1 });
    const windows = loadSquadSet(qa.tokenizer, json, { maxLength: qa.maxLength, withAnswers: true });
    if (windows.skipped) throw new LatError('BAD_DATA', `${windows.skipped} questions have no windows`, dev);
    variants.push({
      label: label!,
      what: layout(dir!),
      qa,
      windows: windows.features,
      predictions: {} as Record<string, string>,
      ms: 0,
      modelMs: 0,
      macs: 0,
      kept: 0,
    });
  }
  for (const v of variants) await v.qa({ question: questions[0]!.question, context: questions[0]!.context });
  for (let i = 0; i < questions.length; i++) {
    const q = questions[i]!;
    for (let j = 0; j < variants.length; j++) {
      const v = variants[(i + j) % variants.length]!;
      const t0 = performance.now();
      const a = await v.qa({ question: q.question, context: q.context });
      v.ms += performance.now() - t0;
      v.macs += a.macs;
      v.predictions[q.id] = a.answer;
      const t1 = performance.now();
      const out = await v.qa.runWindows(v.windows[i]!, {});
      v.modelMs += performance.now() - t1;
      const kept = v.windows[i]!.some((w, j) => {
        const last = new Set(out[j]!.keptPositions.at(-1));
        return w.startPosition! > 0 && range(w.startPosition!, w.endPosition!).some((p) => last.has(p));
      });
      if (kept) v.kept++;
    }
    if ((i + 1) % 10 === 0) console.log(`  ${i + 1}/${questions.length} questions`);
  }
  const rows = variants.map((v) => ({
    ...v,
    scores: evaluateSquadPredictions(questions, v.predictions),
    ms: v.ms / questions.length,
    modelMs: v.modelMs / questions.length,
    macs: v.macs / questions.length,
    kept: (100 * v.kept) / questions.length,
    // 1 where the answer is an exact match, per question (for the paired interval).
    exact: questions.map(
      (q) => evaluateSquadPredictions([q], { [q.id]: v.predictions[q.id]! })['exact_match']! / 100,
    ),
  }));
  const base = rows[0]!;
  const signed = (x: number) => `${x > 0 ? '+' : ''}${fmt(x, 1)}`;
  const deltaEm = (r: (typeof rows)[0]) => {
    const { mean, half } = pairedDifference(r.exact, base.exact);
    return `${signed(mean)} (${signed(mean - half)} to ${signed(mean + half)})`;
  };
  report.push(
    `\n### Span QA over long contexts — ${dev.split('/').at(-1)}, ${questions.length} questions, onnxruntime-node, 1 thread, batch 1`,
    '\n| variant | layout | EM | F1 | Δ EM vs baseline (paired 95% interval) | Δ F1 vs baseline (points) | ms / question | speed-up vs baseline | model ms / question | model speed-up | MMACs / question | MACs speed-up | answer kept |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of rows) {
    report.push(
      `| ${r.label} | ${r.what} | ${fmt(r.scores['exact_match']!, 1)} | ${fmt(r.scores['f1']!, 1)} | ${deltaEm(r)} | ${fmt(r.scores['f1']! - base.scores['f1']!, 1)} | ${fmt(r.ms, 1)} | ${fmt(base.ms / r.ms)}× | ${fmt(r.modelMs, 1)} | ${fmt(base.modelMs / r.modelMs)}× | ${fmt(r.macs / 1e6, 0)} | ${fmt(base.macs / r.macs)}× | ${fmt(r.kept, 0)}% |`,
    );
    console.log(
      `  ${r.label}: EM ${r.scores['exact_match']!.toFixed(1)} (Δ ${deltaEm(r)}), F1 ${r.scores['f1']!.toFixed(1)}, ${r.ms.toFixed(1)} ms (model ${r.modelMs.toFixed(1)} ms), answer kept ${r.kept.toFixed(0)}%`,
    );
  }
  for (const v of variants) await v.qa.dispose();
}
