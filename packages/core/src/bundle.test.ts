import { create, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { type BundleManifest, checkBundleGraph, parseBundleManifest, sha256Hex } from './bundle.js';
import { ModelProtoSchema, TensorProto_DataType } from './onnx/index.js';
import { onnxValueInfo as vi } from './testing/index.js';

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
    expect(bad((m) => (m['schemaVersion'] = 3))).toThrow(
      /#schemaVersion: this version reads schemas 1 and 2, got 3/,
    );
    expect(bad((m) => (m['model'].numLayers = 0))).toThrow(/#model.numLayers: must be a positive integer/);
    // The int8 weight layout: one of two, and only in a q8 bundle.
    expect(bad((m) => Object.assign(m['model'], { dtype: 'q8', int8Weights: 'per-row-4bit' }))).toThrow(
      /#model.int8Weights: must be "per-channel-7bit" or "per-tensor-8bit" in a q8 bundle/,
    );
    expect(bad((m) => (m['model'].int8Weights = 'per-tensor-8bit'))).toThrow(/#model.int8Weights/);
    expect(() =>
      parseBundleManifest({
        ...structuredClone(valid),
        model: { ...valid.model, dtype: 'q8', int8Weights: 'per-tensor-8bit' },
      }),
    ).not.toThrow();
    expect(bad((m) => m['tokenizer'].vocab.pop())).toThrow(
      /#tokenizer.vocab: has 4 tokens but model.vocabSize is 5/,
    );
    expect(bad((m) => (m['tokenizer'].clsToken = '<s>'))).toThrow(/#tokenizer.clsToken/);
    expect(bad((m) => (m['task'].type = 'ner'))).toThrow(/#task.type/);
    expect(bad((m) => (m['tokenizer'].type = 'unigram'))).toThrow(
      /#tokenizer.type: must be "wordpiece" or "bpe", got "unigram"/,
    );
    expect(bad((m) => (m['tokenizer'].doLowerCase = 'yes'))).toThrow(
      /#tokenizer.doLowerCase: must be true or false/,
    );
    expect(bad((m) => delete m['tokenizer'])).toThrow(/lat.json#tokenizer: missing/);
  });

  // A schema-2 bundle of a RoBERTa-style byte-level BPE tokenizer.
  const bpe: BundleManifest = {
    ...structuredClone(valid),
    schemaVersion: 2,
    model: { ...valid.model, architecture: 'roberta', vocabSize: 6 },
    tokenizer: {
      type: 'bpe',
      vocab: ['<s>', '<pad>', '</s>', '<unk>', 'Ġa', 'Ġ'],
      merges: [['Ġ', 'a']],
      addedTokens: [{ content: '<s>' }, { content: '</s>', lstrip: false, rstrip: false }],
      addPrefixSpace: false,
      trimOffsets: true,
      maxLength: 16,
      clsToken: '<s>',
      sepToken: '</s>',
      padToken: '<pad>',
      unkToken: '<unk>',
    },
  };

  it('reads schema 1 (WordPiece only) and schema 2 (WordPiece or BPE) manifests', () => {
    expect(parseBundleManifest(structuredClone(valid)).schemaVersion).toBe(1);
    expect(parseBundleManifest({ ...structuredClone(valid), schemaVersion: 2 }).schemaVersion).toBe(2);
    expect(parseBundleManifest(structuredClone(bpe)).tokenizer.type).toBe('bpe');
    expect(() => parseBundleManifest({ ...structuredClone(bpe), schemaVersion: 1 })).toThrow(
      /#tokenizer.type: a "bpe" tokenizer needs schemaVersion 2/,
    );
  });

  it('names the BPE field at fault', () => {
    // biome-ignore lint/suspicious/noExplicitAny: each case breaks a different field of the manifest
    const bad = (patch: (t: Record<string, any>) => void) => {
      const m = structuredClone(bpe) as unknown as { tokenizer: Record<string, unknown> };
      patch(m.tokenizer);
      return () => parseBundleManifest(m);
    };
    expect(bad((t) => delete t['merges'])).toThrow(/lat.json#tokenizer.merges: must be an array of \[a, b\]/);
    expect(bad((t) => t['merges'].push(['Ġa']))).toThrow(
      /#tokenizer.merges\[1\]: must be a pair of non-empty strings, got \["Ġa"\]/,
    );
    expect(bad((t) => t['merges'].push('Ġ a'))).toThrow(/#tokenizer.merges\[1\]/);
    expect(bad((t) => delete t['addedTokens'])).toThrow(/#tokenizer.addedTokens: must be an array/);
    expect(bad((t) => t['addedTokens'].push({ content: '' }))).toThrow(
      /#tokenizer.addedTokens\[2\].content: must be a non-empty string/,
    );
    expect(bad((t) => (t['addedTokens'][1].lstrip = 1))).toThrow(/#tokenizer.addedTokens\[1\].lstrip/);
    expect(bad((t) => delete t['addPrefixSpace'])).toThrow(
      /#tokenizer.addPrefixSpace: must be true or false/,
    );
    expect(bad((t) => (t['trimOffsets'] = 'no'))).toThrow(/#tokenizer.trimOffsets: must be true or false/);
    expect(bad((t) => (t['unkToken'] = '[UNK]'))).toThrow(/#tokenizer.unkToken: is not in the vocabulary/);
    expect(bad((t) => t['vocab'].push('x'))).toThrow(
      /#tokenizer.vocab: has 7 tokens but model.vocabSize is 6/,
    );
  });
  it('takes a SQuAD v2 null threshold on span bundles only, and bundles without one still load', () => {
    const span = (nullThreshold?: unknown) => ({
      ...structuredClone(valid),
      task: { type: 'span', labels: [], ...(nullThreshold !== undefined ? { nullThreshold } : {}) },
    });
    expect(parseBundleManifest(span(-1.5)).task.nullThreshold).toBe(-1.5);
    expect(parseBundleManifest(span()).task.nullThreshold).toBeUndefined();
    expect(() => parseBundleManifest(span('2'))).toThrow(/#task.nullThreshold: must be a finite number/);
    expect(() => parseBundleManifest(span(null))).toThrow(/#task.nullThreshold: must be a finite number/);
    const classifier = { ...structuredClone(valid), task: { ...valid.task, nullThreshold: 0 } };
    expect(() => parseBundleManifest(classifier)).toThrow(/#task.nullThreshold: only span/);
  });
});

/** The graph interface of an exported bundle (inputs, outputs and their shapes); no nodes needed. */
function graphBytes(layers: number, labels: number): Uint8Array {
  const { INT64, FLOAT } = TensorProto_DataType;
  return toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, {
      irVersion: 8n,
      opsetImport: [{ domain: '', version: 17n }],
      graph: {
        name: 'g',
        input: [
          vi('input_ids', INT64, ['batch', 'seq']),
          vi('attention_mask', INT64, ['batch', 'seq']),
          vi('keep_counts', INT64, ['batch', layers]),
        ],
        output: [
          vi('logits', FLOAT, ['batch', labels]),
          ...Array.from({ length: layers }, (_, i) => vi(`kept_positions_${i}`, INT64, ['batch', 'k'])),
        ],
      },
    }),
  );
}

describe('checkBundleGraph', () => {
  const io = {
    inputs: { input_ids: '', attention_mask: '', keep_counts: '' },
    outputs: { logits: '', kept_positions_0: '', kept_positions_1: '' },
  };
  const bundle = async (graph: Uint8Array, patch: Partial<BundleManifest> = {}) =>
    parseBundleManifest({ ...structuredClone(valid), io, graphSha256: await sha256Hex(graph), ...patch });

  it('accepts the graph the manifest describes', async () => {
    const graph = graphBytes(2, 2);
    await expect(checkBundleGraph(await bundle(graph), graph)).resolves.toBeUndefined();
  });

  it('refuses a damaged, truncated or mismatched model.onnx, naming it', async () => {
    const graph = graphBytes(2, 2);
    const m = await bundle(graph);
    const flipped = Uint8Array.from(graph);
    flipped[20] ^= 1;
    await expect(checkBundleGraph(m, flipped)).rejects.toThrow(
      /^model.onnx: damaged or replaced: its sha256 is [0-9a-f]{16}… but lat.json says/,
    );
    const { graphSha256: _, ...unhashed } = m;
    await expect(checkBundleGraph(unhashed, graph.subarray(0, 40))).rejects.toThrow(
      /^model.onnx: not a readable ONNX model/,
    );
    const three = { ...valid.task, labels: ['a', 'b', 'c'] };
    await expect(checkBundleGraph(await bundle(graph, { task: three }), graph)).rejects.toThrow(
      /model.onnx: the graph's logits have 2 columns but lat.json's task has 3 labels/,
    );
    const deeper = graphBytes(3, 2);
    await expect(checkBundleGraph(await bundle(deeper), deeper, 'bundle/model.onnx')).rejects.toThrow(
      /^bundle\/model.onnx: the graph has 3 layers \(keep_counts\) but lat.json says model.numLayers = 2/,
    );
    const noKept = { ...io, outputs: { ...io.outputs, kept_positions_2: '' } };
    await expect(checkBundleGraph(await bundle(graph, { io: noKept }), graph)).rejects.toThrow(
      /no output 'kept_positions_2' that lat.json lists/,
    );
  });

  it('checks tokenizer.maxLength and the hash field in the manifest', async () => {
    const tok = (maxLength: unknown) => ({
      ...structuredClone(valid),
      tokenizer: { ...valid.tokenizer, maxLength },
    });
    expect(() => parseBundleManifest(tok('128'))).toThrow(
      /lat.json#tokenizer.maxLength: must be a whole number/,
    );
    expect(() => parseBundleManifest(tok(64))).toThrow(/64 is more than model.maxPositions \(16\)/);
    expect(() => parseBundleManifest({ ...valid, graphSha256: 'abc' })).toThrow(/#graphSha256: must be 64/);
  });
});
