/**
 * The model bundle: a standalone `model.onnx` plus this JSON sidecar (`lat.json`), written by
 * `lat export` / `exportModel()` and read by the CLI, the playground and any ORT user. Pure data
 * and validation only (no file system), so browsers can use it too: `parseBundleManifest` checks
 * the manifest, `checkBundleGraph` the graph bytes against it (sha256, inputs, outputs, layers).
 */

import { fromBinary } from '@bufbuild/protobuf';
import type { LayerShape } from './cost.js';
import { LatError } from './errors.js';
import { type ModelProto, ModelProtoSchema, type TensorProto, type ValueInfoProto } from './onnx/index.js';
import { checkTokenizerSpec, type TokenizerSpec } from './tokenizers/spec.js';

/**
 * The `schemaVersion` of the bundle manifests this version writes. 2 added byte-level BPE
 * tokenizers (`tokenizer.type: "bpe"`); version 1 manifests (WordPiece only) still load.
 */
export const bundleSchemaVersion = 2;
/** The manifest versions this version reads. */
export const readableBundleSchemaVersions: readonly number[] = [1, 2];
/** The manifest's file name inside a bundle folder, next to the ONNX graph. */
export const bundleManifestFile = 'lat.json';

/** `lat.json`: everything needed to run `model.onnx` without lat — model dims, task, tokenizer, graph I/O, frontier. */
export interface BundleManifest {
  schemaVersion: 1 | 2;
  kind: 'lat-bundle';
  /** File name of the ONNX graph, next to the manifest. */
  graph: string;
  /** sha256 (hex) of the graph file: a truncated or altered model.onnx is refused. */
  graphSha256?: string;
  model: {
    name: string;
    architecture: 'bert' | 'distilbert' | 'roberta';
    numLayers: number;
    hiddenSize: number;
    numHeads: number;
    intermediateSize: number;
    vocabSize: number;
    maxPositions: number;
    /** A hash of the weights, so frontiers made on other weights are refused. */
    fingerprint: string;
    /** What host code needs to feed the graph and count its cost (absent in older bundles). */
    typeVocabSize?: number;
    padTokenId?: number;
    /** RoBERTa numbers positions from padTokenId + 1. */
    positionOffset?: number;
    layerNormEps?: number;
    hiddenAct?: 'gelu' | 'gelu_new' | 'relu';
    /** q8: the encoder's linears are int8 (dynamic quantisation); absent in fp32 and older bundles. */
    dtype?: 'fp32' | 'q8';
    /** q8: the int8 weights' layout; absent in fp32 and older bundles (those are per-channel 7-bit). */
    int8Weights?: 'per-channel-7bit' | 'per-tensor-8bit';
    /** AxFormer-pruned models: what survives per layer (the graph has it built in; costs need it). */
    layers?: LayerShape[];
    /** A pooled model's schedule: [layer, width] pairs halving from `inputLength` (see @lat/layers). */
    pooling?: {
      schedule: [number, number][];
      inputLength: number;
      operator?: 'halving' | 'iterative';
      chunk?: number;
      /** Blockwise attention in blocks of this many kept rows after the first pooling. */
      pooledChunk?: number;
      /** Global rows of the blockwise layers: the first segment within the first globalTokens. */
      globalTokens?: number;
      /** Span QA: the first segment ([CLS] question [SEP]) passes every pooling unmerged. */
      keepFirstSegment?: boolean;
    };
    /** AdapLeR models (per-input token removal): their thresholds and where the graph holds its predictors. */
    adapler?: BundleAdapler;
  };
  task: {
    type: 'classification' | 'regression' | 'span';
    labels: string[];
    /** SQuAD v2 span models: answer "" when the null score beats the best span by more than this (tuned on dev). */
    nullThreshold?: number;
  };
  /** Graph input/output names and what they hold, for plain ORT users. */
  io: { inputs: Record<string, string>; outputs: Record<string, string> };
  tokenizer: BundleTokenizer;
  /** The frontier file content (from @lat/search), when one was made. */
  frontier?: unknown;
  /** Example inputs to show in the playground. */
  examples?: string[];
}

/**
 * An AdapLeR bundle's section (`model.adapler`): the graph removes tokens per input with one
 * Contribution Predictor per layer and keeps a token when its predicted contribution is at least
 * η_i / n_i. The predictors and η are initializers of the graph; lat.json names them so a plain
 * ORT user (and `checkBundleGraph`) can find them, and repeats η so it can be read without the graph.
 */
export interface BundleAdapler {
  /** η per layer, each in [0.01, 1] (what training keeps it in). */
  eta: number[];
  /** The graph initializer holding η ([numLayers]). */
  etaInitializer: string;
  /** Hidden width of every predictor (Linear(d→w) → GELU → Linear(w→1)). */
  predictorWidth: number;
  /** Per layer, the initializers of its predictor: hidden weight [w, d], hidden bias [w], out weight [1, w], out bias [1]. */
  predictors: string[][];
}

