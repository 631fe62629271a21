import { describe, expect, it } from 'vitest';
import { type BundleManifest, parseBundleManifest } from './bundle.js';

const valid: BundleManifest = {
  schemaVersion: 1,
  kind: 'lat-bundle',
  graph: 'model.onnx',
  model: {
    name: 'tiny',
    architecture: 'bert',
    numLayers: 2,
    hiddenSize: 8,
    numHeads: 2,
    intermediateSize: 16,
    vocabSize: 5,
    maxPositions: 16,
    fingerprint: 'abc',
  },
  task: { type: 'classification', labels: ['neg', 'pos'] },
  io: { inputs: {}, outputs: {} },
  tokenizer: {
    type: 'wordpiece',
    vocab: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a'],
    doLowerCase: true,
    maxLength: 16,
    clsToken: '[CLS]',
    sepToken: '[SEP]',
    padToken: '[PAD]',
    unkToken: '[UNK]',
  },
};

describe('parseBundleManifest', () => {
  it('accepts a valid manifest', () => {
    expect(parseBundleManifest(structuredClone(valid)).model.name).toBe('tiny');
  });
  it('names the field at fault', () => {
    // biome-ignore lint/suspicious/noExplicitAny: each case breaks a different field of the manifest
    type Loose = Record<string, any>;
    const bad = (patch: (m: Loose) => void) => {
      const m = structuredClone(valid) as unknown as Loose;
      patch(m);
      return () => parseBundleManifest(m);
    };
    expect(() => parseBundleManifest('x')).toThrow(/lat.json#: not a JSON object/);
    expect(bad((m) => (m['kind'] = 'other'))).toThrow(/lat.json#kind/);
    expect(bad((m) => (m['schemaVersion'] = 2))).toThrow(/#schemaVersion: this version reads schema 1/);
    expect(bad((m) => (m['model'].numLayers = 0))).toThrow(/#model.numLayers: must be a positive integer/);
    expect(bad((m) => m['tokenizer'].vocab.pop())).toThrow(
      /#tokenizer.vocab: has 4 tokens but model.vocabSize is 5/,
    );
    expect(bad((m) => (m['tokenizer'].clsToken = '<s>'))).toThrow(/#tokenizer.clsToken/);
    expect(bad((m) => (m['task'].type = 'ner'))).toThrow(/#task.type/);
  });
});
