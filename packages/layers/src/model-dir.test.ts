import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLatError } from '@lat/core';
import { resolveModelDir, writeSafetensors } from '@lat/core/node';
import { describe, expect, it } from 'vitest';
import { parseModelConfig, toHfConfig } from './architectures/config.js';
import { createRandomWeights, toHfNames } from './architectures/weights.js';
import { loadModelDir, tokenizerOf } from './model-dir.js';
import { tinyModel, writeModelDir } from './testing/tiny-model.js';

const config = parseModelConfig({
  model_type: 'bert',
  vocab_size: 8,
  hidden_size: 4,
  num_hidden_layers: 1,
  num_attention_heads: 1,
  intermediate_size: 8,
  max_position_embeddings: 8,
});

/** The hub cache layout: files are symlinks from snapshots/<commit>/ into blobs/. */
function hubCacheEntry(root: string, commits: string[], main?: string): string {
  const entry = join(root, 'models--org--tiny');
  mkdirSync(join(entry, 'blobs'), { recursive: true });
  writeFileSync(join(entry, 'blobs', 'cfg'), JSON.stringify(toHfConfig(config)));
  writeSafetensors(join(entry, 'blobs', 'st'), toHfNames(createRandomWeights(config, 1), config));
  for (const c of commits) {
    mkdirSync(join(entry, 'snapshots', c), { recursive: true });
    symlinkSync('../../blobs/cfg', join(entry, 'snapshots', c, 'config.json'));
    symlinkSync('../../blobs/st', join(entry, 'snapshots', c, 'model.safetensors'));
  }
  if (main) {
    mkdirSync(join(entry, 'refs'));
    writeFileSync(join(entry, 'refs', 'main'), `${main}\n`);
  }
  return entry;
}

function error(f: () => unknown) {
  try {
    f();
  } catch (e) {
    if (isLatError(e)) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('model folders users already have', () => {
  it('reads a Hugging Face hub cache entry from the snapshot refs/main names (or its only one)', () => {
    const root = mkdtempSync(join(tmpdir(), 'lat-hf-'));
    const entry = hubCacheEntry(root, ['aaa', 'bbb'], 'bbb');
    const m = loadModelDir(entry);
    expect(m.dir).toBe(join(entry, 'snapshots', 'bbb'));
    expect(m.config.hiddenSize).toBe(4);
    expect(loadModelDir(join(entry, 'snapshots', 'aaa')).weights.size).toBe(m.weights.size);
    const single = hubCacheEntry(mkdtempSync(join(tmpdir(), 'lat-hf-')), ['only']);
    expect(resolveModelDir(single)).toBe(join(single, 'snapshots', 'only'));
  });

  it('asks which snapshot when several exist and refs/main is missing', () => {
    const entry = hubCacheEntry(mkdtempSync(join(tmpdir(), 'lat-hf-')), ['aaa', 'bbb']);
    const e = error(() => loadModelDir(entry));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toMatch(/2 snapshots and no refs\/main: pass one of .*snapshots\/aaa/);
  });

  it('says what to download instead of an ONNX-only (transformers.js) repository', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lat-onnx-only-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(config)));
    mkdirSync(join(dir, 'onnx'));
    writeFileSync(join(dir, 'onnx', 'model_quantized.onnx'), '');
    const e = error(() => loadModelDir(dir));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.where).toBe(dir);
    expect(e.message).toContain('ONNX-only model (onnx/model_quantized.onnx');
    expect(e.message).toContain('model.safetensors or pytorch_model.bin');
  });
});

describe('the tokenizer comes from the architecture registry', () => {
  const dirOf = (m: ReturnType<typeof tinyModel>) =>
    writeModelDir(mkdtempSync(join(tmpdir(), 'lat-tok-')), m);

  it('reads WordPiece for BERT and byte-level BPE for RoBERTa', () => {
    expect(loadModelDir(dirOf(tinyModel())).tokenizer?.kind).toBe('wordpiece');
    expect(loadModelDir(dirOf(tinyModel({ architecture: 'roberta' }))).tokenizer?.kind).toBe('bpe');
  });

  it('reads a RoBERTa whose tokenizer was saved as vocab.json + merges.txt (no tokenizer.json)', () => {
    const roberta = tinyModel({ architecture: 'roberta' });
    const json = JSON.parse(roberta.tokenizerFiles['tokenizer.json']!);
    const dir = dirOf({
      ...roberta,
      tokenizerFiles: {
        'vocab.json': JSON.stringify(json.model.vocab),
        'merges.txt': `#version: 0.2\n${json.model.merges.join('\n')}\n`,
      },
    });
    const tokenizer = loadModelDir(dir).tokenizer!;
    expect(tokenizer.kind).toBe('bpe');
    expect(tokenizer.encode('a gripping film, Über-fans!')).toEqual(
      roberta.tokenizer.encode('a gripping film, Über-fans!'),
    );
  });

  it('refuses a tokenizer of the wrong kind, and says which files a model without one needs', () => {
    const roberta = tinyModel({ architecture: 'roberta' });
    // A RoBERTa config next to a WordPiece vocabulary (vocab.txt is not what RoBERTa reads) …
    const wrong = dirOf({ ...roberta, tokenizerFiles: { 'vocab.txt': 'a\nb\n' } });
    const m = loadModelDir(wrong);
    expect(m.tokenizer).toBeUndefined();
    const missing = error(() => tokenizerOf(m));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.message).toMatch(/no tokenizer: add its tokenizer.json \(or vocab.json \+ merges.txt\)/);
    // … or a WordPiece tokenizer.json.
    const bert = tinyModel();
    const json = {
      model: { type: 'WordPiece', vocab: Object.fromEntries(bert.tokenizer.vocab.map((t, i) => [t, i])) },
    };
    writeFileSync(join(wrong, 'tokenizer.json'), JSON.stringify(json));
    const e = error(() => loadModelDir(wrong));
    expect(e.code).toBe('BAD_FILE');
    expect(e.message).toMatch(
      /tokenizer.json#model.type: holds a wordpiece tokenizer but config.json's model_type uses bpe/,
    );
    rmSync(wrong, { recursive: true });
  });
});
