import {
  Graph,
  type HostTensor,
  inlineIfBranches,
  LatError,
  type LengthSpec,
  type Runtime,
  type RuntimeSession,
  type SessionOptions,
  type StateDict,
  toModelProto,
} from '@lat/core';
import { expectedShapes, type ModelConfig } from './architectures/index.js';
import { buildEncoder, encoderInputs, fullLengthIf, initializerWeights, keepsAllIf } from './encoder.js';
import { type Int8Weights, type ModelDtype, parseInt8Weights, parseModelDtype } from './quantize.js';
import { keepCountsInput, type LatSetting, latReducer } from './reducers/lat.js';
import { poolingReducer } from './reducers/pooling.js';
import type { TokenReducer } from './reducers/reducer.js';

/** The graph output holding layer `i`'s kept positions [B, k] (−1 for padding and unused slots). */
export const keptPositionsOutput = (layer: number) => `kept_positions_${layer}`;

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
  /** q8: the int8 weights' layout (default per-channel 7-bit; see {@link Int8Weights}). */
  int8Weights?: Int8Weights;
  /**
   * Build the layers a second time without selection ops, run when nothing is dropped (full
   * length), under one If (default on): lat at full length then costs what a plain graph costs,
   * instead of an If per layer. Both branches read the same weight initializers from the outer
   * graph, which ORT holds once (measured at bert-base: 1.02× the plain graph's live memory in
   * fp32, 1.10× in q8). `createAnytimeModel` opens the two branches as two sessions (no If left)
   * for models whose layers hold at most {@link twoSessionsMaxParams} linear weights, where the
   * If's own cost is a few percent of a run and a second copy of the weights is small; larger
   * models keep one session and the If.
   */
  fullLengthBranch?: boolean;
}

/** Layer linear weights up to which `createAnytimeModel` opens a full-length branch as its own session (16 M: 64 MB in fp32). */
export const twoSessionsMaxParams = 16_000_000;

/** Whether `createAnytimeModel` opens a full-length branch as two sessions: up to {@link twoSessionsMaxParams} layer linear weights. */
export function opensTwoSessions(config: ModelConfig): boolean {
  let n = 0;
  for (const [name, dims] of expectedShapes(config, { classifier: false }))
    if (name.startsWith('encoder.layer.') && dims.length === 2) n += dims[0]! * dims[1]!;
  return n <= twoSessionsMaxParams;
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
    int8Weights: parseInt8Weights(o.int8Weights ?? 'per-channel-7bit'),
    fullLengthBranch: o.fullLengthBranch ?? true,
  });
  if (head === 'classification') g.output(out.logits!, 'logits');
  else {
    g.output(out.startLogits!, 'start_logits');
    g.output(out.endLogits!, 'end_logits');
  }
  out.keptPositions.forEach((v, i) => g.output(v, keptPositionsOutput(i)));
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

/**
 * Turns a session's outputs (and the feeds that produced them) into an AnytimeResult. Plain loops
 * over the int64 arrays: this runs on every call, and `Array.from(BigInt64Array, Number)` made it
 * 17 µs — about 1% of a bert-tiny 1 × 128 run — where the loops take 3 µs.
 */
export function parseAnytimeOutputs(
  config: ModelConfig,
  feeds: Record<string, HostTensor>,
  out: Record<string, HostTensor>,
): AnytimeResult {
  const batch = feeds[encoderInputs.inputIds]!.dims[0]!;
  const layers = config.numLayers;
  const keptPositions: number[][][] = [];
  for (let i = 0; i < layers; i++) {
    const t = out[keptPositionsOutput(i)];
    if (!t) break;
    const k = t.dims[1]!;
    const data = t.data as BigInt64Array;
    const layer: number[][] = [];
    for (let b = 0; b < batch; b++) {
      const kept: number[] = [];
      for (let j = b * k; j < (b + 1) * k; j++) if (data[j]! >= 0n) kept.push(Number(data[j]!));
      layer.push(kept);
    }
    keptPositions.push(layer);
  }
  const counts = feeds[keepCountsInput]?.data as BigInt64Array | undefined;
  const keepCounts: number[][] = [];
  if (counts || keptPositions.length)
    for (let b = 0; b < batch; b++) {
      const row: number[] = [];
      for (let i = 0; i < (counts ? layers : keptPositions.length); i++)
        row.push(counts ? Number(counts[b * layers + i]!) : keptPositions[i]![b]!.length);
      keepCounts.push(row);
    }
  const result: AnytimeResult = { keptPositions, keepCounts, outputs: out };
  if (out['logits']) result.logits = out['logits'].data as Float32Array;
  if (out['start_logits']) result.startLogits = out['start_logits'].data as Float32Array;
  if (out['end_logits']) result.endLogits = out['end_logits'].data as Float32Array;
  return result;
}