/** The range AdapLeR's thresholds η are kept in by training; outside it a file was edited or damaged. */
export const adaplerEtaRange = [0.01, 1] as const;

/** Whether a stored η lies in {@link adaplerEtaRange}: η is float32, so 0.01 reads back as 0.00999999977. */
export function adaplerEtaInRange(eta: number): boolean {
  return eta >= Math.fround(adaplerEtaRange[0]) && eta <= Math.fround(adaplerEtaRange[1]);
}

/** The manifest's tokenizer: a WordPiece or BPE tokenizer's spec and the longest input in tokens. */
export type BundleTokenizer = TokenizerSpec & { maxLength: number };

/** Checks a parsed manifest's shape; throws LatError naming the field and the fix. */
export function parseBundleManifest(value: unknown, where = bundleManifestFile): BundleManifest {
  const fail = (field: string, msg: string): never => {
    throw new LatError('BAD_FILE', `${msg} (re-export the bundle with \`lat export\`)`, `${where}#${field}`);
  };
  if (typeof value !== 'object' || value === null) return fail('', 'not a JSON object');
  const m = value as Record<string, unknown>;
  if (m['kind'] !== 'lat-bundle') fail('kind', `expected "lat-bundle", got ${JSON.stringify(m['kind'])}`);
  if (!readableBundleSchemaVersions.includes(m['schemaVersion'] as number)) {
    fail(
      'schemaVersion',
      `this version reads schemas ${readableBundleSchemaVersions.join(' and ')}, got ${JSON.stringify(m['schemaVersion'])}`,
    );
  }
  if (typeof m['graph'] !== 'string' || !m['graph']) fail('graph', 'missing the ONNX file name');
  const model = m['model'] as Record<string, unknown> | undefined;
  if (typeof model !== 'object' || model === null) return fail('model', 'missing');
  for (const k of ['numLayers', 'hiddenSize', 'numHeads', 'intermediateSize', 'vocabSize', 'maxPositions']) {
    const v = model[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      fail(`model.${k}`, 'must be a positive integer');
  }
  for (const k of ['typeVocabSize', 'padTokenId', 'positionOffset']) {
    const v = model[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0))
      fail(`model.${k}`, 'must be a whole number ≥ 0');
  }
  const eps = model['layerNormEps'];
  if (eps !== undefined && !(typeof eps === 'number' && eps > 0)) fail('model.layerNormEps', 'must be > 0');
  const act = model['hiddenAct'];
  if (act !== undefined && !['gelu', 'gelu_new', 'relu'].includes(act as string))
    fail('model.hiddenAct', 'must be gelu, gelu_new or relu');
  if (model['dtype'] !== undefined && !['fp32', 'q8'].includes(model['dtype'] as string))
    fail('model.dtype', `must be "fp32" or "q8", got ${JSON.stringify(model['dtype'])}`);
  const int8Weights = model['int8Weights'];
  if (
    int8Weights !== undefined &&
    !(model['dtype'] === 'q8' && ['per-channel-7bit', 'per-tensor-8bit'].includes(int8Weights as string))
  )
    fail(
      'model.int8Weights',
      `must be "per-channel-7bit" or "per-tensor-8bit" in a q8 bundle, got ${JSON.stringify(int8Weights)}`,
    );
  const layers = model['layers'];
  if (
    layers !== undefined &&
    (!Array.isArray(layers) ||
      layers.length !== model['numLayers'] ||
      layers.some((l) => !Array.isArray(l?.heads) || typeof l?.ffn !== 'boolean'))
  )
    fail('model.layers', 'must list {heads, ffn} for each of model.numLayers layers');
  const pooling = model['pooling'] as Record<string, unknown> | undefined;
  if (
    pooling !== undefined &&
    (typeof pooling !== 'object' ||
      pooling === null ||
      !Array.isArray(pooling['schedule']) ||
      !(pooling['schedule'] as unknown[]).every(
        (e) => Array.isArray(e) && e.length === 2 && e.every((x) => Number.isInteger(x)),
      ) ||
      !Number.isInteger(pooling['inputLength']))
  )
    fail('model.pooling', 'must be { schedule: [[layer, width], …], inputLength }');
  if (model['adapler'] !== undefined)
    checkAdaplerSection(model['adapler'], model['numLayers'] as number, (f, msg) =>
      fail(`model.adapler${f}`, msg),
    );
  if (!['bert', 'distilbert', 'roberta'].includes(model['architecture'] as string)) {
    fail('model.architecture', 'must be bert, distilbert or roberta');
  }
  const task = m['task'] as Record<string, unknown> | undefined;
  if (typeof task !== 'object' || task === null) return fail('task', 'missing');
  if (!['classification', 'regression', 'span'].includes(task['type'] as string)) {
    fail('task.type', 'must be classification, regression or span');
  }
  if (!Array.isArray(task['labels'])) fail('task.labels', 'must be an array of label names');
  const tok = checkTokenizerSpec(m['tokenizer'], (f, msg) => fail(f ? `tokenizer.${f}` : 'tokenizer', msg));
  if (tok.type !== 'wordpiece' && (m['schemaVersion'] as number) < 2)
    fail('tokenizer.type', `a "${tok.type}" tokenizer needs schemaVersion 2`);
  if (tok.vocab.length !== model['vocabSize'])
    fail('tokenizer.vocab', `has ${tok.vocab.length} tokens but model.vocabSize is ${model['vocabSize']}`);
  const maxLength = (tok as { maxLength?: unknown }).maxLength;
  if (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 3)
    fail('tokenizer.maxLength', `must be a whole number ≥ 3, got ${JSON.stringify(maxLength)}`);
  if ((maxLength as number) > (model['maxPositions'] as number))
    fail('tokenizer.maxLength', `${maxLength} is more than model.maxPositions (${model['maxPositions']})`);
  if ((task['labels'] as unknown[]).some((l) => typeof l !== 'string'))
    fail('task.labels', 'must be an array of label names');
  if (task['type'] === 'classification' && (task['labels'] as unknown[]).length < 2)
    fail('task.labels', 'a classification bundle needs at least 2 labels');
  const nullThreshold = task['nullThreshold'];
  if (nullThreshold !== undefined) {
    if (typeof nullThreshold !== 'number' || !Number.isFinite(nullThreshold))
      fail('task.nullThreshold', 'must be a finite number');
    if (task['type'] !== 'span')
      fail('task.nullThreshold', 'only span (question-answering) bundles have one');
  }
  const io = m['io'] as Record<string, unknown> | undefined;
  for (const k of ['inputs', 'outputs'])
    if (typeof io?.[k] !== 'object' || io[k] === null) fail(`io.${k}`, 'missing');
  const sha = m['graphSha256'];
  if (sha !== undefined && (typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha)))
    fail('graphSha256', 'must be 64 lowercase hex digits');
  return value as BundleManifest;
}

