import { readFileSync } from 'node:fs';
import { LatError } from '@lat/core';
import type { AnytimeModel, LengthSpec } from '@lat/layers';
import { anytimeSpanModel, createQuestionAnswerer } from '@lat/qa';
import { checkFinite, padBatch, softmax } from '@lat/train';
import { openModel } from '../evaluation.js';
import { type LengthFlags, lengthsFromFlags, macsFor } from '../lengths.js';
import { type CliModel, loadCliModel, loadFrontier } from '../model.js';
import type { Output } from '../output.js';
import { squadFeatureOptions } from '../squad.js';

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
  const model = await loadCliModel(f.model);
  const frontier = loadFrontier(model, f.frontier);
  const { spec, point } = lengthsFromFlags(f, model.config, frontier, f.maxLength);
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
  const m = await openModel(model, f.threads);
  if (model.span) return answerQuestions(model, m, texts, f, spec, out);
  const predictions: Prediction[] = [];
  try {
    for (const text of texts) {
      const enc = model.tokenizer.encode(text, undefined, {
        maxLength: Math.min(f.maxLength, model.config.maxPositions),
      });
      const t0 = performance.now();
      const r = await m.run(padBatch([{ ids: enc.ids, typeIds: enc.typeIds, label: 0 }]), spec);
      const latencyMs = performance.now() - t0;
      const logits = Array.from(checkFinite(r.logits!, f.model));
      const probabilities = model.config.numLabels > 1 ? softmax(logits) : [];
      const best = probabilities.length ? probabilities.indexOf(Math.max(...probabilities)) : 0;
      const counts = r.keepCounts[0]!;
      const kept = r.keptPositions.map((layer) => layer[0]!);
      predictions.push({
        text,
        label: model.config.numLabels > 1 ? model.config.labels[best]! : logits[0]!,
        probabilities,
        logits,
        lengths: counts,
        keptPositions: kept,
        keptTokens: kept.map((ps) => ps.map((p) => enc.tokens[p]!)),
        tokens: enc.tokens,
        macs: macsFor(model.config, enc.ids.length, counts),
        macsRatio: macsFor(model.config, enc.ids.length, counts) / macsFor(model.config, enc.ids.length),
        latencyMs,
      });
    }
  } finally {
    await m.release();
  }
  out.result(
    {
      command: 'predict',
      budget: point ? { lengths: point.lengths, costRatio: point.costRatio } : null,
      predictions,
    },
    () => {
      for (const p of predictions) {
        const prob = p.probabilities.length ? ` (${(Math.max(...p.probabilities) * 100).toFixed(1)}%)` : '';
        out.info(`${p.label}${prob}  ${p.text}`);
        out.info(
          `  lengths ${p.lengths.join(',')} · ${(p.macsRatio * 100).toFixed(0)}% MACs · ${p.latencyMs.toFixed(2)} ms`,
        );
        if (f.explain) p.keptTokens.forEach((toks, i) => out.info(`  layer ${i + 1}: ${toks.join(' ')}`));
      }
    },
  );
  return predictions;
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
  model: CliModel,
  m: AnytimeModel,
  questions: string[],
  f: PredictFlags,
  spec: LengthSpec | undefined,
  out: Output,
) {
  try {
    if (!f.context)
      throw new LatError(
        'BAD_INPUT',
        'this is a question-answering model: give the passage with --context',
        '--context',
      );
    const qa = createQuestionAnswerer({
      tokenizer: model.tokenizer,
      runSpanModel: anytimeSpanModel(m),
      features: squadFeatureOptions(Math.min(f.maxLength, model.config.maxPositions)),
      // SQuAD v2 models abstain by the null threshold tuned on dev at training time.
      ...(model.info?.nullThreshold !== undefined
        ? { decode: { nullThreshold: model.info.nullThreshold } }
        : {}),
    });
    const answers: {
      question: string;
      answer: string;
      start: number;
      end: number;
      score: number;
      latencyMs: number;
    }[] = [];
    for (const question of questions) {
      const t0 = performance.now();
      const a = await qa.answer({ question, context: f.context }, spec ? { lengths: spec } : {});
      answers.push({
        question,
        answer: a.text,
        start: a.start,
        end: a.end,
        score: a.score,
        latencyMs: performance.now() - t0,
      });
    }
    out.result({ command: 'predict', task: 'squad', answers }, () => {
      for (const a of answers)
        out.info(
          `${a.question} → ${a.answer || '(no answer)'}  [${a.start}, ${a.end}) · ${a.latencyMs.toFixed(2)} ms`,
        );
    });
    return answers;
  } finally {
    await m.release();
  }
}
