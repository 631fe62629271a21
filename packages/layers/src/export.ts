/**
 * exportModel(): the standalone bundle — `model.onnx` (the anytime graph, weights inside) and its
 * `lat.json` sidecar (model dims, task, tokenizer, graph I/O, optional frontier) —
 * loadable by any ORT runtime without this library. Written to a temporary directory and renamed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  type BundleManifest,
  bundleManifestFile,
  bundleSchemaVersion,
  LatError,
  type StateDict,
  type Tokenizer,
  toModelProto,
} from '@lat/core';
import { buildAnytimeGraph } from './anytime.js';
import type { ModelConfig } from './architectures/index.js';
import { encoderInputs } from './encoder.js';
import {
  dtypeFingerprint,
  type Int8Weights,
  type ModelDtype,
  parseInt8Weights,
  parseModelDtype,
} from './quantize.js';
import {
  type AdaplerSetting,
  adaplerBundleSection,
  adaplerReducer,
  checkAdaplerWeights,
  hasAdaplerWeights,
} from './reducers/adapler.js';
import { keepCountsInput } from './reducers/lat.js';
import { pooledLatLayers } from './reducers/pooling.js';

/** What `exportModel` writes into `lat.json` besides the model's dimensions. */
export interface ExportOptions {
  name: string;
  fingerprint: string;
  task: BundleManifest['task'];
  /** The model's tokenizer, stored whole in lat.json (WordPiece or byte-level BPE). */
  tokenizer: Tokenizer;
  /** Longest input in tokens. */
  maxLength: number;
  frontier?: unknown;
  examples?: string[];
  /** q8: int8 dynamic quantisation of the encoder's linears (the bundle's fingerprint says so too). */
  dtype?: ModelDtype;
  /** q8: the int8 weights' layout (lat.json records it; the q8 frontier serves both layouts). */
  int8Weights?: Int8Weights;
}

/** The graph's input and output names with what they hold, for `lat.json`. */
export function graphIoDocs(
  config: ModelConfig,
  head: 'classification' | 'span',
  adaplerModel = false,
): BundleManifest['io'] {
  const inputs: Record<string, string> = {
    [encoderInputs.inputIds]: 'int64 [batch, seq] token ids',
    [encoderInputs.attentionMask]: 'int64 [batch, seq] 1 for real tokens, 0 for padding',
  };
  // A pooled model takes keep counts only for the layers after its last pooling; an AdapLeR
  // model picks each input's counts itself.
  const pooledLat = pooledLatLayers(config);
  if (!config.pooling && !adaplerModel)
    inputs[keepCountsInput] =
      `int64 [batch, ${config.numLayers}] tokens each layer keeps per example (non-increasing; the full length keeps all)`;
  else if (pooledLat)
    inputs[keepCountsInput] =
      `int64 [batch, ${config.numLayers}] rows each layer keeps per example: the pooling schedule's up to layer ${pooledLat.from - 1}, then at most ${pooledLat.width} (LAT lengths)`;
  if (config.typeVocabSize > 0) inputs[encoderInputs.tokenTypeIds] = 'int64 [batch, seq] segment ids';
  const outputs: Record<string, string> =
    head === 'classification'
      ? { logits: `float32 [batch, ${config.numLabels}]` }
      : { start_logits: 'float32 [batch, seq]', end_logits: 'float32 [batch, seq]' };
  for (let i = 0; i < config.numLayers; i++)
    outputs[`kept_positions_${i}`] =
      'int64 [batch, k] original positions kept by this layer, -1 for unused slots';
  return { inputs, outputs };
}

/**
 * Writes a bundle folder atomically: `model.onnx` (weights inside, passes onnx.checker) and `lat.json`.
 * Weights with AdapLeR's predictors and η export an AdapLeR graph (hard per-input removal, no
 * keep-count input) and lat.json's `model.adapler` section.
 */
