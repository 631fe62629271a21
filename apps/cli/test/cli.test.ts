/**
 * End-to-end tests of the built `lat` binary (apps/cli/dist/bin.js, built by `pnpm build` —
 * the CI build step — or by this test when missing): train → search → eval → predict → export
 * on a tiny generated task, plus the error paths users hit.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkBundleGraph, parseBundleManifest } from '@lat/core';
import { writeSafetensors } from '@lat/core/node';
import { createRandomWeights, toHfConfig, toHfNames } from '@lat/layers';
import { pipeline } from '@lat/pipeline';
import { createNodeRuntime } from '@lat/runtime-node';
import { syntheticModelConfig } from '@lat/train';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  cliBin,
  cliRoot,
  ensureBuilt,
  lastJson,
  lat,
  sentimentTraining,
  tinySearch,
  writeSentimentFixture,
} from './fixture.js';
import { signalAtFirstStep } from './signal.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-cli-'));
const base = join(dir, 'base');
const model = join(dir, 'model');

beforeAll(() => {
  ensureBuilt(cliRoot);
  writeSentimentFixture(dir, base, { seed: 3, train: 800, dev: 100, hidden: 64, heads: 4 });
}, 120_000);

describe('lat, end to end through the built binary', () => {
  it('train → search → eval → predict → export → info', async () => {
    const train = lat([
      'train',
      ...sentimentTraining(dir, base),
      '--dev',
      join(dir, 'dev.tsv'),
      '--out',
      model,
      '--epochs',
      '6',
      '--lr',
      '2e-3',
      '--max-length',
      '48',
      '--length-drop-ratio',
      '0.4',
      '--json',
    ]);
    expect(train.code, train.err).toBe(0);
    const events = train.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.filter((e) => e.event === 'step').length).toBe(6 * Math.ceil(800 / 32));
    const summary = events.at(-1);
    expect(summary).toMatchObject({ schemaVersion: 1, command: 'train', stopped: false });
    expect(summary.metrics.accuracy).toBeGreaterThan(0.8);
    expect(
      existsSync(join(model, 'model.safetensors')) &&
        existsSync(join(model, 'checkpoint/trainer_state.json')),
    ).toBe(true);

    const search = lat([
      'search',
      '--model',
      model,
      '--dev',
      join(dir, 'dev.tsv'),
      '--iterations',
      '2',
      '--plot',
      join(dir, 'f.svg'),
      '--json',
    ]);
    expect(search.code, search.err).toBe(0);
    const frontier = JSON.parse(search.out.trim().split('\n').at(-1)!).frontier;
    expect(frontier.kind).toBe('lat-frontier');
    expect(readFileSync(join(dir, 'f.svg'), 'utf8')).toContain('<svg');
    // Below the bound LengthDrop trained (0.4): the smallest configuration is always on the frontier.
    const below = lat([
      'search',
      '--model',
      model,
      '--dev',
      join(dir, 'dev.tsv'),
      '--ratio-bound',
      '0.9',
      '--out',
      join(dir, 'frontier-rb.json'),
      ...tinySearch,
      '--json',
    ]);
    expect(below.code, below.err).toBe(0);
    const deeper = lastJson(below.out).frontier;
    expect(deeper.search.params.ratioBound).toBe(0.9);
    const cheapest = (f: { points: { cost: number }[] }) => Math.min(...f.points.map((q) => q.cost));
    expect(cheapest(deeper)).toBeLessThan(cheapest(frontier));
    const bad = lat(['search', '--model', model, '--dev', join(dir, 'dev.tsv'), '--ratio-bound', '1']);
    expect(bad.code).not.toBe(0);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(bad.err).toMatch(
      /--ratio-bound.*not a fraction in \(0, 1\)|not a fraction in \(0, 1\).*--ratio-bound/,
    );

    const ev = lat(['eval', '--model', model, '--dev', join(dir, 'dev.tsv'), '--all', '--json']);
    expect(ev.code, ev.err).toBe(0);
    const evOut = JSON.parse(ev.out);
    expect(evOut.results).toHaveLength(frontier.points.length);
    evOut.results.forEach((r: { metrics: { accuracy: number } }, i: number) =>
      expect(r.metrics.accuracy).toBeCloseTo(frontier.points[i].metric, 10),
    );

    const pred = lat(
      ['predict', '--model', model, '--ratios', '0.8,0.5', '--json'],
      'a superb and witty film .\nit is dull and bland .\n',
    );
    expect(pred.code, pred.err).toBe(0);
    const p = JSON.parse(pred.out);
    expect(p.predictions.map((x: { label: string }) => x.label)).toEqual(['positive', 'negative']);
    const n = p.predictions[0].tokens.length; // [CLS] a superb and witty film . [SEP]
    expect(n).toBe(8);
    expect(p.predictions[0].lengths).toEqual([Math.ceil(0.8 * n), Math.ceil(0.5 * n)]);
    expect(p.predictions[0].keptPositions[1]).toHaveLength(4);
    const human = lat([
      'predict',
      '--model',
      model,
      '--explain',
      '--lengths',
      '6,3',
      'a superb and witty film .',
    ]);
    expect(human.out).toMatch(/positive .*\n.*lengths 6,3.*\n\s+layer 1: \[CLS\]/);

    const exp = lat(['export', '--model', model, '--out', join(dir, 'bundle')]);
    expect(exp.code, exp.err).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'bundle/lat.json'), 'utf8'));
    expect(manifest.frontier.points.length).toBe(frontier.points.length);
    expect(existsSync(join(dir, 'bundle/model.onnx'))).toBe(true);
    // The bundle predicts what the model directory does.
    const fromBundle = lat(
      ['predict', '--model', join(dir, 'bundle'), '--ratios', '0.8,0.5', '--json'],
      'a superb and witty film .\nit is dull and bland .\n',
    );
    expect(fromBundle.code, fromBundle.err).toBe(0);
    const b = JSON.parse(fromBundle.out).predictions;
    expect(b.map((x: { label: string }) => x.label)).toEqual(['positive', 'negative']);
    b.forEach((x: { lengths: number[]; probabilities: number[] }, i: number) => {
      expect(x.lengths).toEqual(p.predictions[i].lengths);
      x.probabilities.forEach((q, j) => expect(q).toBeCloseTo(p.predictions[i].probabilities[j], 5));
    });
    // The bundle checks out against its own graph: sha256, outputs, labels, layers.
    const graph = readFileSync(join(dir, 'bundle/model.onnx'));
    await checkBundleGraph(parseBundleManifest(manifest), graph);
    expect(manifest.graphSha256).toMatch(/^[0-9a-f]{64}$/);

    const bench = lat([
      'bench',
      '--model',
      model,
      '--ratios',
      '0.6,0.3',
      '--seq',
      '32',
      '--runs',
      '3',
      '--json',
    ]);
    expect(bench.code, bench.err).toBe(0);
    const rows = JSON.parse(bench.out).rows;
    expect(rows.map((r: { lengths: unknown }) => r.lengths)).toEqual(['full', [0.6, 0.3]]);
    expect(rows[1].macsRatio).toBeLessThan(0.7);
    const evalOne = JSON.parse(
      lat(['eval', '--model', model, '--dev', join(dir, 'dev.tsv'), '--lengths', '20,10', '--json']).out,
    );
    // Absolute lengths refer to inputs padded to the training max length, as the reference's do.
    expect(evalOne.results[0].lengths).toEqual({ form: 'absolute', lengths: [20, 10], paddedLength: 48 });

    const info = JSON.parse(lat(['info', '--model', model, '--json']).out);
    expect(info).toMatchObject({
      layers: 2,
      hidden: 64,
      task: 'sst2',
      frontier: { points: frontier.points.length },
    });
  }, 120_000);

  it('trains, evaluates and answers with a SQuAD span model (lat train --task squad), and exports it', async () => {
    const cities = ['paris', 'rome', 'oslo', 'lima', 'cairo', 'delhi'];
    const filler = ['the', 'a', 'film', 'story', 'and', 'with', 'of', 'it'];
    const squadDir = join(dir, 'squad');
    mkdirSync(squadDir);
    let seed = 5;
    const rand = (n: number) => (seed = (seed * 16807) % 2147483647) % n;
    const split = (n: number, tag: string) => ({
      version: '1.1',
      data: [
        {
          title: tag,
          paragraphs: Array.from({ length: n }, (_, i) => {
            const words = Array.from({ length: 8 + rand(10) }, () => filler[rand(filler.length)]!);
            const city = cities[rand(cities.length)]!;
            words.splice(rand(words.length + 1), 0, city);
            const context = `${words.join(' ')} .`;
            return {
              context,
              qas: [
                {
                  id: `${tag}${i}`,
                  question: 'where is it',
                  answers: [{ text: city, answer_start: context.search(new RegExp(`\\b${city}\\b`)) }],
                },
              ],
            };
          }),
        },
      ],
    });
    writeFileSync(join(squadDir, 'train.json'), JSON.stringify(split(500, 't')));
    writeFileSync(join(squadDir, 'dev.json'), JSON.stringify(split(60, 'd')));
    const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'where', 'is', ...filler, ...cities, '.'];
    const qaBase = join(dir, 'qa-base');
    mkdirSync(qaBase);
    const config = syntheticModelConfig({ layers: 2, hidden: 64, heads: 4, vocabSize: vocab.length });
    writeFileSync(join(qaBase, 'config.json'), JSON.stringify(toHfConfig(config)));
    writeFileSync(join(qaBase, 'vocab.txt'), `${vocab.join('\n')}\n`);
    writeSafetensors(join(qaBase, 'model.safetensors'), toHfNames(createRandomWeights(config, 2), config));
    const qaModel = join(dir, 'qa-model');
    const train = lat([
      'train',
      '--model',
      qaBase,
      '--task',
      'squad',
      '--train',
      join(squadDir, 'train.json'),
      '--dev',
      join(squadDir, 'dev.json'),
      '--out',
      qaModel,
      '--epochs',
      '5',
      '--lr',
      '2e-3',
      '--max-length',
      '48',
      '--json',
    ]);
    expect(train.code, train.err).toBe(0);
    expect(JSON.parse(train.out.trim().split('\n').at(-1)!).metrics.f1).toBeGreaterThan(80);
    const ev = lat([
      'eval',
      '--model',
      qaModel,
      '--dev',
      join(squadDir, 'dev.json'),
      '--ratios',
      '0.8,0.5',
      '--json',
    ]);
    expect(ev.code, ev.err).toBe(0);
    const r = JSON.parse(ev.out).results[0];
    expect(r.metrics.f1).toBeGreaterThan(70);
    expect(r.macsRatio).toBeLessThan(0.9);
    const context = 'the film and the story of oslo .';
    const p = lat(['predict', '--model', qaModel, '--context', context, '--json', 'where is it']);
    expect(p.code, p.err).toBe(0);
    const a = JSON.parse(p.out).answers[0];
    expect(a.answer).toBe('oslo');
    expect(context.slice(a.start, a.end)).toBe('oslo');
    const noContext = lat(['predict', '--model', qaModel, 'where is it']);
    expect(noContext.code).toBe(2);
    expect(noContext.err).toMatch(/--context: this is a question-answering model/);

    // The span model exports as a span bundle, and that bundle answers like `lat predict`.
    const exp = lat(['export', '--model', qaModel, '--out', join(dir, 'qa-bundle')]);
    expect(exp.code, exp.err).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'qa-bundle/lat.json'), 'utf8'));
    expect(manifest.task.type).toBe('span');
    const qa = await pipeline('question-answering', join(dir, 'qa-bundle'), {
      runtime: createNodeRuntime({ threads: 1 }),
      maxLength: 128,
    });
    const fromBundle = await qa({ question: 'where is it', context });
    expect({ answer: fromBundle.answer, start: fromBundle.start }).toEqual({
      answer: a.answer,
      start: a.start,
    });
    await qa.dispose();
  }, 120_000);

  it('saves a checkpoint and stops cleanly on Ctrl-C during training, then resumes', async () => {
    const out = join(dir, 'interrupted');
    const args = ['train', '--model', base, '--task', 'sst2', '--train', join(dir, 'train.tsv')];
    args.push('--out', out, '--epochs', '2', '--max-length', '48', '--threads', '1');
    const { code, summary } = await signalAtFirstStep(cliBin, args, 'SIGINT');
    expect(code).toBe(130); // like a process killed by SIGINT, so `lat train && lat search` stops
    expect(summary).toMatchObject({ command: 'train', stopped: true });
    const stateFile = join(out, 'checkpoint/trainer_state.json');
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).step).toBe(summary.steps);
    expect(summary.steps).toBeLessThan(2 * 25);
    expect(readdirSync(join(out, 'tokenized'))).toEqual([
      expect.stringMatching(/^train\.tsv\.[0-9a-f]{24}\.tokens$/),
    ]);
    // The resumed run reads the cached token ids and finishes the remaining steps.
    const resumed = lat([...args.slice(0, -2), '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.out).toContain('read from the cache');
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).step).toBe(2 * 25);
  }, 120_000);

  it('scores SQuAD predictions like the official script', () => {
    const data = {
      version: '1.1',
      data: [
        {
          title: 't',
          paragraphs: [
            {
              context: 'The Denver Broncos won.',
              qas: [
                {
                  id: 'q1',
                  question: 'who?',
                  answers: [
                    { text: 'Denver Broncos', answer_start: 4 },
                    { text: 'The Denver Broncos', answer_start: 0 },
                  ],
                },
                { id: 'q2', question: 'what?', answers: [{ text: 'won', answer_start: 19 }] },
              ],
            },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'squad.json'), JSON.stringify(data));
    writeFileSync(join(dir, 'preds.json'), JSON.stringify({ q1: 'the broncos', q2: 'they won' }));
    const r = lat([
      'eval',
      '--task',
      'squad',
      '--dev',
      join(dir, 'squad.json'),
      '--predictions',
      join(dir, 'preds.json'),
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    // q1: best F1 vs "Denver Broncos" = 2·(1/1·1/2)/(1.5) = 2/3, EM 0; q2: F1 2/3 ("they won" vs "won"), EM 0.
    expect(JSON.parse(r.out).metrics).toMatchObject({ exact_match: 0, total: 2 });
    expect(JSON.parse(r.out).metrics.f1).toBeCloseTo(66.6667, 3);
  });

  it('fails with one line and the right exit code on bad input', () => {
    const cases: [string[], number, RegExp][] = [
      [
        ['train', '--model', join(dir, 'nope'), '--task', 'sst2', '--train', 'x', '--out', join(dir, 'o')],
        1,
        /nope: no such directory/,
      ],
      [['predict', '--model', dir, 'hi'], 1, /not a model directory: it has no config.json/],
      [
        [
          'train',
          '--model',
          base,
          '--task',
          'imdb',
          '--train',
          join(dir, 'train.tsv'),
          '--out',
          join(dir, 'o'),
        ],
        2,
        /unknown task 'imdb'/,
      ],
      [['predict', '--model', model, '--budget', 'fast', 'hi'], 2, /cannot read 'fast'/],
      [['predict', '--model', model, '--lengths', '3,5', 'hi'], 2, /--lengths: value 2 \(5\) is larger/],
      [['predict', '--model', model, '--ratios', '0.5', 'hi'], 2, /--ratios: expected 2 values/],
      [
        ['eval', '--model', model, '--dev', join(dir, 'dev.tsv'), '--lengths', '5,x'],
        2,
        /--lengths: 'x' is not a number/,
      ],
      [['bench', '--model', model, '--ratios', '0.5,0.7'], 2, /--ratios: value 2 \(0.7\) is larger/],
      [
        ['bench', '--model', model, '--seq', '500'],
        2,
        /inputs have 500 tokens but the model has only 64 positions/,
      ],
      [['predict', '--model', model, '--lengths', '3,3', '--ratios', '0.5,0.5', 'hi'], 2, /give only one of/],
      [
        ['train', ...sentimentTraining(dir, base), '--out', join(dir, 'o'), '--epochs', 'two'],
        2,
        /--epochs must be a whole number/,
      ],
      [['train', '--model', base], 2, /required option/],
      [['frobnicate'], 2, /unknown command/],
    ];
    for (const [args, code, msg] of cases) {
      const r = lat(args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(code);
      expect(r.err).toMatch(msg);
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    }
    const other = JSON.parse(readFileSync(join(model, 'frontier.json'), 'utf8'));
    other.model.fingerprint = 'someone-else';
    writeFileSync(join(dir, 'other.json'), JSON.stringify(other));
    const r = lat([
      'predict',
      '--model',
      model,
      '--frontier',
      join(dir, 'other.json'),
      '--budget',
      '0.9',
      'hi',
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/made for other weights/);
  }, 120_000);
});
