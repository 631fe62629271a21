/**
 * Fuzz targets for every file lat loads from a model directory or bundle: model.safetensors,
 * pytorch_model.bin (zip + pickle), lat.json, vocab.txt and tokenizer.json (config.json, read
 * through the architecture registry, has its target in @lat/layers). Each runs
 * `fuzzRuns` generated cases (fixed seed, so CI is repeatable); see testing/fuzz.ts for the rules.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { type BundleManifest, parseBundleManifest } from './bundle.js';
import { readJson } from './io/json.js';
import { readSafetensors, writeSafetensors } from './io/safetensors.js';
import { readPytorchBin } from './io/torch-bin.js';
import { byteLevelBpeTokenizerJson } from './testing/bpe.js';
import { checkLoaderCase, corruptBytes, corruptJson, fuzzDir, fuzzRuns } from './testing/fuzz.js';
import { floats, statePickle, zipOf } from './testing/torch-save.js';
import { tokenizerFromSpec } from './tokenizers/spec.js';
import type { Tokenizer } from './tokenizers/tokenizer.js';
import {
  bpeFromVocabMerges,
  tokenizerFromJson,
  wordPieceFromTokenizerJson,
} from './tokenizers/tokenizer-json.js';
import { WordPieceTokenizer } from './tokenizers/wordpiece.js';

const dir = fuzzDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const params = { numRuns: fuzzRuns, seed: 18, endOnFailure: true };
const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'the', 'film', '##s', 'great'];
/** A tokenizer must also encode after loading, without throwing or looping. */
const use = (t: Tokenizer) => t.encode('the films are GREAT, the end', 'a pair', { maxLength: 8 });

