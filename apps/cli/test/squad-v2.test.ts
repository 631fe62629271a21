/**
 * SQuAD v2 (as the CLI runs it, through @lat/qa): the null threshold is tuned on dev, questions
 * abstain by it, and `lat export` carries it into the bundle.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WordPieceTokenizer } from '@lat/core';
import { writeSafetensors } from '@lat/core/node';
import {
  type AnytimeModel,
  createRandomWeights,
  type EncodedBatch,
  parseModelConfig,
  toHfConfig,
  toHfNames,
} from '@lat/layers';
import { pipeline } from '@lat/pipeline';
import {
  anytimeSpanModel,
  buildFeatures,
  type SquadQuestion,
  type SquadSet,
  squadDevMetrics,
  squadScores,
} from '@lat/qa';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { main } from '../src/index.js';

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

describe('SQuAD v2 null threshold through lat export', () => {
  const questions = [
    { question: 'where was the film shot ?', context: 'the film was shot in oslo over two winters' },
    { question: 'where ?', context: 'its cafe scenes were filmed in zurich' },
    { question: 'the cafe ?', context: 'a gripping film , dull in zurich' },
    { question: 'where were its scenes filmed ?', context: 'oslo was the film . the cafe was in zurich' },
    { question: 'two winters ?', context: 'the scenes were shot in oslo' },
    { question: 'a film ?', context: 'dull winters in zurich were filmed over two' },
  ];
  const words = [...new Set(questions.flatMap((q) => `${q.question} ${q.context}`.split(' ')))];
  const spanVocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', ...words];

  /** A 2-layer span model directory as `lat train --task squad` leaves it, `nullThreshold` in lat_training.json. */
  function writeSpanModel(dir: string, nullThreshold?: number) {
    const config = parseModelConfig({
      model_type: 'bert',
      vocab_size: spanVocab.length,
      hidden_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      intermediate_size: 64,
      max_position_embeddings: 64,
    });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(config)));
    writeFileSync(join(dir, 'vocab.txt'), `${spanVocab.join('\n')}\n`);
    const weights = createRandomWeights(config, 3, { qa: true }, 0.3);
    writeSafetensors(join(dir, 'model.safetensors'), toHfNames(weights, config));
    const info = { task: 'squad', metrics: ['exact_match', 'f1'], maxLength: 64, lengthDrop: null };
    writeFileSync(
      join(dir, 'lat_training.json'),
      JSON.stringify({ ...info, ...(nullThreshold !== undefined ? { nullThreshold } : {}) }),
    );
  }
  const exportBundle = async (model: string, out: string) => {
    let err = '';
    const code = await main(['export', '--model', model, '--out', out], {
      write: () => {},
      error: (s) => void (err += s),
    });
    expect(code, err).toBe(0);
    return JSON.parse(readFileSync(join(out, 'lat.json'), 'utf8'));
  };
  const answers = async (source: string) => {
    const qa = await pipeline('question-answering', source, { runtime: createNodeRuntime({ threads: 1 }) });
    const out = (await qa(questions)).map(({ answer, start, end, score }) => ({ answer, start, end, score }));
    await qa.dispose();
    return out;
  };

  it('travels in lat.json, so the bundle abstains on exactly the questions the directory abstains on', async () => {
    const root = mkdtempSync(join(tmpdir(), 'lat-v2-bundle-'));
    // Without a threshold (old models and bundles): every question answers, and lat.json has none.
    writeSpanModel(join(root, 'plain'));
    const plainManifest = await exportBundle(join(root, 'plain'), join(root, 'plain-bundle'));
    expect(plainManifest.task).toEqual({ type: 'span', labels: [] });
    const best = await answers(join(root, 'plain-bundle'));
    expect(best.every((a) => a.answer !== '')).toBe(true);
    // Null score minus best span per question (the abstaining answer's score is the null score).
    const alwaysNull = await pipeline('question-answering', join(root, 'plain'), {
      runtime: createNodeRuntime({ threads: 1 }),
      nullThreshold: Number.NEGATIVE_INFINITY,
    });
    const diffs = (await alwaysNull(questions)).map((a, i) => a.score - best[i]!.score);
    await alwaysNull.dispose();
    // A threshold in the middle of the widest gap between the questions' differences.
    const sorted = [...diffs].sort((a, b) => a - b);
    const gap = sorted
      .slice(1)
      .reduce((g, d, i) => (d - sorted[i]! > g[1] - g[0] ? [sorted[i]!, d] : g), [0, 0]);
    const threshold = (gap[0]! + gap[1]!) / 2;

    writeSpanModel(join(root, 'v2'), threshold);
    const manifest = await exportBundle(join(root, 'v2'), join(root, 'v2-bundle'));
    expect(manifest.task).toEqual({ type: 'span', labels: [], nullThreshold: threshold });
    const fromDir = await answers(join(root, 'v2'));
    const fromBundle = await answers(join(root, 'v2-bundle'));
    // Above the threshold a question abstains, below it answers as before; some of each.
    const abstains = diffs.map((d) => d > threshold);
    expect(abstains).toContain(true);
    expect(abstains).toContain(false);
    fromDir.forEach((a, i) => {
      expect(a.answer === '', `question ${i}`).toBe(abstains[i]);
      if (!abstains[i]) expect(a.answer).toBe(best[i]!.answer);
    });
    expect(fromBundle.map(({ answer, start, end }) => ({ answer, start, end }))).toEqual(
      fromDir.map(({ answer, start, end }) => ({ answer, start, end })),
    );
  }, 60_000);

  it('is tuned by lat train on v2 dev data, stored in lat_training.json, and exported', async () => {
    const root = mkdtempSync(join(tmpdir(), 'lat-v2-train-'));
    writeSpanModel(join(root, 'base'));
    rmSync(join(root, 'base', 'lat_training.json')); // a plain Hugging Face checkpoint
    const squad = (version: string, impossible: number) => ({
      version,
      data: [
        {
          title: version,
          paragraphs: questions.map((q, i) => {
            const word = q.context.split(' ').at(-1)!;
            const answerable = i >= impossible;
            return {
              context: q.context,
              qas: [
                {
                  id: `${version}-${i}`,
                  question: q.question,
                  answers: answerable ? [{ text: word, answer_start: q.context.lastIndexOf(word) }] : [],
                  ...(answerable ? {} : { is_impossible: true }),
                },
              ],
            };
          }),
        },
      ],
    });
    writeFileSync(join(root, 'train.json'), JSON.stringify(squad('1.1', 0)));
    writeFileSync(join(root, 'dev.json'), JSON.stringify(squad('v2.0', 2)));
    let out = '';
    let err = '';
    const io = { write: (s: string) => void (out += s), error: (s: string) => void (err += s) };
    const args = ['--model', join(root, 'base'), '--task', 'squad', '--train', join(root, 'train.json')];
    const more = [
      '--dev',
      join(root, 'dev.json'),
      '--out',
      join(root, 'm'),
      '--epochs',
      '1',
      '--batch-size',
      '4',
    ];
    const code = await main(
      ['--json', '--threads', '1', 'train', ...args, ...more, '--max-length', '48'],
      io,
    );
    expect(code, err).toBe(0);
    const tuned = JSON.parse(out.trim().split('\n').at(-1)!).metrics.null_threshold;
    expect(typeof tuned).toBe('number');
    const info = JSON.parse(readFileSync(join(root, 'm', 'lat_training.json'), 'utf8'));
    expect(info.nullThreshold).toBe(tuned);
    expect((await exportBundle(join(root, 'm'), join(root, 'b'))).task.nullThreshold).toBe(tuned);
  }, 60_000);

  it('refuses a threshold that is not a number, naming lat_training.json', async () => {
    const root = mkdtempSync(join(tmpdir(), 'lat-v2-bad-'));
    writeSpanModel(join(root, 'm'));
    const infoPath = join(root, 'm', 'lat_training.json');
    writeFileSync(
      infoPath,
      JSON.stringify({ ...JSON.parse(readFileSync(infoPath, 'utf8')), nullThreshold: '2' }),
    );
    let err = '';
    const code = await main(['export', '--model', join(root, 'm'), '--out', join(root, 'b')], {
      write: () => {},
      error: (s) => void (err += s),
    });
    expect(code).toBe(1);
    expect(err).toMatch(/lat_training\.json#nullThreshold: nullThreshold must be a finite number/);
  });
});