function checkAdaplerSection(value: unknown, numLayers: number, fail: (field: string, msg: string) => never) {
  if (typeof value !== 'object' || value === null)
    fail('', 'must be { eta, etaInitializer, predictorWidth, predictors }');
  const a = value as Record<string, unknown>;
  const eta = a['eta'];
  if (!Array.isArray(eta) || eta.length !== numLayers)
    fail('.eta', `must list one threshold per layer (${numLayers})`);
  (eta as unknown[]).forEach((v, i) => {
    if (!(typeof v === 'number' && adaplerEtaInRange(v)))
      fail(
        `.eta[${i}]`,
        `${JSON.stringify(v)} lies outside [${adaplerEtaRange[0]}, ${adaplerEtaRange[1]}], the range training keeps η in; the file was edited or damaged`,
      );
  });
  if (typeof a['etaInitializer'] !== 'string' || !a['etaInitializer'])
    fail('.etaInitializer', 'must name the graph initializer holding η');
  const width = a['predictorWidth'];
  if (typeof width !== 'number' || !Number.isInteger(width) || width <= 0)
    fail('.predictorWidth', 'must be a positive integer');
  const predictors = a['predictors'];
  if (!Array.isArray(predictors)) return fail('.predictors', 'must list each layer’s predictor weights');
  for (let i = 0; i < numLayers; i++) {
    const p = predictors[i];
    if (!Array.isArray(p) || p.length !== 4 || p.some((n) => typeof n !== 'string' || !n))
      fail(
        `.predictors[${i}]`,
        `layer ${i + 1}'s Contribution Predictor weights are missing (4 initializer names: hidden weight, hidden bias, out weight, out bias)`,
      );
  }
  if (predictors.length !== numLayers)
    fail('.predictors', `lists ${predictors.length} predictors for ${numLayers} layers`);
}

/** sha256 of bytes as hex, with WebCrypto (Node ≥ 20 and browsers alike). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Checks the graph file against its manifest before any runtime sees it: the sha256 (when the
 * manifest has one), that it decodes as ONNX, and that its inputs and outputs are the ones the
 * manifest promises — the head's outputs for the task and its labels, one keep count and one
 * kept-positions output per layer. Errors name the graph file.
 */
