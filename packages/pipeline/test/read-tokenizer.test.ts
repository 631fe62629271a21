/**
 * readTokenizer: the tokenizer of a model directory or bundle without its weights or graph. It
 * must tokenise exactly as the full loaders' tokenizers do (WordPiece and byte-level BPE, from
 * directories and bundles), never read the weights or the graph, and say which files are missing.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLatError } from '@lat/core';
import { tinyModel, writeBundle, writeModelDir } from '@lat/layers/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleModel } from '../src/index.js';
import { readBundleDir, readModelDir, readTokenizer } from '../src/node.js';
import { tinyBert } from '../src/testing/index.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-read-tokenizer-'));
const texts = [
  'a gripping film',
  'The film was shot in Oslo over two winters.',
  'Über-fans cheered 😀 at the café',
  'unknownword ##s ?',
];
const fixture = join(import.meta.dirname, '../../../../shared/fixtures/models/bert-tiny-sst2');
const models = {
  bert: tinyBert(),
  roberta: tinyModel({ architecture: 'roberta', corpus: texts, layers: 2, hidden: 16, numHeads: 2 }),
};

beforeAll(() => {
  for (const [name, m] of Object.entries(models)) {
    writeModelDir(join(dir, `${name}-dir`), m);
    writeBundle(join(dir, `${name}-bundle`), m, { task: 'classification' });
  }
});

const encodings = (t: { encode(a: string, b?: string, o?: { maxLength?: number }): { ids: number[] } }) =>
  texts.flatMap((a) => [t.encode(a).ids, t.encode(a, 'the ending', { maxLength: 8 }).ids]);

describe('readTokenizer', () => {
  for (const name of Object.keys(models) as (keyof typeof models)[]) {
    it(`tokenises as the full loaders do (${name}: directory and bundle)`, async () => {
      const full = await readModelDir(join(dir, `${name}-dir`));
      const fromDir = readTokenizer(join(dir, `${name}-dir`));
      expect(fromDir.tokenizer.kind).toBe(full.tokenizer.kind);
      expect(encodings(fromDir.tokenizer)).toEqual(encodings(full.tokenizer));

      const bundle = bundleModel(await readBundleDir(join(dir, `${name}-bundle`)));
      const fromBundle = readTokenizer(join(dir, `${name}-bundle`));
      expect(fromBundle.maxLength).toBe(bundle.maxLength);
      expect(encodings(fromBundle.tokenizer)).toEqual(encodings(bundle.tokenizer));
      expect(encodings(fromBundle.tokenizer)).toEqual(encodings(full.tokenizer));
    });
  }

  it('reads neither the weights nor the graph: it works with them gone', () => {
    const before = encodings(readTokenizer(join(dir, 'bert-dir')).tokenizer);
    rmSync(join(dir, 'bert-dir/model.safetensors'));
    const bundleGraph = join(dir, 'bert-bundle/model.onnx');
    expect(existsSync(bundleGraph)).toBe(true);
    rmSync(bundleGraph);
    expect(encodings(readTokenizer(join(dir, 'bert-dir')).tokenizer)).toEqual(before);
    expect(encodings(readTokenizer(join(dir, 'bert-bundle')).tokenizer)).toEqual(before);
  });

  it('names the missing files', () => {
    const empty = join(dir, 'no-tokenizer');
    mkdirSync(empty);
    const fail = (path: string) => {
      try {
        readTokenizer(path);
      } catch (e) {
        if (isLatError(e)) return `${e.code} ${e.message}`;
        throw e;
      }
      throw new Error('no error');
    };
    expect(fail(empty)).toMatch(/NOT_FOUND.*config\.json/);
    copyFileSync(join(dir, 'bert-dir/config.json'), join(empty, 'config.json'));
    expect(fail(empty)).toMatch(/NOT_FOUND.*vocab\.txt or tokenizer\.json/);
    expect(fail(join(dir, 'nowhere'))).toMatch(/NOT_FOUND.*no such directory/);
  });

  it.skipIf(!existsSync(fixture))('bert-tiny-sst2: the same ids as the full loader', async () => {
    const full = await readModelDir(fixture);
    expect(encodings(readTokenizer(fixture).tokenizer)).toEqual(encodings(full.tokenizer));
  });
});
