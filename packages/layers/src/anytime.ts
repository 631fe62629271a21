import {
  Graph,
  type HostTensor,
  LatError,
  type LengthSpec,
  type Runtime,
  type RuntimeSession,
  type SessionOptions,
  type StateDict,
  toModelProto,
} from '@lat/core';
import { expectedShapes, type ModelConfig } from './architectures/index.js';
import { buildEncoder, encoderInputs, initializerWeights } from './encoder.js';
import { type ModelDtype, parseModelDtype } from './quantize.js';
import { keepCountsInput, type LatSetting, latReducer } from './reducers/lat.js';
import { poolingReducer } from './reducers/pooling.js';
import type { TokenReducer } from './reducers/reducer.js';

/** Options of the anytime (inference) graph; `S` is the reducer's setting type. */
export interface AnytimeOptions<S = LatSetting> {
  head?: 'classification' | 'span';
  /** Weights as graph inputs (fed on every run) instead of initializers: for evaluating while training. */
  weightsAsInputs?: boolean;
  /** Add `kept_positions_<i>` outputs (for --explain and the playground). */
  keptPositions?: boolean;
  /**
   * false: a plain BERT graph with no token selection (no reducer inputs). A pooled model
   * (config `pooling`) still pools: its schedule is part of the network, not a setting.
   */
  selection?: boolean;
  /** The token reducer (default: the config's pooling, else LAT's attention-received top-k). */
  reducer?: TokenReducer<S>;
  /** Span heads: false drops restore (an ablation: only tokens kept to the end can be answers). */
  restore?: boolean;
  /** q8: int8 weights (quantised here, per output channel) and activations for the encoder's linears. */
  dtype?: ModelDtype;
  /**
   * Build the layers a second time without selection ops, run when nothing is dropped (full
   * length): lat at full length then costs what a plain graph costs. The price is memory —
   * onnxruntime pre-packs the layers' linear weights once per branch — so the default is on only
   * for models whose layers hold at most {@link fullLengthBranchMaxParams} linear weights, where
   * the per-layer fixed cost is a few percent of a run (bert-tiny/mini) and the copy is small.
   */
  fullLengthBranch?: boolean;
}

/** Layer linear weights up to which the full-length branch is built by default (16 M: 64 MB in fp32). */
export const fullLengthBranchMaxParams = 16_000_000;

/** The encoder layers' linear weights (what onnxruntime pre-packs). */
function layerLinearParams(config: ModelConfig): number {
  let n = 0;
  for (const [name, dims] of expectedShapes(config, { classifier: false }))
    if (name.startsWith('encoder.layer.') && dims.length === 2) n += dims[0]! * dims[1]!;
  return n;
}

/** The inference graph: weights as initializers, the reducer's setting (LAT: keep counts) as inputs. */
export function buildAnytimeGraph<S = LatSetting>(
  config: ModelConfig,
  weights: StateDict,
  o: AnytimeOptions<S> = {},
): Graph {
  const g = new Graph('lat-anytime');
  const head = o.head ?? 'classification';
  const dtype = parseModelDtype(o.dtype ?? 'fp32');
  if (dtype === 'q8' && o.weightsAsInputs)
    throw new LatError(
      'UNSUPPORTED',
      'a q8 graph quantises its weights when it is built, so they cannot be graph inputs; evaluate in fp32 while training',
      'dtype',
    );
  const source = o.weightsAsInputs
    ? { param: (name: string, t: { dims: number[] }) => g.input(name, 'float32', t.dims) }
    : initializerWeights(g, weights);
  const reducer = reducerOf(config, o);
  const out = buildEncoder(g, config, weights, source, {
    head,
    keptPositions: o.keptPositions ?? true,
    ...(reducer ? { reducer: reducer as TokenReducer<unknown> } : {}),
    ...(o.restore !== undefined ? { restore: o.restore } : {}),
    dtype,
    fullLengthBranch: o.fullLengthBranch ?? layerLinearParams(config) <= fullLengthBranchMaxParams,
  });
  if (head === 'classification') g.output(out.logits!, 'logits');
  else {
    g.output(out.startLogits!, 'start_logits');
    g.output(out.endLogits!, 'end_logits');
  }
  out.keptPositions.forEach((v, i) => g.output(v, `kept_positions_${i}`));
  for (const [name, v] of Object.entries(out.reducer?.outputs?.() ?? {})) g.output(v, name);
  return g;
}