export async function checkBundleGraph(m: BundleManifest, graph: Uint8Array, where = m.graph): Promise<void> {
  const fail = (msg: string): never => {
    throw new LatError('BAD_FILE', `${msg} (re-export the bundle with \`lat export\`)`, where);
  };
  if (m.graphSha256) {
    const actual = await sha256Hex(graph);
    if (actual !== m.graphSha256)
      fail(
        `damaged or replaced: its sha256 is ${actual.slice(0, 16)}… but lat.json says ${m.graphSha256.slice(0, 16)}…`,
      );
  }
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, graph);
  } catch (e) {
    return fail(`not a readable ONNX model (${(e as Error).message})`);
  }
  const g = model.graph;
  if (!g) return fail('the ONNX model has no graph');
  const dims = (v: ValueInfoProto | undefined) =>
    v?.type?.value.case === 'tensorType'
      ? (v.type.value.value.shape?.dim ?? []).map((d) =>
          d.value.case === 'dimValue' ? Number(d.value.value) : undefined,
        )
      : [];
  const inputs = new Map(g.input.map((v) => [v.name, v]));
  const outputs = new Map(g.output.map((v) => [v.name, v]));
  for (const name of Object.keys(m.io.inputs))
    if (!inputs.has(name)) fail(`the graph has no input '${name}' that lat.json lists`);
  for (const name of Object.keys(m.io.outputs))
    if (!outputs.has(name)) fail(`the graph has no output '${name}' that lat.json lists`);
  const heads = m.task.type === 'span' ? ['start_logits', 'end_logits'] : ['logits'];
  for (const name of heads) if (!outputs.has(name)) fail(`a ${m.task.type} graph needs the output '${name}'`);
  if (m.task.type !== 'span') {
    const width = dims(outputs.get('logits')).at(-1);
    const expected = m.task.type === 'regression' ? 1 : m.task.labels.length;
    if (width !== undefined && width !== expected)
      fail(`the graph's logits have ${width} columns but lat.json's task has ${expected} labels`);
  }
  const layers = dims(inputs.get('keep_counts')).at(-1);
  if (layers !== undefined && layers !== m.model.numLayers)
    fail(
      `the graph has ${layers} layers (keep_counts) but lat.json says model.numLayers = ${m.model.numLayers}`,
    );
  // LAT graphs take keep counts; pooled and AdapLeR graphs pick their own (lat.json says which).
  const takesCounts = inputs.has('keep_counts');
  if (m.model.adapler && takesCounts)
    fail('lat.json describes an AdapLeR model but the graph takes keep_counts');
  if (!m.model.adapler && !m.model.pooling && !takesCounts)
    fail(
      'the graph takes no keep_counts, so it picks its own lengths, but lat.json has no model.adapler or model.pooling section saying how',
    );
  if (m.model.adapler) checkAdaplerInitializers(m.model.adapler, m.model.hiddenSize, g.initializer, fail);
  const kept = [...outputs.keys()].filter((n) => n.startsWith('kept_positions_')).length;
  if (kept && kept !== m.model.numLayers)
    fail(
      `the graph has ${kept} kept_positions outputs but lat.json says model.numLayers = ${m.model.numLayers}`,
    );
}

/**
 * An AdapLeR graph holds every predictor weight lat.json names, at its size, and the η lat.json
 * states (bit for bit as float32).
 */
function checkAdaplerInitializers(
  a: BundleAdapler,
  hidden: number,
  initializers: readonly TensorProto[],
  fail: (msg: string) => never,
) {
  const byName = new Map(initializers.map((t) => [t.name, t]));
  const size = (t: TensorProto) => t.dims.reduce((p, d) => p * Number(d), 1);
  const w = a.predictorWidth;
  const sizes = [w * hidden, w, w, 1];
  a.predictors.forEach((names, i) =>
    names.forEach((name, j) => {
      const t = byName.get(name);
      if (!t) fail(`layer ${i + 1}'s AdapLeR predictor weight '${name}' is missing from the graph`);
      else if (size(t) !== sizes[j])
        fail(
          `the AdapLeR predictor weight '${name}' has ${size(t)} values; a width-${w} predictor needs ${sizes[j]}`,
        );
    }),
  );
  const t = byName.get(a.etaInitializer);
  if (!t) return fail(`the AdapLeR thresholds '${a.etaInitializer}' are missing from the graph`);
  const raw = t.rawData;
  const eta = raw.length
    ? new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))
    : Float32Array.from(t.floatData);
  if (eta.length !== a.eta.length || a.eta.some((v, i) => Math.fround(v) !== eta[i]))
    fail(
      `the graph's AdapLeR thresholds η = [${Array.from(eta, (v) => v.toFixed(4))}] differ from lat.json's model.adapler.eta = [${a.eta.map((v) => v.toFixed(4))}]`,
    );
}
