/**
 * Node-only parts of @lat/pipeline: reading model directories and bundle directories from disk.
 * Browser code never imports this module.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { bundleManifestFile, LatError, parseBundleManifest, type Tokenizer } from '@lat/core';
import { readJson, readSafetensors } from '@lat/core/node';
import {
  adaplerEta,
  adaplerWeightsFile,
  checkAdaplerWeights,
  type ModelDtype,
  type UnusedTensors,
} from '@lat/layers';
import { type LoadedModel, loadModelDir, loadModelDirTokenizer, tokenizerOf } from '@lat/layers/node';
import { type LoadedBundle, readBundle, tokenizerFromManifest } from './bundle.js';
import type { ModelFiles } from './model.js';

/** What `lat train` records next to the weights, so later commands know the task. */
export interface TrainingInfo {
  task: string;
  metrics: string[];
  maxLength: number;
  lengthDrop: unknown;
  /** How the weights were trained (the CLI's recipe record; absent in older files). */
  recipe?: unknown;
  /** SQuAD v2: the null-score threshold tuned on dev (answer "" when null beats the best span by more). */
  nullThreshold?: number;
}

export const trainingInfoFile = 'lat_training.json';
export const frontierFile = 'frontier.json';
/** The frontier of the model's q8 graph (`lat search --dtype q8`): a quantised model gets its own. */
export const q8FrontierFile = 'frontier-q8.json';

/** The frontier file a model directory keeps for a dtype. */
export function frontierFileFor(dtype: ModelDtype): string {
  return dtype === 'q8' ? q8FrontierFile : frontierFile;
}

/** A Hugging Face model directory read from disk, with its tokenizer and what lat knows of it. */
export interface ModelDir extends LoadedModel {
  /** WordPiece or byte-level BPE, as the architecture's registry entry says. */
  tokenizer: Tokenizer;
  /** A short hash of the weights file. */
  fingerprint: string;
  info?: TrainingInfo;
  name: string;
  /** A span (question-answering) model. */
  span: boolean;
  /** AdapLeR models (adapler.safetensors next to the weights, read into `weights`): η per layer. */
  adapler?: { eta: number[] };
}

/**
 * Reads a model directory (config.json, model.safetensors | pytorch_model.bin, the tokenizer's
 * vocab.txt or tokenizer.json, and lat_training.json when lat trained it). `span` loads the question-answering head instead of
 * the classifier; by default, span when lat trained it on SQuAD. Missing heads are left missing;
 * `unused` says what to do with tensors config.json has no place for (an error by default).
 */
export async function readModelDir(
  dir: string,
  o: { span?: boolean; unused?: UnusedTensors } = {},
): Promise<ModelDir> {
  const info = readTrainingInfo(dir);
  const span = o.span ?? info?.task === 'squad';
  const m = loadModelDir(dir, span ? { qa: true, classifier: false } : {}, o.unused);
  const weightsFile = existsSync(join(dir, 'model.safetensors')) ? 'model.safetensors' : 'pytorch_model.bin';
  // An AdapLeR model keeps its predictors and η beside the plain Hugging Face checkpoint.
  const adaplerFile = join(m.dir, adaplerWeightsFile);
  let adapler: { eta: number[] } | undefined;
  if (existsSync(adaplerFile)) {
    for (const [name, t] of readSafetensors(adaplerFile)) m.weights.set(name, t);
    checkAdaplerWeights(m.weights, m.config, adaplerFile);
    adapler = { eta: adaplerEta(m.weights) };
  }
  return {
    ...m,
    ...(adapler ? { adapler } : {}),
    tokenizer: tokenizerOf(m),
    span,
    fingerprint: await weightsFingerprint(join(dir, weightsFile)),
    ...(info ? { info } : {}),
    name: basename(resolve(dir)),
  };
}

