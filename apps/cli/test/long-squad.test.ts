/**
 * Span QA over long contexts from the CLI: `lat data long-squad` hides SQuAD paragraphs among
 * other articles' paragraphs (seeded, answers at their characters), and `lat train --task squad
 * --method pooling` trains a pooled span model on it that eval and predict run pooled, answers
 * pointing at characters of the context.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@lat/core/node';
import { createRandomWeights, parseModelConfig, toHfConfig, toHfNames } from '@lat/layers';
import { pipeline } from '@lat/pipeline';
import { parseSquad } from '@lat/qa';
import { createNodeRuntime } from '@lat/runtime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliRoot, ensureBuilt, latJson, runLat } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-long-squad-'));
const base = join(dir, 'base');
const cities = ['oslo', 'lima', 'rome', 'kyiv'];
const fillers = [
  'the',
  'old',
  'town',
  'has',
  'a',
  'river',
  'and',
  'many',
  'bridges',
  'people',
  'live',
  'there',
];
const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'where', 'is', 'it', 'in', '.', ...cities, ...fillers];

/** Four articles of six paragraphs: a few filler sentences, one of them naming a city. */
const squad = {
  version: '1.1',
  data: [0, 1, 2, 3].map((a) => ({
    title: `article ${a}`,
    paragraphs: [0, 1, 2, 3, 4, 5].map((p) => {
      const city = cities[(a + p) % 4]!;
      const filler = (n: number) =>
        Array.from({ length: n }, (_, i) => fillers[(a * 5 + p * 3 + i) % 12]).join(' ');
      const context = `${filler(4 + p)} . it is in ${city} . ${filler(6)} .`;
      return {
        context,
        qas: [
          {
            id: `q${a}.${p}`,
            question: 'where is it',
            answers: [{ text: city, answer_start: context.indexOf(` ${city} `) + 1 }],
          },
        ],
      };
    }),
  })),
};

beforeAll(() => {
  ensureBuilt(cliRoot);
  writeFileSync(join(dir, 'squad.json'), JSON.stringify(squad));
  mkdirSync(base);
  const config = parseModelConfig({
    model_type: 'bert',
    vocab_size: vocab.length,
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 64,
    max_position_embeddings: 64,
  });
  writeFileSync(join(base, 'config.json'), JSON.stringify(toHfConfig(config)));
  writeFileSync(join(base, 'vocab.txt'), `${vocab.join('\n')}\n`);
  writeSafetensors(join(base, 'model.safetensors'), toHfNames(createRandomWeights(config, 1), config));
}, 120_000);

