/**
 * RoBERTa through pipeline(): a tiny checkpoint as Hugging Face saves it (config.json, `roberta.`
 * safetensors, a byte-level BPE tokenizer.json; random weights) classifies and answers questions
 * from its directory — logits of a float64 reference, answers cut at exact character offsets — and
 * its exported bundles (lat.json schema 2 with the BPE tokenizer) predict exactly the same.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceForward, tinyModel, writeBundle, writeModelDir } from '@lat/layers/testing';
import { buildFeatures, decodeAnswers } from '@lat/qa';
import { createNodeRuntime } from '@lat/runtime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { pipeline } from '../src/index.js';

const corpus = [
  'a gripping film with a great cast',
  'the plot was dull and the ending weak',
  'Paris is the capital of France.',
];
const roberta = tinyModel({ architecture: 'roberta', corpus, layers: 3, hidden: 16, numHeads: 2 });
const dir = mkdtempSync(join(tmpdir(), 'lat-pipeline-roberta-'));
const modelDir = join(dir, 'model');
const runtime = createNodeRuntime({ threads: 1 });
const close = (a: readonly number[], b: readonly number[], tol: number) =>
  a.forEach((v, i) => expect(Math.abs(v - b[i]!), `${i}: ${v} vs ${b[i]}`).toBeLessThan(tol));

beforeAll(() => {
  writeModelDir(modelDir, roberta);
  writeBundle(join(dir, 'clf-bundle'), roberta, { task: 'classification' });
  writeBundle(join(dir, 'qa-bundle'), roberta, { task: 'span' });
});

describe('RoBERTa from a Hugging Face directory (tokenizer.json with byte-level BPE)', () => {
  const texts = ['a gripping film', 'The ending was weak, and the plot dull!', 'Über-fans cheered 😀'];

  it('classifies as the float64 reference does, at full and reduced lengths; its bundle gives the same', async () => {
    const clf = await pipeline('text-classification', modelDir, { runtime });
    expect(clf.tokenizer.kind).toBe('bpe');
    const bundle = await pipeline('text-classification', join(dir, 'clf-bundle'), { runtime });
    const manifest = JSON.parse(readFileSync(join(dir, 'clf-bundle/lat.json'), 'utf8'));
    expect(manifest).toMatchObject({ schemaVersion: 2, tokenizer: { type: 'bpe', clsToken: '<s>' } });
    for (const lengths of [undefined, [6, 4, 2]]) {
      for (const text of texts) {
        const options = lengths ? { lengths } : {};
        const [r] = await clf(text, options);
        const ids = roberta.tokenizer.encode(text).ids;
        expect(r!.tokens).toEqual(ids.map((id) => roberta.tokenizer.vocab[id]));
        expect([r!.tokens[0], r!.tokens.at(-1)]).toEqual(['<s>', '</s>']);
        const ref = referenceForward(roberta.config, roberta.weights, ids, undefined, lengths);
        close(r!.logits, ref.logits!, 1e-4);
        const [b] = await bundle(text, options);
        expect(b!.tokens).toEqual(r!.tokens);
        expect(b!.keptPositions).toEqual(r!.keptPositions);
        expect(b!.label).toBe(r!.label);
        close(b!.logits, r!.logits, 1e-5);
      }
    }
    await Promise.all([clf.dispose(), bundle.dispose()]);
  });

  it('answers over doc-stride windows at the reference answer’s exact character offsets; its bundle gives the same', async () => {
    const context =
      'The plot was dull and the ending weak.  Critics said the cast was great, and in Paris the film — “a gripping film” — won. Über-fans cheered! The capital of France is Paris.';
    const question = 'What is the capital of France?';
    const windows = { maxLength: 40, docStride: 12 };
    const qa = await pipeline('question-answering', modelDir, { runtime, ...windows });
    const a = await qa({ question, context });
    expect(a.windows).toBeGreaterThan(2);
    expect(a.answer).toBe(context.slice(a.start, a.end));
    expect(a.answer).toBe(a.answer.trim());
    expect(a.answer.length).toBeGreaterThan(0);
    // Whole BPE tokens of the context: the span starts and ends where tokens do.
    const pieces = roberta.tokenizer.tokenize(context);
    expect(pieces.map((p) => p.start)).toContain(a.start);
    expect(pieces.map((p) => p.end)).toContain(a.end);

    // The same windows through the float64 reference, decoded by @lat/qa.
    const features = buildFeatures(
      roberta.tokenizer,
      { question, context },
      {
        maxSeqLength: windows.maxLength,
        docStride: windows.docStride,
      },
    );
    expect(features).toHaveLength(a.windows);
    const logits = features.map((f) => {
      const r = referenceForward(roberta.config, roberta.weights, f.ids, undefined, undefined, 'span');
      return { start: r.start!, end: r.end! };
    });
    const [want] = decodeAnswers(context, features, logits);
    expect({ answer: a.answer, start: a.start, end: a.end }).toEqual({
      answer: want!.text,
      start: want!.start,
      end: want!.end,
    });

    const bundle = await pipeline('question-answering', join(dir, 'qa-bundle'), { runtime, ...windows });
    for (const options of [{}, { ratios: [1, 0.7, 0.4] }]) {
      const x = await qa({ question, context }, options);
      const y = await bundle({ question, context }, options);
      expect({ ...y, score: 0 }).toEqual({ ...x, score: 0 });
      expect(y.score).toBeCloseTo(x.score, 4);
    }
    await Promise.all([qa.dispose(), bundle.dispose()]);
  });
});