function reducerOf<S>(config: ModelConfig, o: AnytimeOptions<S>): TokenReducer<S> | undefined {
  if (o.reducer) return o.reducer;
  if (config.pooling) return poolingReducer(config.pooling) as TokenReducer<unknown> as TokenReducer<S>;
  return o.selection === false ? undefined : (latReducer as TokenReducer<S>);
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
  /** Rows each layer kept, [batch][layer]: the keep counts fed (LAT), else counted from the kept positions. */
  keepCounts: number[][];
  /** Every graph output by name (a reducer's extra outputs among them). */
  outputs: Record<string, HostTensor>;
}

/** The encoder's own feeds (tokens, mask, token types) for one batch, validated before ORT runs. */
export function encoderFeeds(config: ModelConfig, x: EncodedBatch): Record<string, HostTensor> {
  const seq = x.inputIds.length / x.batch;
  const positions = config.maxPositions - config.positionOffset;
  if (seq > positions) {
    throw new LatError(
      'BAD_INPUT',
      `inputs have ${seq} tokens but the model has only ${positions} positions; truncate them (e.g. --max-length ${positions})`,
      encoderInputs.inputIds,
    );
  }
  const dims = [x.batch, seq];
  const feeds: Record<string, HostTensor> = {
    [encoderInputs.inputIds]: { type: 'int64', dims, data: x.inputIds },
    [encoderInputs.attentionMask]: { type: 'int64', dims, data: x.attentionMask },
  };
  if (config.typeVocabSize > 0) {
    feeds[encoderInputs.tokenTypeIds] = {
      type: 'int64',
      dims,
      data: x.tokenTypeIds ?? new BigInt64Array(x.inputIds.length),
    };
  }
  return feeds;
}

/** Graph feeds for one batch at one LAT length configuration (validated before ORT runs). */
export function anytimeFeeds(
  config: ModelConfig,
  x: EncodedBatch,
  lengths?: LengthSpec,
): Record<string, HostTensor> {
  return { ...encoderFeeds(config, x), ...latReducer.feeds(lengths, x, config) };
}

/** Turns a session's outputs (and the feeds that produced them) into an AnytimeResult. */
export function parseAnytimeOutputs(
  config: ModelConfig,
  feeds: Record<string, HostTensor>,
  out: Record<string, HostTensor>,
): AnytimeResult {
  const batch = feeds[encoderInputs.inputIds]!.dims[0]!;
  const counts = feeds[keepCountsInput]
    ? Array.from(feeds[keepCountsInput].data as BigInt64Array, Number)
    : [];
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
    keepCounts: counts.length
      ? Array.from({ length: batch }, (_, b) =>
          counts.slice(b * config.numLayers, (b + 1) * config.numLayers),
        )
      : keptPositions.length
        ? Array.from({ length: batch }, (_, b) => keptPositions.map((layer) => layer[b]!.length))
        : [],
    outputs: out,
  };
}

/** An anytime model loaded in a runtime session; `S` is the reducer's setting type. */
export interface AnytimeModel<S = LatSetting> {
  readonly config: ModelConfig;
  readonly session: RuntimeSession;
  /** Runs one batch at one setting (LAT: a length configuration, undefined = full length). With `weightsAsInputs`, pass the current weights on every call. */
  run(x: EncodedBatch, setting?: S, weights?: StateDict): Promise<AnytimeResult>;
  release(): Promise<void>;
}

/** One session for every setting (LAT: every length configuration): it changes per call. */
export async function createAnytimeModel<S = LatSetting>(
  runtime: Runtime,
  config: ModelConfig,
  weights: StateDict,
  o: AnytimeOptions<S> & { session?: SessionOptions; model?: Uint8Array } = {},
): Promise<AnytimeModel<S>> {
  const bytes = o.model ?? toModelProto(buildAnytimeGraph(config, weights, o));
  const session = await runtime.createSession(bytes, o.session);
  const reducer = reducerOf(config, o);
  return {
    config,
    session,
    async run(x, setting, current) {
      const feeds = { ...encoderFeeds(config, x), ...reducer?.feeds(setting as S, x, config) };
      if (o.weightsAsInputs) {
        for (const [name, t] of current ?? weights)
          feeds[name] = { type: 'float32', dims: t.dims, data: t.data };
      }
      return parseAnytimeOutputs(config, feeds, await session.run(feeds));
    },
    release: () => session.release(),
  };
}
