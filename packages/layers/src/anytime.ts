import {
  Graph,
  type HostTensor,
  LatError,
  type ModelConfig,
  type Runtime,
  type RuntimeSession,
  type SessionOptions,
  type StateDict,
  toModelProto,
} from '@lat/core';
import { buildEncoder, initializerWeights } from './encoder.js';
import { keepCounts, type LengthSpec } from './lengths.js';

/** Options of the anytime (inference) graph. */
export interface AnytimeOptions {
  head?: 'classification' | 'span';
  /** Weights as graph inputs (fed on every run) instead of initializers: for evaluating while training. */
  weightsAsInputs?: boolean;
  /** Add `kept_positions_<i>` outputs (for --explain and the playground). */
  keptPositions?: boolean;
  /** false: a plain BERT graph with no token selection (no keep_counts input). */
  selection?: boolean;
  /** Span heads: false drops restore (an ablation: only tokens kept to the end can be answers). */
  restore?: boolean;
}

/** The inference graph: weights as initializers, keep counts as an input. */
export function buildAnytimeGraph(config: ModelConfig, weights: StateDict, o: AnytimeOptions = {}): Graph {
  const g = new Graph('lat-anytime');
  const head = o.head ?? 'classification';
  const source = o.weightsAsInputs
    ? { param: (name: string, t: { dims: number[] }) => g.input(name, 'float32', t.dims) }
    : initializerWeights(g, weights);
  const out = buildEncoder(g, config, weights, source, {
    head,
    keptPositions: o.keptPositions ?? true,
    selection: o.selection ?? true,
    ...(o.restore !== undefined ? { restore: o.restore } : {}),
  });
  if (head === 'classification') g.output(out.logits!, 'logits');
  else {
    g.output(out.startLogits!, 'start_logits');
    g.output(out.endLogits!, 'end_logits');
  }
  out.keptPositions.forEach((v, i) => g.output(v, `kept_positions_${i}`));
  return g;
}

/** A padded batch of token ids, as the graph's int64 inputs take it. */
export interface EncodedBatch {
  /** [batch × seq] row-major token ids, mask and token types. */
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds?: BigInt64Array;
  batch: number;
}

/** What one run returns: the head's logits and what each layer kept. */
export interface AnytimeResult {
  logits?: Float32Array;
  startLogits?: Float32Array;
  endLogits?: Float32Array;
  /** Per layer, per example: the original positions kept (padding/unused slots removed). */
  keptPositions: number[][][];
  /** The keep counts fed to the graph, [batch][layer]. */
  keepCounts: number[][];
}

/** Graph feeds for one batch at one length configuration (validated before ORT runs). */
export function anytimeFeeds(
  config: ModelConfig,
  x: EncodedBatch,
  lengths?: LengthSpec,
): Record<string, HostTensor> {
  const seq = x.inputIds.length / x.batch;
  const positions = config.maxPositions - config.positionOffset;
  if (seq > positions) {
    throw new LatError(
      'BAD_INPUT',
      `inputs have ${seq} tokens but the model has only ${positions} positions; truncate them (e.g. --max-length ${positions})`,
      'input_ids',
    );
  }
  const dims = [x.batch, seq];
  const feeds: Record<string, HostTensor> = {
    input_ids: { type: 'int64', dims, data: x.inputIds },
    attention_mask: { type: 'int64', dims, data: x.attentionMask },
    keep_counts: {
      type: 'int64',
      dims: [x.batch, config.numLayers],
      data: keepCounts(lengths, x.attentionMask, x.batch, config.numLayers),
    },
  };
  if (config.typeVocabSize > 0) {
    feeds['token_type_ids'] = {
      type: 'int64',
      dims,
      data: x.tokenTypeIds ?? new BigInt64Array(x.inputIds.length),
    };
  }
  return feeds;
}

/** Turns a session's outputs (and the feeds that produced them) into an AnytimeResult. */
export function parseAnytimeOutputs(
  config: ModelConfig,
  feeds: Record<string, HostTensor>,
  out: Record<string, HostTensor>,
): AnytimeResult {
  const batch = feeds['input_ids']!.dims[0]!;
  const counts = Array.from(feeds['keep_counts']!.data as BigInt64Array, Number);
  const keptPositions: number[][][] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const t = out[`kept_positions_${i}`];
    if (!t) break;
    const k = t.dims[1]!;
    const data = t.data as BigInt64Array;
    keptPositions.push(
      Array.from({ length: batch }, (_, b) =>
        Array.from(data.subarray(b * k, (b + 1) * k), Number).filter((p) => p >= 0),
      ),
    );
  }
  return {
    ...(out['logits'] ? { logits: out['logits'].data as Float32Array } : {}),
    ...(out['start_logits'] ? { startLogits: out['start_logits'].data as Float32Array } : {}),
    ...(out['end_logits'] ? { endLogits: out['end_logits'].data as Float32Array } : {}),
    keptPositions,
    keepCounts: Array.from({ length: batch }, (_, b) =>
      counts.slice(b * config.numLayers, (b + 1) * config.numLayers),
    ),
  };
}

/** An anytime model loaded in a runtime session. */
export interface AnytimeModel {
  readonly config: ModelConfig;
  readonly session: RuntimeSession;
  /** With `weightsAsInputs`, pass the current weights on every call. */
  run(x: EncodedBatch, lengths?: LengthSpec, weights?: StateDict): Promise<AnytimeResult>;
  release(): Promise<void>;
}

/** One session for every length configuration: lengths change per call. */
export async function createAnytimeModel(
  runtime: Runtime,
  config: ModelConfig,
  weights: StateDict,
  o: AnytimeOptions & { session?: SessionOptions; model?: Uint8Array } = {},
): Promise<AnytimeModel> {
  const bytes = o.model ?? toModelProto(buildAnytimeGraph(config, weights, o));
  const session = await runtime.createSession(bytes, o.session);
  return {
    config,
    session,
    async run(x, lengths, current) {
      const feeds = anytimeFeeds(config, x, lengths);
      const { keep_counts: counts, ...inputs } = feeds;
      if (o.selection !== false) inputs['keep_counts'] = counts!;
      if (o.weightsAsInputs) {
        for (const [name, t] of current ?? weights)
          inputs[name] = { type: 'float32', dims: t.dims, data: t.data };
      }
      return parseAnytimeOutputs(config, feeds, await session.run(inputs));
    },
    release: () => session.release(),
  };
}