describe('long-context SQuAD from the CLI', () => {
  const long = join(dir, 'long.json');
  const make = (out: string, seed: string) =>
    latJson([
      'data',
      'long-squad',
      '--squad',
      join(dir, 'squad.json'),
      '--out',
      out,
      '--model',
      base,
      '--min-length',
      '60',
      '--max-length',
      '90',
      '--seed',
      seed,
    ]);

  it('writes seeded SQuAD JSON whose answers sit at their characters', () => {
    const r = make(long, '3');
    expect(r).toMatchObject({
      command: 'data long-squad',
      unit: 'tokens',
      paragraphs: 24,
      questions: 24,
      overLong: 0,
    });
    const text = readFileSync(long, 'utf8');
    const { questions } = parseSquad(JSON.parse(text), long);
    for (const q of questions) {
      const a = q.answers[0]!;
      expect(q.context.slice(a.answerStart, a.answerStart + a.text.length)).toBe(a.text);
      expect(q.context.split('\n\n').length).toBeGreaterThanOrEqual(3);
    }
    make(join(dir, 'again.json'), '3');
    expect(readFileSync(join(dir, 'again.json'), 'utf8')).toBe(text);
    const bad = runLat([
      'data',
      'long-squad',
      '--squad',
      join(dir, 'squad.json'),
      '--out',
      join(dir, 'x.json'),
      '--min-length',
      '9',
      '--max-length',
      '3',
    ]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim()).toMatch(
      /^lat: length: document lengths must be whole numbers with 1 ≤ min ≤ max, got 9\.\.3$/,
    );
  }, 60_000);

  it("long-facts: seeded fact retrieval among the file's sentences, answers at their characters", () => {
    const facts = (out: string, ...more: string[]) =>
      latJson([
        'data',
        'long-facts',
        '--squad',
        join(dir, 'squad.json'),
        '--out',
        out,
        '--documents',
        '12',
        ...more,
      ]);
    const settings = ['--facts', '3', '--min-length', '30', '--max-length', '50', '--seed', '4'];
    const r = facts(join(dir, 'facts.json'), ...settings);
    expect(r).toMatchObject({
      command: 'data long-facts',
      documents: 12,
      facts: 3,
      questions: 12,
      unit: 'words',
    });
    const text = readFileSync(join(dir, 'facts.json'), 'utf8');
    const { questions } = parseSquad(JSON.parse(text));
    expect(questions).toHaveLength(12);
    for (const q of questions) {
      const a = q.answers[0]!;
      const name = q.question.match(/ of ([A-Z][a-z]+)\?$/)![1];
      expect(q.context.slice(0, a.answerStart)).toMatch(new RegExp(` of ${name} is $`));
      expect(q.context.slice(a.answerStart, a.answerStart + a.text.length + 1)).toBe(`${a.text}.`);
      expect(q.context.match(/ is [a-z]+\./g)!.length).toBeGreaterThanOrEqual(3);
    }
    facts(join(dir, 'facts-again.json'), ...settings);
    expect(readFileSync(join(dir, 'facts-again.json'), 'utf8')).toBe(text);
    const bad = runLat([
      'data',
      'long-facts',
      '--squad',
      join(dir, 'squad.json'),
      '--out',
      join(dir, 'y.json'),
      '--facts',
      '0',
    ]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim()).toBe('lat: facts: facts must be 1..24, got 0');
  }, 60_000);

  /** `lat train --task squad --method pooling --pooling 0:16` at 64 tokens on the long file. */
  const trainPooledQa = (out: string, flags: string[]) =>
    latJson([
      'train',
      '--model',
      base,
      '--task',
      'squad',
      '--train',
      long,
      '--out',
      out,
      '--method',
      'pooling',
      '--pooling',
      '0:16',
      '--max-length',
      '64',
      '--batch-size',
      '8',
      ...flags,
    ]);

  it('trains a pooled span model on it that eval and predict run pooled', () => {
    const out = join(dir, 'pooled-qa');
    const t = trainPooledQa(out, ['--dev', long, '--epochs', '2', '--lr', '2e-3']);
    expect(t.recipe.method).toBe('pooling');
    expect(t.metrics.f1).toBeGreaterThanOrEqual(0);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.lat_pooling).toEqual({ schedule: [[0, 16]], input_length: 64 });

    const e = latJson(['eval', '--model', out, '--dev', long]);
    expect(e.results[0].metrics.f1).toBeCloseTo(t.metrics.f1, 6);
    // Layer 1 follows the pooling: LAT lengths of at most 16 rows run there too.
    const shorter = latJson(['eval', '--model', out, '--dev', long, '--lengths', '16,4']);
    expect(shorter.results[0].paddedMacsRatio).toBeLessThan(1);

    const q = parseSquad(JSON.parse(readFileSync(long, 'utf8'))).questions[0]!;
    const p = latJson(['predict', '--model', out, '--context', q.context, q.question]);
    const answer = p.answers[0];
    // The answer's characters round-trip through the pooled model's restored positions.
    expect(q.context.slice(answer.start, answer.end)).toBe(answer.answer);
  }, 120_000);

  it('trains with the auxiliary scorer loss (--scorer-loss) and records its weight', () => {
    const out = join(dir, 'pooled-qa-scorer');
    const t = trainPooledQa(out, ['--epochs', '1', '--scorer-loss', '0.5']);
    expect(t.recipe).toMatchObject({ method: 'pooling', scorerLoss: 0.5 });
    expect(Number.isFinite(t.finalLoss)).toBe(true);
    const info = JSON.parse(readFileSync(join(out, 'lat_training.json'), 'utf8'));
    expect(info.recipe.scorerLoss).toBe(0.5);
  }, 120_000);

  it('keeps the question through pooling (--keep-first-segment): config.json, eval, predict, export and the pipeline', async () => {
    const out = join(dir, 'pooled-qa-keep');
    const t = trainPooledQa(out, [
      '--dev',
      long,
      '--epochs',
      '1',
      '--keep-first-segment',
      '--scorer-loss',
      '0.5',
    ]);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.lat_pooling).toEqual({ schedule: [[0, 16]], input_length: 64, keep_first_segment: true });
    const e = latJson(['eval', '--model', out, '--dev', long]);
    expect(e.results[0].metrics.f1).toBeCloseTo(t.metrics.f1, 6);

    const q = parseSquad(JSON.parse(readFileSync(long, 'utf8'))).questions[0]!;
    const a = latJson(['predict', '--model', out, '--context', q.context, q.question]).answers[0];
    expect(q.context.slice(a.start, a.end)).toBe(a.answer);
    expect(latJson(['bench', '--model', out, '--runs', '2']).seq).toBe(64);
    const bundle = join(dir, 'pooled-qa-keep-bundle');
    latJson(['export', '--model', out, '--out', bundle]);
    const manifest = JSON.parse(readFileSync(join(bundle, 'lat.json'), 'utf8'));
    expect(manifest.model.pooling).toEqual({ schedule: [[0, 16]], inputLength: 64, keepFirstSegment: true });
    for (const source of [out, bundle]) {
      const qa = await pipeline('question-answering', source, { runtime: createNodeRuntime({ threads: 1 }) });
      const got = await qa({ question: q.question, context: q.context });
      expect({ answer: got.answer, start: got.start }).toEqual({ answer: a.answer, start: a.start });
      await qa.dispose();
    }
    // A question longer than the pooled width (16 rows) cannot be kept whole: one line.
    const r = runLat(['predict', '--model', out, '--context', q.context, 'where is it '.repeat(6)]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/example 0 has 20 first-segment tokens .* but layer 0 pools to 16 rows/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const iterative = runLat([
      ...['train', '--model', out, '--task', 'squad', '--train', long, '--out', join(dir, 'keep-iterative')],
      ...[
        '--method',
        'pooling',
        '--max-length',
        '64',
        '--pooling-operator',
        'iterative',
        '--keep-first-segment',
      ],
    ]);
    expect(iterative.stderr).toMatch(/^[^\n]*--keep-first-segment: needs successive halving[^\n]*\n?$/);

    // Training on from it keeps the option unless --no-keep-first-segment.
    const pooling = (flags: string[], name: string) => {
      trainPooledQa(join(dir, name), ['--epochs', '1', ...flags, '--model', out]);
      return JSON.parse(readFileSync(join(dir, name, 'config.json'), 'utf8')).lat_pooling;
    };
    expect(pooling([], 'keep-on').keep_first_segment).toBe(true);
    expect(pooling(['--no-keep-first-segment'], 'keep-off').keep_first_segment).toBeUndefined();
  }, 120_000);
});
