/**
 * `lat export` of RoBERTa models (byte-level BPE tokenizer.json), through the built binary: the
 * bundle stores the BPE tokenizer (lat.json schema 2), and `lat predict` on the bundle gives what
 * it gives on the model directory — classification, and span QA with character offsets. Pooling
 * that keeps the question is refused: RoBERTa's one token type cannot tell the question apart.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyModel, writeModelDir } from '@lat/layers/testing';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'dist/bin.js');
const dir = mkdtempSync(join(tmpdir(), 'lat-cli-roberta-'));

function lat(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args, '--threads', '1'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** `lat predict --json` on the model and on its exported bundle. */
function predictBoth(model: string, bundle: string, args: string[]) {
  return [model, bundle].map((m) => {
    const r = lat(['predict', '--model', m, '--json', ...args]);
    expect(r.code, r.err).toBe(0);
    return JSON.parse(r.out);
  });
}

beforeAll(() => {
  if (!existsSync(bin))
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  const roberta = tinyModel({ architecture: 'roberta', layers: 3, hidden: 16, numHeads: 2 });
  writeModelDir(join(dir, 'clf'), roberta);
  // A span model, as `lat train --task squad` records it.
  writeModelDir(join(dir, 'qa'), roberta);
  writeFileSync(
    join(dir, 'qa/lat_training.json'),
    JSON.stringify({ task: 'squad', metrics: ['f1'], maxLength: 48, lengthDrop: null }),
  );
}, 120_000);

describe('lat export of a RoBERTa model', () => {
  it('classification: a schema-2 bundle with the BPE tokenizer that predicts what the directory does', () => {
    const exp = lat(['export', '--model', join(dir, 'clf'), '--out', join(dir, 'clf-bundle')]);
    expect(exp.code, exp.err).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'clf-bundle/lat.json'), 'utf8'));
    expect(manifest).toMatchObject({
      schemaVersion: 2,
      model: { architecture: 'roberta' },
      task: { type: 'classification' },
      tokenizer: { type: 'bpe', clsToken: '<s>', sepToken: '</s>', maxLength: 64 },
    });
    const [fromDir, fromBundle] = predictBoth(join(dir, 'clf'), join(dir, 'clf-bundle'), [
      '--ratios',
      '0.8,0.6,0.4',
      'a gripping film',
      'the plot was dull and the ending weak',
    ]);
    expect(fromDir.predictions[0].tokens[0]).toBe('<s>');
    fromBundle.predictions.forEach((b: Record<string, unknown>, i: number) => {
      const d = fromDir.predictions[i];
      expect(b['tokens']).toEqual(d.tokens);
      expect(b['lengths']).toEqual(d.lengths);
      expect(b['label']).toBe(d.label);
      (b['probabilities'] as number[]).forEach((p, j) => expect(p).toBeCloseTo(d.probabilities[j], 5));
    });
  });

  it('question answering: a span bundle answering with the same character offsets', () => {
    const exp = lat(['export', '--model', join(dir, 'qa'), '--out', join(dir, 'qa-bundle')]);
    expect(exp.code, exp.err).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'qa-bundle/lat.json'), 'utf8'));
    expect(manifest).toMatchObject({ task: { type: 'span' }, tokenizer: { type: 'bpe', maxLength: 48 } });
    const context =
      'The plot was dull and the ending weak. Paris is the capital of France, a gripping place.';
    const [fromDir, fromBundle] = predictBoth(join(dir, 'qa'), join(dir, 'qa-bundle'), [
      '--context',
      context,
      'What is the capital of France?',
    ]);
    const [a, b] = [fromDir.answers[0], fromBundle.answers[0]];
    expect(a.answer).toBe(context.slice(a.start, a.end));
    expect({ answer: b.answer, start: b.start, end: b.end }).toEqual({
      answer: a.answer,
      start: a.start,
      end: a.end,
    });
  });

  it('pooling that keeps the question (--keep-first-segment) is refused in one line: one token type cannot tell it apart', () => {
    const context = 'The plot was dull and the ending weak. Paris is the capital of France.';
    const qas = [
      { id: 'q', question: 'What is the capital?', answers: [{ text: 'Paris', answer_start: 39 }] },
    ];
    const train = join(dir, 'squad.json');
    writeFileSync(
      train,
      JSON.stringify({ version: '1.1', data: [{ title: 't', paragraphs: [{ context, qas }] }] }),
    );
    const r = lat([
      ...[
        'train',
        '--model',
        join(dir, 'qa'),
        '--task',
        'squad',
        '--train',
        train,
        '--out',
        join(dir, 'keep'),
      ],
      ...['--method', 'pooling', '--pooling', '0:16', '--max-length', '32', '--keep-first-segment'],
    ]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(
      /^lat: lat_pooling\.keep_first_segment: needs token types to find the first segment \(the question\), and this roberta model has one \(every token is type 0\); [^\n]*\n$/,
    );
  });
});
