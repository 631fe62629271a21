import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LatError } from '../errors.js';
import { type ModelConfig, parseModelConfig } from './config.js';
import { onnxOnlyHint, resolveModelDir } from './hf-cache.js';
import { readSafetensors } from './safetensors.js';
import { readPytorchBin } from './torch-bin.js';
import { type StateDict, toCanonical, type UnusedTensors } from './weights.js';

/** A model folder as loaded: config, canonical weights, vocabulary and casing. */
export interface LoadedModel {
  dir: string;
  config: ModelConfig;
  weights: StateDict;
  /** vocab.txt lines, when the directory has one. */
  vocab?: string[];
  doLowerCase: boolean;
}

/** Reads a JSON file; LatError NOT_FOUND / BAD_FILE naming the file otherwise. */
export function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LatError('NOT_FOUND', `cannot read (${(e as Error).message})`, path);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LatError('BAD_FILE', `not valid JSON (${(e as Error).message})`, path);
  }
}

/**
 * Loads a Hugging Face model directory: config.json, model.safetensors, vocab.txt. A hub cache
 * entry (`models--org--name`) is read from its current snapshot; `dir` in the result is that folder.
 */
export function loadModelDir(
  modelDir: string,
  heads: { classifier?: boolean; qa?: boolean } = {},
  unused: UnusedTensors = {},
): LoadedModel {
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
  const vocabPath = join(dir, 'vocab.txt');
  const vocab = existsSync(vocabPath)
    ? readFileSync(vocabPath, 'utf8')
        .split(/\r?\n/)
        .filter((l, i, a) => l !== '' || i < a.length - 1)
    : undefined;
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