export function exportModel(
  dir: string,
  config: ModelConfig,
  weights: StateDict,
  o: ExportOptions,
): BundleManifest {
  const head = o.task.type === 'span' ? 'span' : 'classification';
  const dtype = parseModelDtype(o.dtype ?? 'fp32');
  const fingerprint = dtypeFingerprint(o.fingerprint, dtype);
  const int8Weights = dtype === 'q8' ? parseInt8Weights(o.int8Weights ?? 'per-channel-7bit') : undefined;
  const quantization = int8Weights ? { dtype, int8Weights } : { dtype };
  const adaplerModel = hasAdaplerWeights(weights);
  if (adaplerModel) checkAdaplerWeights(weights, config, o.name);
  const graph = adaplerModel
    ? buildAnytimeGraph<AdaplerSetting>(config, weights, { head, ...quantization, reducer: adaplerReducer })
    : buildAnytimeGraph(config, weights, { head, keptPositions: true, ...quantization });
  const model = toModelProto(graph, {
    producer: 'lat',
    metadata: {
      'lat.name': o.name,
      'lat.fingerprint': fingerprint,
      'lat.dtype': dtype,
      ...(int8Weights ? { 'lat.int8Weights': int8Weights } : {}),
    },
  });
  const manifest: BundleManifest = {
    schemaVersion: bundleSchemaVersion,
    kind: 'lat-bundle',
    graph: 'model.onnx',
    graphSha256: createHash('sha256').update(model).digest('hex'),
    model: {
      name: o.name,
      architecture: config.architecture,
      numLayers: config.numLayers,
      hiddenSize: config.hiddenSize,
      numHeads: config.numHeads,
      intermediateSize: config.intermediateSize,
      vocabSize: config.vocabSize,
      maxPositions: config.maxPositions,
      fingerprint,
      typeVocabSize: config.typeVocabSize,
      padTokenId: config.padTokenId,
      positionOffset: config.positionOffset,
      layerNormEps: config.layerNormEps,
      hiddenAct: config.hiddenAct,
      dtype,
      ...(int8Weights ? { int8Weights } : {}),
      ...(config.layers ? { layers: config.layers } : {}),
      ...(config.pooling
        ? {
            pooling: {
              schedule: config.pooling.schedule.map(([l, w]) => [l, w] as [number, number]),
              inputLength: config.pooling.inputLength,
              ...(config.pooling.operator ? { operator: config.pooling.operator } : {}),
              ...(config.pooling.chunk ? { chunk: config.pooling.chunk } : {}),
              ...(config.pooling.pooledChunk ? { pooledChunk: config.pooling.pooledChunk } : {}),
              ...(config.pooling.globalTokens ? { globalTokens: config.pooling.globalTokens } : {}),
              ...(config.pooling.keepFirstSegment ? { keepFirstSegment: true } : {}),
            },
          }
        : {}),
      ...(adaplerModel ? { adapler: adaplerBundleSection(config, weights) } : {}),
    },
    task: o.task,
    io: graphIoDocs(config, head, adaplerModel),
    // No longer than the position table allows (RoBERTa's starts at padding_idx + 1).
    tokenizer: {
      ...o.tokenizer.spec(),
      maxLength: Math.min(o.maxLength, config.maxPositions - config.positionOffset),
    },
    ...(o.frontier ? { frontier: o.frontier } : {}),
    ...(o.examples ? { examples: o.examples } : {}),
  };
  // The directory is replaced whole: never a file or a directory that is not a bundle.
  if (
    existsSync(dir) &&
    (!statSync(dir).isDirectory() || (readdirSync(dir).length && !existsSync(join(dir, bundleManifestFile))))
  )
    throw new LatError(
      'BAD_INPUT',
      'exists and is not a bundle directory; refusing to replace it (choose another --out)',
      dir,
    );
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = join(dirname(dir), `.${Date.now()}-${process.pid}.lat-export`);
  mkdirSync(tmp);
  writeFileSync(join(tmp, 'model.onnx'), model);
  writeFileSync(join(tmp, bundleManifestFile), `${JSON.stringify(manifest)}\n`);
  if (existsSync(dir)) rmSync(dir, { recursive: true });
  renameSync(tmp, dir);
  return manifest;
}