/** An anytime model loaded in a runtime session; `S` is the reducer's setting type. */
export interface AnytimeModel<S = LatSetting> {
  readonly config: ModelConfig;
  /** The session runs go to (with a full-length branch: every run that drops a token). */
  readonly session: RuntimeSession;
  /** Runs one batch at one setting (LAT: a length configuration, undefined = full length). With `weightsAsInputs`, pass the current weights on every call. */
  run(x: EncodedBatch, setting?: S, weights?: StateDict): Promise<AnytimeResult>;
  release(): Promise<void>;
}

/**
 * A graph with a full-length branch as two graphs, each inlined in the If's place: the
 * full-length branch without the kept-position outputs (every real token at full length: the
 * host writes them), and the reducing branch with every layer's selection ops run (graphs built
 * before the reducing branch lost its per-layer Ifs have them inlined too: it never runs at full
 * length). Undefined for graphs without one.
 */
export function splitFullLength(
  model: Uint8Array,
  numLayers: number,
): { full: Uint8Array; reducing: Uint8Array } | undefined {
  const layers = Array.from({ length: numLayers }, (_, i) => i);
  const full = inlineIfBranches(
    model,
    [`${fullLengthIf}/then`],
    layers.map((i) => keptPositionsOutput(i)),
  );
  const reducing =
    full && inlineIfBranches(model, [`${fullLengthIf}/else`, ...layers.map((i) => `${keepsAllIf(i)}/else`)]);
  return full && { full, reducing: reducing! };
}

/** Kept positions at full length: every real token's position, −1 for padding (one array for every layer). */
function allKept(x: EncodedBatch): HostTensor {
  const seq = x.inputIds.length / x.batch;
  const data = new BigInt64Array(x.inputIds.length);
  for (let j = 0; j < data.length; j++) data[j] = x.attentionMask[j]! > 0n ? BigInt(j % seq) : -1n;
  return { type: 'int64', dims: [x.batch, seq], data };
}

/**
 * One session for every setting (LAT: every length configuration): it changes per call. A small
 * model's graph with a full-length branch (bundles keep it: any ORT runs them) is opened as two
 * sessions, one per branch, and the host picks one per call from the feeds: a run at full length
 * then costs what a plain BERT graph costs, without the If — whose subgraph ORT runs in an
 * execution frame of its own, a few percent of a small model's run (measured by the bench's
 * `overhead` section). Larger models (above {@link twoSessionsMaxParams} layer weights) keep the
 * If in one session: a second session would hold every weight again, and there the If costs
 * well under 1% of a run.
 */
export async function createAnytimeModel<S = LatSetting>(
  runtime: Runtime,
  config: ModelConfig,
  weights: StateDict,
  o: AnytimeOptions<S> & { session?: SessionOptions; model?: Uint8Array } = {},
): Promise<AnytimeModel<S>> {
  const bytes = o.model ?? toModelProto(buildAnytimeGraph(config, weights, o));
  const reducer = reducerOf(config, o);
  const split =
    reducer?.keepsEverything && opensTwoSessions(config)
      ? splitFullLength(bytes, config.numLayers)
      : undefined;
  const session = await runtime.createSession(split?.reducing ?? bytes, o.session);
  const full = split && (await runtime.createSession(split.full, o.session));
  const hostKept = full ? session.outputNames.filter((n) => !full.outputNames.includes(n)) : [];
  return {
    config,
    session,
    async run(x, setting, current) {
      const feeds = encoderFeeds(config, x);
      if (reducer) Object.assign(feeds, reducer.feeds(setting as S, x, config));
      if (o.weightsAsInputs) {
        for (const [name, t] of current ?? weights)
          feeds[name] = { type: 'float32', dims: t.dims, data: t.data };
      }
      if (full && reducer!.keepsEverything!(feeds, x.inputIds.length / x.batch)) {
        const fullFeeds: Record<string, HostTensor> = {};
        for (const name of full.inputNames) fullFeeds[name] = feeds[name]!;
        const out = await full.run(fullFeeds);
        if (hostKept.length) {
          const kept = allKept(x);
          for (const name of hostKept) out[name] = kept;
        }
        return parseAnytimeOutputs(config, feeds, out);
      }
      return parseAnytimeOutputs(config, feeds, await session.run(feeds));
    },
    release: async () => {
      await Promise.all([session.release(), full?.release()]);
    },
  };
}
