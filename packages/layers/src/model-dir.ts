/** Loading a Hugging Face model directory through the architecture registry (Node only). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  bpeFromVocabMerges,
  LatError,
  type StateDict,
  type Tokenizer,
  type TokenizerKind,
  tokenizerFromJson,
  WordPieceTokenizer,
} from '@lat/core';
import { onnxOnlyHint, readJson, readPytorchBin, readSafetensors, resolveModelDir } from '@lat/core/node';
import { type ModelConfig, parseModelConfig } from './architectures/config.js';
import { architectureOf } from './architectures/index.js';
import { type Heads, toCanonical, type UnusedTensors } from './architectures/weights.js';

/** A model folder as loaded: config, canonical weights and tokenizer. */
export interface LoadedModel {
  dir: string;
  config: ModelConfig;
  weights: StateDict;
  /** The tokenizer its architecture uses, when the directory has its files. */
  tokenizer?: Tokenizer;
}

/** Reads one form of tokenizer files from a directory; undefined when they are not there. */
type TokenizerReader = (dir: string, config: Record<string, unknown>) => Tokenizer | undefined;

const vocabTxt: TokenizerReader = (dir, config) => {
  const path = join(dir, 'vocab.txt');
  if (!existsSync(path)) return undefined;
  const vocab = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .filter((l, i, a) => l !== '' || i < a.length - 1);
  return new WordPieceTokenizer(vocab, { doLowerCase: config['do_lower_case'] !== false, where: path });
};

const tokenizerJson: TokenizerReader = (dir, config) => {
  const path = join(dir, 'tokenizer.json');
  return existsSync(path) ? tokenizerFromJson(readJson(path), config, path) : undefined;
};

const vocabJsonMerges: TokenizerReader = (dir, config) => {
  const [vocab, merges] = [join(dir, 'vocab.json'), join(dir, 'merges.txt')];
  if (!existsSync(vocab) || !existsSync(merges)) return undefined;
  return bpeFromVocabMerges(readJson(vocab), readFileSync(merges, 'utf8'), config, { vocab, merges });
};

/** Where each kind of tokenizer is read from, first choice first. */
const tokenizerSources: Record<TokenizerKind, { files: string; readers: TokenizerReader[] }> = {
  wordpiece: { files: 'vocab.txt or tokenizer.json', readers: [vocabTxt, tokenizerJson] },
  bpe: { files: 'tokenizer.json (or vocab.json + merges.txt)', readers: [tokenizerJson, vocabJsonMerges] },
};

/**
 * The directory's tokenizer, of the kind its architecture uses (see `Architecture.tokenizer`):
 * WordPiece from vocab.txt (+ tokenizer_config.json's casing) or tokenizer.json, byte-level BPE
 * from tokenizer.json or a slow tokenizer's vocab.json + merges.txt. Without `kind`, whichever
 * the files hold.
 */
export function loadTokenizer(dir: string, kind?: TokenizerKind): Tokenizer {
  return findTokenizer(dir, kind) ?? noTokenizer(dir, kind);
}

/** A loaded model's tokenizer; an error saying which files to add when its directory had none. */
export function tokenizerOf(m: LoadedModel): Tokenizer {
  return m.tokenizer ?? noTokenizer(m.dir, architectureOf(m.config).tokenizer);
}

function noTokenizer(dir: string, kind: TokenizerKind = 'wordpiece'): never {
  throw new LatError(
    'NOT_FOUND',
    `the model directory has no tokenizer: add its ${tokenizerSources[kind].files} (save the tokenizer with the model)`,
    dir,
  );
}

/** {@link loadTokenizer}, or undefined when the directory has no tokenizer files. */
function findTokenizer(dir: string, kind?: TokenizerKind): Tokenizer | undefined {
  const configPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(configPath) ? (readJson(configPath) as Record<string, unknown>) : {};
  const readers = kind ? tokenizerSources[kind].readers : [vocabTxt, tokenizerJson, vocabJsonMerges];
  for (const read of readers) {
    const tokenizer = read(dir, config);
    if (!tokenizer) continue;
    // tokenizer.json holds either kind: it must be the one the architecture uses.
    if (kind && tokenizer.kind !== kind)
      throw new LatError(
        'BAD_FILE',
        `holds a ${tokenizer.kind} tokenizer but config.json's model_type uses ${kind}; use the tokenizer the model was trained with`,
        `${join(dir, 'tokenizer.json')}#model.type`,
      );
    return tokenizer;
  }
  return undefined;
}

/**
 * Loads a Hugging Face model directory: config.json, model.safetensors | pytorch_model.bin and
 * the tokenizer's files its architecture uses, when present. A hub cache
 * entry (`models--org--name`) is read from its current snapshot; `dir` in the result is that folder.
 */
export function loadModelDir(modelDir: string, heads: Heads = {}, unused: UnusedTensors = {}): LoadedModel {
  const { dir, config } = readDirConfig(modelDir);
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
  const tokenizer = findTokenizer(dir, architectureOf(config).tokenizer);
  return { dir, config, weights, ...(tokenizer ? { tokenizer } : {}) };
}

/**
 * Only the tokenizer of a model directory: config.json (for the kind of tokenizer its architecture
 * uses) and the tokenizer's files; the weights are not read. An error names the files to add.
 */
export function loadModelDirTokenizer(modelDir: string): Tokenizer {
  const { dir, config } = readDirConfig(modelDir);
  return loadTokenizer(dir, architectureOf(config).tokenizer);
}

/** The folder a model directory (or hub cache entry) stands for, and its parsed config.json. */
function readDirConfig(modelDir: string): { dir: string; config: ModelConfig } {
  const dir = existsSync(modelDir) ? resolveModelDir(modelDir) : modelDir;
  if (!existsSync(dir))
    throw new LatError('NOT_FOUND', 'no such directory; pass a Hugging Face model directory', dir);
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) {
    throw new LatError('NOT_FOUND', onnxOnlyHint(dir) ?? 'not a model directory: it has no config.json', dir);
  }
  return { dir, config: parseModelConfig(readJson(configPath), configPath) };
}
