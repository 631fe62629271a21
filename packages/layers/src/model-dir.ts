/** Loading a Hugging Face model directory through the architecture registry (Node only). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LatError, type StateDict, type Tokenizer, tokenizerFromJson, WordPieceTokenizer } from '@lat/core';
import { onnxOnlyHint, readJson, readPytorchBin, readSafetensors, resolveModelDir } from '@lat/core/node';
import { type ModelConfig, parseModelConfig } from './architectures/config.js';
import { type Heads, toCanonical, type UnusedTensors } from './architectures/weights.js';

/** A model folder as loaded: config, canonical weights, vocabulary and casing. */
export interface LoadedModel {
  dir: string;
  config: ModelConfig;
  weights: StateDict;
  /** vocab.txt lines, when the directory has one. */
  vocab?: string[];
  doLowerCase: boolean;
}

/**
 * The directory's tokenizer: WordPiece from vocab.txt (+ tokenizer_config.json's casing), else
 * tokenizer.json (WordPiece or byte-level BPE, e.g. RoBERTa).
 */
export function loadTokenizer(dir: string): Tokenizer {
  const tokCfgPath = join(dir, 'tokenizer_config.json');
  const tokCfg = existsSync(tokCfgPath) ? (readJson(tokCfgPath) as Record<string, unknown>) : {};
  const vocab = readVocab(dir);
  if (vocab)
    return new WordPieceTokenizer(vocab, {
      doLowerCase: tokCfg['do_lower_case'] !== false,
      where: join(dir, 'vocab.txt'),
    });
  const json = join(dir, 'tokenizer.json');
  if (existsSync(json)) return tokenizerFromJson(readJson(json), tokCfg, json);
  throw new LatError('NOT_FOUND', 'the model directory has no vocab.txt or tokenizer.json', dir);
}

function readVocab(dir: string): string[] | undefined {
  const vocabPath = join(dir, 'vocab.txt');
  return existsSync(vocabPath)
    ? readFileSync(vocabPath, 'utf8')
        .split(/\r?\n/)
        .filter((l, i, a) => l !== '' || i < a.length - 1)
    : undefined;
}

/**
 * Loads a Hugging Face model directory: config.json, model.safetensors, vocab.txt. A hub cache
 * entry (`models--org--name`) is read from its current snapshot; `dir` in the result is that folder.
 */
export function loadModelDir(modelDir: string, heads: Heads = {}, unused: UnusedTensors = {}): LoadedModel {
  const dir = existsSync(modelDir) ? resolveModelDir(modelDir) : modelDir;
  if (!existsSync(dir))
    throw new LatError('NOT_FOUND', 'no such directory; pass a Hugging Face model directory', dir);
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) {
    throw new LatError('NOT_FOUND', onnxOnlyHint(dir) ?? 'not a model directory: it has no config.json', dir);
  }
  const config = parseModelConfig(readJson(configPath), configPath);
  // safetensors when present (safe by construction), else PyTorch's .bin via the restricted unpickler.
  const st = join(dir, 'model.safetensors');
  const bin = join(dir, 'pytorch_model.bin');
  const file = existsSync(st) ? st : existsSync(bin) ? bin : undefined;
  if (!file) {
    throw new LatError(
      'NOT_FOUND',
      onnxOnlyHint(dir) ?? 'the model directory has no model.safetensors or pytorch_model.bin',
      dir,
    );
  }
  const weights = toCanonical(
    file === st ? readSafetensors(st) : readPytorchBin(bin),
    config,
    file,
    heads,
    unused,
  );
  const vocab = readVocab(dir);
  const tokCfgPath = join(dir, 'tokenizer_config.json');
  const tokCfg = existsSync(tokCfgPath) ? (readJson(tokCfgPath) as Record<string, unknown>) : {};
  return {
    dir,
    config,
    weights,
    ...(vocab ? { vocab } : {}),
    doLowerCase: tokCfg['do_lower_case'] !== false,
  };
}
