/** Hugging Face config.json → the typed encoder config lat builds graphs from, per architecture. */
import { LatError, type LayerShape } from '@lat/core';
import { checkPooling } from '../reducers/pooling.js';
import { architectures } from './index.js';
import { parsePruning, pruningToHf } from './pruning.js';

/** The encoder families lat builds graphs for (the keys of the architecture registry). */
export type ModelType = keyof typeof architectures;

/** A model's dimensions and heads, normalised from a Hugging Face config.json of any supported architecture. */
export interface ModelConfig {
  architecture: ModelType;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  /** 0 when the model has no token-type embeddings (DistilBERT). */
  typeVocabSize: number;
  layerNormEps: number;
  hiddenAct: 'gelu' | 'gelu_new' | 'relu';
  /** Classes of the classification head (1 for regression). */
  numLabels: number;
  /** Label names by id. */
  labels: string[];
  problemType?: 'single_label_classification' | 'regression';
  padTokenId: number;
  /** RoBERTa numbers positions from padding_idx + 1. */
  positionOffset: number;
  hiddenDropout: number;
  attentionDropout: number;
  /** Per layer, what survives AxFormer pruning (heads, blocks, hard-attention k); absent: unpruned. */
  layers?: LayerShape[];
  /** Trainable pooling (config.json `lat_pooling`): the model pools its rows at these layers. */
  pooling?: PoolingConfig;
}

/**
 * A pooling schedule (REFERENCE.md §4): after layer `layer`'s attention the rows are merged down
 * to `width`, so later layers run on fewer rows. Widths halve from `inputLength` (the longest
 * input: shorter ones merge less), e.g. 4096 → [[0, 1024], [1, 256]]. An empty schedule with a
 * `chunk` is the blockwise-attention baseline: every layer blockwise, nothing pooled.
 */
export interface PoolingConfig {
  schedule: readonly (readonly [layer: number, width: number])[];
  inputLength: number;
  /** The top-k operator: successive halving (default) or iterative softmax (the comparison). */
  operator?: 'halving' | 'iterative';
  /** Blockwise attention in blocks of `chunk` rows for the layers up to the first pooling. */
  chunk?: number;
  /**
   * Blockwise attention in blocks of `pooledChunk` kept rows (in document order) for the layers
   * after the first pooling (config.json `pooled_chunk`); absent: they attend over all kept rows.
   * Global tokens apply only before the pooling.
   */
  pooledChunk?: number;
  /**
   * With `chunk`: the first segment's tokens among the first `globalTokens` positions ([CLS]
   * question [SEP] in span QA) attend to every row, and every row to them, in the blockwise
   * layers (Longformer-style global attention). Absent or 0: plain blockwise attention.
   */
  globalTokens?: number;
  /**
   * Span QA: every token of the first segment ([CLS] question [SEP]: token type 0, attention 1)
   * passes each pooling as a row of its own, as [CLS] does; the rest of each width comes from
   * halving the context (config.json `keep_first_segment`). Successive halving only.
   */
  keepFirstSegment?: boolean;
}

type Json = Record<string, unknown>;

/** Upper bounds on config.json sizes: far above any real encoder, far below exhausting memory. */
const limits: Record<string, number> = {
  vocab_size: 10_000_000,
  hidden_size: 65_536,
  dim: 65_536,
  num_hidden_layers: 1_000,
  n_layers: 1_000,
  num_attention_heads: 1_024,
  n_heads: 1_024,
  intermediate_size: 262_144,
  hidden_dim: 262_144,
  max_position_embeddings: 1_048_576,
  type_vocab_size: 1_024,
  num_labels: 100_000,
  pad_token_id: 10_000_000,
};

const probability = (x: number) => x >= 0 && x < 1;

