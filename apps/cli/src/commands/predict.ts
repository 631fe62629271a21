import { readFileSync } from 'node:fs';
import { LatError } from '@lat/core';
import type { LengthOptions, QuestionAnsweringPipeline } from '@lat/pipeline';
import { type LengthFlags, lengthOptionsFromFlags } from '../lengths.js';
import { openModelOrBundle } from '../model.js';
import type { Output } from '../output.js';
import { adaplerPredict } from './adapler.js';
import { adaplerModelDir } from './adapler-sweep.js';

export interface PredictFlags extends LengthFlags {
  model: string;
  texts: string[];
  /** Texts one per line from a file ('-': stdin), instead of arguments. */
  textFile?: string;
  /** Span (QA) models: the context the questions (texts) are asked about. */
  context?: string;
  /** … or read from a file ('-': stdin). */
  contextFile?: string;
  frontier?: string;
  explain?: boolean;
  maxLength: number;
  threads?: number;
}

export interface Prediction {
  text: string;
  label: string | number;
  probabilities: number[];
  logits: number[];
  lengths: number[];
  keptPositions: number[][];
  keptTokens: string[][];
  tokens: string[];
  macs: number;
  macsRatio: number;
  latencyMs: number;
}

export async function predictCommand(f: PredictFlags, out: Output) {
  // An AdapLeR model, or the model of a φ sweep that --budget picks (which spends the budget).
  const adapler = adaplerModelDir(f, out);
  const picked = adapler !== undefined && adapler !== f.model;
  const flags = picked
    ? { ...f, model: adapler, frontier: undefined, budget: undefined, latency: undefined }
    : f;
  const p = await openModelOrBundle(flags.model, flags);
  try {
    // AdapLeR models (directories and bundles) pick each input's lengths: their own report.
    if (p.task === 'text-classification' && p.adapler) return await adaplerPredict(p, flags, textsOf(f), out);
    const options = lengthOptionsFromFlags(f, p.config, p.frontier !== undefined, f.maxLength);
    const texts = textsOf(f);
    if (p.task === 'question-answering') return await answerQuestions(p, texts, f, options, out);
    const { point } = p.lengthsFor(options);
    const regression = p.config.numLabels === 1;
    const predictions: Prediction[] = [];
    for (const text of texts) {
      const t0 = performance.now();
      const [r] = await p(text, options);
      const latencyMs = performance.now() - t0;
      predictions.push({
        text,
        label: regression ? r!.score : r!.label,
        probabilities: r!.probabilities,
        logits: r!.logits,
        lengths: r!.lengths,
        keptPositions: r!.keptPositions,
        keptTokens: r!.keptPositions.map((ps) => ps.map((i) => r!.tokens[i]!)),
        tokens: r!.tokens,
        macs: r!.macs,
        macsRatio: r!.macs / r!.fullMacs,
        latencyMs,
      });
    }
    out.result(
      {
        command: 'predict',
        budget: point ? { lengths: point.lengths, costRatio: point.costRatio } : null,
        predictions,
      },
      () => {
        for (const x of predictions) {
          const prob = x.probabilities.length ? ` (${(Math.max(...x.probabilities) * 100).toFixed(1)}%)` : '';
          out.info(`${x.label}${prob}  ${x.text}`);
          out.info(
            `  lengths ${x.lengths.join(',')} · ${(x.macsRatio * 100).toFixed(0)}% MACs · ${x.latencyMs.toFixed(2)} ms`,
          );
          if (f.explain) x.keptTokens.forEach((toks, i) => out.info(`  layer ${i + 1}: ${toks.join(' ')}`));
        }
      },
    );
    return predictions;
  } finally {
    await p.dispose();
  }
}

/** The texts to predict: arguments, --text-file, or stdin; --context-file is read into --context. */
function textsOf(f: PredictFlags): string[] {
  if (f.textFile === '-' && f.contextFile === '-')
    throw new LatError(
      'BAD_INPUT',
      'only one of --text-file and --context-file can read stdin',
      '--text-file',
    );
  if (f.context !== undefined && f.contextFile)
    throw new LatError('BAD_INPUT', 'give only one of --context and --context-file', '--context-file');
  if (f.contextFile) f.context = readInput(f.contextFile, '--context-file').trim();
  const texts = f.texts.length
    ? f.texts
    : f.textFile
      ? lines(readInput(f.textFile, '--text-file'))
      : process.stdin.isTTY
        ? []
        : lines(readInput('-', 'stdin'));
  if (texts.length === 0)
    throw new LatError('BAD_INPUT', 'nothing to predict: pass text arguments or lines on stdin', 'text');
  return texts;
}

/** A file's text, or stdin's for '-'; errors name the flag and the file. */
function readInput(path: string, flag: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (e) {
    throw new LatError(
      'NOT_FOUND',
      `cannot read ${path === '-' ? 'stdin' : path} (${(e as Error).message})`,
      flag,
    );
  }
}

const lines = (text: string) =>
  text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);

/** Span models: each text is a question about --context; prints the answer and where it is. */
async function answerQuestions(
  qa: QuestionAnsweringPipeline,
  questions: string[],
  f: PredictFlags,
  options: LengthOptions,
  out: Output,
) {
  const context = f.context;
  if (!context)
    throw new LatError(
      'BAD_INPUT',
      'this is a question-answering model: give the passage with --context',
      '--context',
    );
  const answers: {
    question: string;
    answer: string;
    start: number;
    end: number;
    score: number;
    windows: number;
    macsRatio: number;
    latencyMs: number;
  }[] = [];
  for (const question of questions) {
    const t0 = performance.now();
    const a = await qa({ question, context }, options);
    answers.push({
      question,
      answer: a.answer,
      start: a.start,
      end: a.end,
      score: a.score,
      windows: a.windows,
      macsRatio: a.macs / a.fullMacs,
      latencyMs: performance.now() - t0,
    });
  }
  out.result({ command: 'predict', task: 'squad', answers }, () => {
    for (const a of answers)
      out.info(
        `${a.question} → ${a.answer || '(no answer)'}  [${a.start}, ${a.end}) · ${(a.macsRatio * 100).toFixed(0)}% MACs · ${a.latencyMs.toFixed(2)} ms`,
      );
  });
  return answers;
}