describe('fuzz: every loader fails with a LatError naming the file, within time and memory caps', () => {
  it('model.safetensors', () => {
    const path = join(dir, 'model.safetensors');
    writeSafetensors(
      path,
      new Map([
        [
          'bert.embeddings.word_embeddings.weight',
          { dims: [8, 4], data: Float32Array.from({ length: 32 }, (_, i) => i / 32) },
        ],
        ['classifier.bias', { dims: [2], data: Float32Array.of(0.5, -0.5) }],
      ]),
    );
    const good = readFileSync(path);
    fc.assert(
      fc.property(corruptBytes(good), (b) => checkLoaderCase(path, b, readSafetensors)),
      params,
    );
  }, 60_000);

  it('pytorch_model.bin: the zip and, inside a valid zip, the pickle', () => {
    const path = join(dir, 'pytorch_model.bin');
    const pickle = statePickle([
      { name: 'w', key: '0', size: [2, 2], stride: [2, 1] },
      { name: 'b', key: '1', size: [2], stride: [1], offset: 1 },
    ]);
    const zip = (pkl: Uint8Array) =>
      zipOf([
        ['a/data.pkl', Buffer.from(pkl)],
        ['a/data/0', floats([1, 2, 3, 4])],
        ['a/data/1', floats([5, 6, 7])],
      ]);
    const cases = fc.oneof(corruptBytes(zip(pickle)), corruptBytes(pickle).map(zip));
    fc.assert(
      fc.property(cases, (b) => checkLoaderCase(path, b, readPytorchBin)),
      params,
    );
  }, 60_000);

  it('lat.json', () => {
    const manifest: BundleManifest = {
      schemaVersion: 1,
      kind: 'lat-bundle',
      graph: 'model.onnx',
      graphSha256: 'a'.repeat(64),
      model: {
        name: 'm',
        architecture: 'bert',
        numLayers: 1,
        hiddenSize: 4,
        numHeads: 2,
        intermediateSize: 4,
        vocabSize: vocab.length,
        maxPositions: 8,
        fingerprint: 'f',
      },
      task: { type: 'classification', labels: ['no', 'yes'] },
      io: { inputs: { input_ids: '' }, outputs: { logits: '' } },
      tokenizer: {
        type: 'wordpiece',
        vocab,
        doLowerCase: true,
        maxLength: 8,
        clsToken: '[CLS]',
        sepToken: '[SEP]',
        padToken: '[PAD]',
        unkToken: '[UNK]',
      },
    };
    // Schema 2 with a byte-level BPE tokenizer: the same model, RoBERTa's tokenizer section.
    const bpe = tokenizerFromJson(byteLevelBpeTokenizerJson(['the films are great'], 8)).spec();
    const bpeManifest: BundleManifest = {
      ...manifest,
      schemaVersion: 2,
      model: { ...manifest.model, architecture: 'roberta', vocabSize: bpe.vocab.length },
      tokenizer: { ...bpe, maxLength: 8 },
    };
    const path = join(dir, 'lat.json');
    // Loading includes building the tokenizer the manifest describes, and using it.
    const load = (p: string) => use(tokenizerFromSpec(parseBundleManifest(readJson(p), p).tokenizer, p));
    fc.assert(
      fc.property(fc.oneof(corruptJson(manifest), corruptJson(bpeManifest)), (text) =>
        checkLoaderCase(path, text, load),
      ),
      params,
    );
  }, 60_000);

  it('vocab.txt', () => {
    const path = join(dir, 'vocab.txt');
    const good = new TextEncoder().encode(`${vocab.join('\n')}\n`);
    fc.assert(
      fc.property(corruptBytes(good), (b) =>
        checkLoaderCase(path, b, (p) =>
          use(new WordPieceTokenizer(readFileSync(p, 'utf8').split('\n'), { where: p })),
        ),
      ),
      params,
    );
  }, 60_000);

  it('tokenizer.json', () => {
    const path = join(dir, 'tokenizer.json');
    const good = {
      model: {
        type: 'WordPiece',
        unk_token: '[UNK]',
        max_input_chars_per_word: 100,
        vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
      },
      normalizer: { type: 'BertNormalizer', lowercase: true, strip_accents: null },
      post_processor: { cls: ['[CLS]', 2], sep: ['[SEP]', 3] },
    };
    fc.assert(
      fc.property(corruptJson(good), (text) =>
        checkLoaderCase(path, text, (p) => use(wordPieceFromTokenizerJson(readJson(p), {}, p))),
      ),
      params,
    );
  }, 60_000);

  it('tokenizer.json with byte-level BPE (RoBERTa)', () => {
    const path = join(dir, 'bpe-tokenizer.json');
    const good = byteLevelBpeTokenizerJson(['the films are great', 'a pair of films'], 12);
    fc.assert(
      fc.property(corruptJson(good), (text) =>
        checkLoaderCase(path, text, (p) =>
          tokenizerFromJson(readJson(p), {}, p).encode('the films are GREAT, the end', 'a pair', {
            maxLength: 8,
          }),
        ),
      ),
      params,
    );
  }, 60_000);

  it('vocab.json + merges.txt (a slow RoBERTa tokenizer)', () => {
    const good = byteLevelBpeTokenizerJson(['the films are great', 'a pair of films'], 12);
    const vocabPath = join(dir, 'vocab.json');
    const mergesPath = join(dir, 'merges.txt');
    const merges = new TextEncoder().encode(`#version: 0.2\n${good.model.merges.join('\n')}\n`);
    const load = (v: string, m: string) =>
      use(bpeFromVocabMerges(readJson(v), readFileSync(m, 'utf8'), {}, { vocab: v, merges: m }));
    writeFileSync(mergesPath, merges);
    fc.assert(
      fc.property(corruptJson(good.model.vocab), (text) =>
        checkLoaderCase(vocabPath, text, (p) => load(p, mergesPath)),
      ),
      params,
    );
    writeFileSync(vocabPath, JSON.stringify(good.model.vocab));
    fc.assert(
      fc.property(corruptBytes(merges), (b) => checkLoaderCase(mergesPath, b, (p) => load(vocabPath, p))),
      params,
    );
  }, 60_000);
});