/** Parses a config.json object; `where` names the file in errors. */
export function parseModelConfig(raw: unknown, where = 'config.json'): ModelConfig {
  if (typeof raw !== 'object' || raw === null) throw new LatError('BAD_CONFIG', 'not a JSON object', where);
  const j = raw as Json;
  const type = String(j['model_type'] ?? '');
  if (!Object.hasOwn(architectures, type)) {
    throw new LatError(
      'BAD_CONFIG',
      `model_type '${type}' is not supported; lat runs ${Object.keys(architectures).join(', ')} encoders`,
      `${where}#model_type`,
    );
  }
  const architecture = type as ModelType;
  const arch = architectures[architecture];
  const keys = arch.configKeys;
  const int = (key: string, fallback?: number, max = limits[key] ?? 1_000_000): number => {
    const v = j[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new LatError(
        'BAD_CONFIG',
        `must be a non-negative integer, got ${JSON.stringify(v)}`,
        `${where}#${key}`,
      );
    }
    // A tiny file must not make us build a billion-label head or a 10⁸-layer graph.
    if (v > max)
      throw new LatError(
        'BAD_CONFIG',
        `${v} is beyond what lat supports (at most ${max})`,
        `${where}#${key}`,
      );
    return v;
  };
  const real = (key: string, fallback: number, ok: (x: number) => boolean, what: string): number => {
    const v = j[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v))
      throw new LatError('BAD_CONFIG', `must be ${what}, got ${JSON.stringify(v)}`, `${where}#${key}`);
    return v;
  };
  const hiddenSize = int(keys.hiddenSize);
  const numHeads = int(keys.numHeads);
  if (numHeads === 0 || hiddenSize % numHeads !== 0) {
    throw new LatError(
      'BAD_CONFIG',
      `hidden size ${hiddenSize} is not divisible by ${numHeads} attention heads`,
      `${where}#${keys.numHeads}`,
    );
  }
  const act = String(j[keys.activation] ?? 'gelu');
  if (!['gelu', 'gelu_new', 'relu'].includes(act)) {
    throw new LatError(
      'BAD_CONFIG',
      `activation '${act}' is not supported (gelu, gelu_new, relu)`,
      `${where}#${keys.activation}`,
    );
  }
  const id2label = (j['id2label'] ?? {}) as Record<string, string>;
  const fromMap = Object.keys(id2label)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => String(id2label[k]));
  if (fromMap.length > limits['num_labels']!)
    throw new LatError('BAD_CONFIG', `more than ${limits['num_labels']} labels`, `${where}#id2label`);
  const numLabels = j['num_labels'] !== undefined ? int('num_labels') : Math.max(fromMap.length, 2);
  if (numLabels < 1) throw new LatError('BAD_CONFIG', 'must be at least 1', `${where}#num_labels`);
  const labels =
    fromMap.length === numLabels ? fromMap : Array.from({ length: numLabels }, (_, i) => `LABEL_${i}`);
  const padTokenId = int('pad_token_id', 0);
  const numLayers = int(keys.numLayers);
  const layers = parsePruning(j, numLayers, numHeads, where);
  return {
    architecture,
    vocabSize: int('vocab_size'),
    hiddenSize,
    numLayers,
    numHeads,
    intermediateSize: int(keys.intermediateSize),
    maxPositions: int('max_position_embeddings'),
    typeVocabSize: keys.typeVocabSize ? int(keys.typeVocabSize, arch.typeVocabDefault) : 0,
    layerNormEps: real('layer_norm_eps', 1e-12, (x) => x > 0 && x < 1, 'a small positive number (1e-12)'),
    hiddenAct: act as ModelConfig['hiddenAct'],
    numLabels,
    labels,
    ...(j['problem_type'] === 'regression' || j['problem_type'] === 'single_label_classification'
      ? { problemType: j['problem_type'] as ModelConfig['problemType'] }
      : {}),
    padTokenId,
    positionOffset: arch.positionOffset(padTokenId),
    hiddenDropout: real(keys.hiddenDropout, 0.1, probability, 'in [0, 1)'),
    attentionDropout: real(keys.attentionDropout, 0.1, probability, 'in [0, 1)'),
    ...(layers ? { layers } : {}),
    ...(j['lat_pooling'] !== undefined
      ? { pooling: parsePooling(j['lat_pooling'], `${where}#lat_pooling`) }
      : {}),
  };
  function parsePooling(raw: unknown, at: string): PoolingConfig {
    const p = (typeof raw === 'object' && raw !== null ? raw : {}) as Json;
    const schedule = p['schedule'];
    if (!Array.isArray(schedule) || !schedule.every((e) => Array.isArray(e) && e.length === 2))
      throw new LatError('BAD_CONFIG', 'schedule must be a list of [layer, width] pairs', at);
    const pooling: PoolingConfig = {
      schedule: schedule.map((e) => [Number(e[0]), Number(e[1])] as const),
      inputLength: Number(p['input_length']),
      ...(p['operator'] !== undefined ? { operator: p['operator'] as PoolingConfig['operator'] } : {}),
      ...(p['chunk'] !== undefined ? { chunk: Number(p['chunk']) } : {}),
      ...(p['pooled_chunk'] !== undefined ? { pooledChunk: Number(p['pooled_chunk']) } : {}),
      ...(p['global_tokens'] !== undefined ? { globalTokens: Number(p['global_tokens']) } : {}),
      ...(p['keep_first_segment'] !== undefined
        ? { keepFirstSegment: p['keep_first_segment'] as boolean }
        : {}),
    };
    checkPooling(
      pooling,
      {
        numLayers: int(keys.numLayers),
        maxPositions: int('max_position_embeddings'),
        positionOffset: arch.positionOffset(padTokenId),
      },
      at,
    );
    return pooling;
  }
}

/** The HF config.json for a lat config (written next to exported checkpoints). */
export function toHfConfig(c: ModelConfig): Json {
  const arch = architectures[c.architecture];
  const k = arch.configKeys;
  return {
    model_type: c.architecture,
    architectures: [arch.sequenceClassifier],
    vocab_size: c.vocabSize,
    [k.hiddenSize]: c.hiddenSize,
    [k.numLayers]: c.numLayers,
    [k.numHeads]: c.numHeads,
    [k.intermediateSize]: c.intermediateSize,
    max_position_embeddings: c.maxPositions,
    ...(k.typeVocabSize ? { [k.typeVocabSize]: c.typeVocabSize } : {}),
    layer_norm_eps: c.layerNormEps,
    [k.activation]: c.hiddenAct,
    [k.hiddenDropout]: c.hiddenDropout,
    [k.attentionDropout]: c.attentionDropout,
    pad_token_id: c.padTokenId,
    ...(c.problemType ? { problem_type: c.problemType } : {}),
    id2label: Object.fromEntries(c.labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(c.labels.map((l, i) => [l, i])),
    ...pruningToHf(c),
    ...(c.pooling
      ? {
          lat_pooling: {
            schedule: c.pooling.schedule,
            input_length: c.pooling.inputLength,
            ...(c.pooling.operator ? { operator: c.pooling.operator } : {}),
            ...(c.pooling.chunk ? { chunk: c.pooling.chunk } : {}),
            ...(c.pooling.pooledChunk ? { pooled_chunk: c.pooling.pooledChunk } : {}),
            ...(c.pooling.globalTokens ? { global_tokens: c.pooling.globalTokens } : {}),
            ...(c.pooling.keepFirstSegment ? { keep_first_segment: true } : {}),
          },
        }
      : {}),
  };
}