/** lat_training.json of a model directory lat trained; undefined for other directories. */
function readTrainingInfo(dir: string): TrainingInfo | undefined {
  const infoPath = join(dir, trainingInfoFile);
  const info = existsSync(infoPath) ? (readJson(infoPath) as TrainingInfo) : undefined;
  const threshold = info?.nullThreshold;
  if (threshold !== undefined && !(typeof threshold === 'number' && Number.isFinite(threshold)))
    throw new LatError(
      'BAD_FILE',
      'nullThreshold must be a finite number; tune it again with lat train --task squad on SQuAD v2 dev data',
      `${infoPath}#nullThreshold`,
    );
  return info;
}

/** What tokenising a model's inputs takes: its tokenizer and its longest input, when recorded. */
export interface ModelTokenizer {
  tokenizer: Tokenizer;
  /** Tokens beyond this are truncated (a bundle's, or the training length lat_training.json records). */
  maxLength?: number;
}

/**
 * The tokenizer of a model directory or bundle directory, without reading its weights or graph:
 * for a bundle, lat.json; for a model directory, config.json (the architecture names the kind of
 * tokenizer), the tokenizer's files and lat_training.json. For a process that tokenises while
 * another one runs the model (a server's HTTP thread).
 */
export function readTokenizer(path: string): ModelTokenizer {
  const manifestPath = join(path, bundleManifestFile);
  if (existsSync(manifestPath)) {
    const manifest = parseBundleManifest(readJson(manifestPath), manifestPath);
    return {
      tokenizer: tokenizerFromManifest(manifest, manifestPath),
      maxLength: manifest.tokenizer.maxLength,
    };
  }
  const tokenizer = loadModelDirTokenizer(path);
  const maxLength = readTrainingInfo(path)?.maxLength;
  return { tokenizer, ...(maxLength ? { maxLength } : {}) };
}

/** A short hash of a weights file: frontiers remember which weights they were made on. */
export function weightsFingerprint(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex').slice(0, 16)))
      .on('error', reject);
  });
}

/** The frontier file's content: `path`, or frontier.json in the model directory when there is one. */
export function readFrontierJson(dir: string, path?: string, dtype: ModelDtype = 'fp32'): unknown {
  const p = path ?? join(dir, frontierFileFor(dtype));
  if (!existsSync(p)) {
    if (path) throw new LatError('NOT_FOUND', 'no such frontier file; run `lat search` first', path);
    return undefined;
  }
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    throw new LatError('BAD_FILE', 'not valid JSON; run `lat search` to make a frontier file', p);
  }
}

/** Reads a bundle directory written by `lat export` (lat.json and the graph it names). */
export function readBundleDir(dir: string): Promise<LoadedBundle> {
  const manifestPath = join(dir, bundleManifestFile);
  const manifest = readJson(manifestPath);
  const graph = (manifest as { graph?: unknown })?.graph;
  const graphPath = join(dir, typeof graph === 'string' ? basename(graph) : 'model.onnx');
  if (!existsSync(graphPath))
    throw new LatError(
      'NOT_FOUND',
      "the bundle's graph is missing; re-export it with `lat export`",
      graphPath,
    );
  return readBundle({ manifest, model: readFileSync(graphPath) }, manifestPath);
}

/** A model directory as a pipeline source: weights, tokenizer, task, longest input, frontier. */
export function modelDirFiles(m: ModelDir, frontier?: unknown, q8Frontier?: unknown): ModelFiles {
  const task = m.info
    ? m.info.task === 'squad'
      ? 'span'
      : m.config.numLabels === 1
        ? 'regression'
        : 'classification'
    : undefined;
  return {
    name: m.name,
    config: m.config,
    tokenizer: m.tokenizer,
    weights: m.weights,
    fingerprint: m.fingerprint,
    ...(task ? { task } : {}),
    ...(m.info?.maxLength ? { maxLength: m.info.maxLength } : {}),
    ...(m.info?.nullThreshold !== undefined ? { nullThreshold: m.info.nullThreshold } : {}),
    ...(m.adapler ? { adapler: m.adapler } : {}),
    ...(frontier !== undefined ? { frontier } : {}),
    ...(q8Frontier !== undefined ? { q8Frontier } : {}),
  };
}
