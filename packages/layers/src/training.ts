/**
 * The training graph: the same length-adaptive encoder with weights as graph inputs, dropout,
 * LayerDrop and a loss that mixes the task loss with distillation from a teacher, differentiated
 * by @lat/core's autodiff. One session serves the full model, the smallest and the random
 * sub-models of the sandwich rule: they differ only in their keep counts and loss weights.
 */
import {
  crossEntropy,
  Graph,
  grad,
  type HostTensor,
  klDivergence,
  meanSquaredError,
  Rng,
  reverseKlDivergence,
  type StateDict,
  scatterRows,
  type Value,
} from '@lat/core';
import { type EncodedBatch, encoderFeeds } from './anytime.js';
import type { ModelConfig } from './architectures/index.js';
import type { FirstRowOf } from './blocks/context.js';
import { buildEncoder, type Dropout, encoderInputs } from './encoder.js';
import { type LatSetting, latReducer } from './reducers/lat.js';
import { attentionChunk, lastBlockwiseLayer, poolingCounts, poolingReducer } from './reducers/pooling.js';
import type { LossTargets, TokenReducer } from './reducers/reducer.js';

type Feeds = Record<string, HostTensor>;

/** The training graph's own inputs and outputs, named once (the encoder's and the reducer's are theirs). */
export const trainingIo = {
  dropoutOffsets: 'dropout_offsets',
  /** float32 [terms]: one weight per loss term, in `TrainingGraph.lossTerms` order. */
  lossWeights: 'loss_weights',
  labels: 'labels',
  teacherProbs: 'teacher_probs',
  startPositions: 'start_positions',
  endPositions: 'end_positions',
  teacherStart: 'teacher_start',
  teacherEnd: 'teacher_end',
  loss: 'loss',
  /** Gradient output of a weight. */
  grad: (name: string) => `grad.${name}`,
} as const;

/** The two loss terms every training graph has; a reducer's own terms follow them. */
/** The task loss term's name. */
export const taskLoss = 'task';
/** The inplace-distillation loss term's name. */
export const distillationLoss = 'distillation';

/** Options of the training graph; `S` is the reducer's setting type. */
export interface TrainingGraphOptions<S = LatSetting> {
  /**
   * The token reducer trained with the encoder (default: the config's pooling, else LAT's top-k);
   * null: a plain encoder without selection ops (plain fine-tuning).
   */
  reducer?: TokenReducer<S> | null;
  /**
   * Classification and regression with no reducer or LAT's: the last layer computes [CLS]'s row
   * only (see `EncoderOptions.firstRowOnly`); default on, false builds every row (the reference
   * its tests compare against).
   */
  firstRowOnly?: boolean;
  /**
   * Embedding tables' gradients leave the graph as the looked-up rows' gradients and are added
   * into a dense table on the host (`feeds.grads` returns it: the same values); default on, false
   * makes the graph return dense gradients (the reference its tests compare against).
   */
  rowGradients?: boolean;
  task: 'classification' | 'regression' | 'span';
  /** Largest batch × sequence the graph will see; sizes the dropout noise table. */
  maxBatch: number;
  maxSeq: number;
  /** Build LayerDrop switches (an input `layer_on`). */
  layerDrop?: boolean;
  /** Seed of the dropout noise table. */
  seed?: number;
  /**
   * Distillation direction: 'forward' KL(teacher ‖ student) (ours, the default) or 'reverse'
   * KL(student ‖ teacher), what the LAT reference computes. Regression distils by MSE either way.
   */
  kd?: KdDirection;
}

/** Which KL divergence the sub-models distil with: forward KL(teacher ‖ student) or reverse KL(student ‖ teacher). */
export type KdDirection = 'forward' | 'reverse';

/** A training graph and what its caller needs to feed it. */
export interface TrainingGraph<S = LatSetting> {
  graph: Graph;
  /** Loss term names in the order of the \`loss_weights\` input. */
  lossTerms: string[];
  /** Builds this graph's feeds: the only place its input names are spelled on the host side. */
  feeds: TrainingFeeds<S>;
  /** Weight names in the order of the gradient outputs `grad.<name>`. */
  paramNames: string[];
  /** Number of dropout sites, i.e. the length of the `dropout_offsets` input. */
  dropoutSites: number;
  /** Size of the noise table: offsets are taken modulo (size − count) in the graph. */
  noiseTableSize: number;
}

/**
 * Dropout whose noise comes from a fixed table of uniform numbers at offsets the host feeds
 * (`dropout_offsets`, one per site). The host draws offsets from its seeded RNG, so training
 * is reproducible across processes and exactly resumable from a checkpoint — ORT's own
 * Dropout keeps its RNG state inside the session, which a resumed run cannot restore.
 */
class TableDropout implements Dropout {
  sites = 0;
  constructor(
    private readonly table: Value,
    private readonly tableSize: number,
    private readonly offsets: Value,
  ) {}

  apply(g: Graph, x: Value, p: number, of?: FirstRowOf): Value {
    const site = this.sites++;
    const size = g.node('Size', [x], {}, [{ dtype: 'int64', shape: [] }])[0]!;
    const count = of ? g.mul(size, of.rows) : size; // the whole tensor's elements
    // The whole tensor's shape: x's with `rows` along the axis.
    const shape = of
      ? g.concat(
          [
            g.slice(g.shapeOf(x), [0], [of.axis], [0]),
            g.unsqueeze(of.rows, [0]),
            g.slice(g.shapeOf(x), [of.axis + 1], [x.shape!.length], [0]),
          ],
          0,
        )
      : g.shapeOf(x);
    const offset = g.gather(this.offsets, g.int64(site), 0);
    const start = g.node('Mod', [offset, g.sub(g.int64(this.tableSize), count)], {}, [
      { dtype: 'int64', shape: [] },
    ])[0]!;
    const begin = g.unsqueeze(start, [0]);
    const noise = g.node(
      'Slice',
      [this.table, begin, g.add(begin, g.unsqueeze(count, [0])), g.int64s([0])],
      {},
      [{ dtype: g.float, shape: [g.unknownDim()] }],
    )[0]!;
    let mask = g.reshape(
      noise,
      shape,
      of ? x.shape!.map((d, i) => (i === of.axis ? g.unknownDim() : d)) : x.shape,
    );
    if (of) mask = g.slice(mask, [0], [1], [of.axis], x.shape);
    // The kept elements' scale, 0 where dropped: one Where instead of Not, Cast and Mul.
    const keep = g.where(g.less(mask, g.scalar(p)), g.scalar(0), g.scalar(1 / (1 - p)));
    return g.mul(x, keep);
  }
}

/**
 * Elements of the biggest tensor dropout touches, which sizes the noise table: the hidden states
 * (B·N·d) or one layer's attention probabilities — B·H·r² over the r rows the layer attends
 * over, B·H·⌈N/c⌉·c·(c + g) in blockwise layers with g global tokens (their own g·N rows are
 * smaller). A pooled long-input model attends blockwise until it
 * pools and over few rows (or blocks of `pooled_chunk` of them) after, so its table grows as
 * N·c, not N² (at 4096 tokens in blocks of 512, 8× smaller than a full-attention layer's).
 */
export function largestDropoutTensor(c: ModelConfig, maxBatch: number, maxSeq: number): number {
  const blockwiseUntil = lastBlockwiseLayer(c);
  const attending = [maxSeq, ...poolingCounts(c, maxSeq)]; // rows layer i attends over
  let largest = maxBatch * maxSeq * c.hiddenSize;
  for (let i = 0; i < c.numLayers; i++) {
    const r = attending[i]!;
    const chunk = attentionChunk(c, i);
    // Blockwise rows before the pooling also attend to the global keys.
    const global = i <= blockwiseUntil ? (c.pooling?.globalTokens ?? 0) : 0;
    const probs = chunk ? Math.ceil(r / chunk) * chunk * (chunk + global) : r ** 2;
    largest = Math.max(largest, maxBatch * c.numHeads * probs);
  }
  return largest;
}

/** Per-batch targets: class ids, regression scores, or [start, end] token positions of answers. */
export type TrainingTargets = readonly number[] | readonly (readonly [number, number])[];

/** One forward/backward pass of a batch: which sub-model, which dropout, which loss terms. */
export interface TrainingPass<S> {
  /** The reducer's setting for this pass (LAT: keep counts per example). */
  setting: S;
  /** LayerDrop switches per layer (graphs built with `layerDrop`). */
  layerOn?: readonly boolean[];
  /** One offset into the dropout noise table per dropout site. */
  dropoutOffsets: BigInt64Array;
  /** Weight of each loss term by name (missing terms weigh 0). */
  lossWeights: Readonly<Record<string, number>>;
}

/** Builds a training graph's feeds and reads its outputs. */
export interface TrainingFeeds<S> {
  /** The inputs that stay fixed over a batch's passes: tokens, targets and the current weights. */
  batch(x: EncodedBatch, targets: TrainingTargets, weights: StateDict): Feeds;
  /** The distillation teacher: a pass's outputs as (detached) distributions, or zeros before there is one. */
  teacher(x: EncodedBatch, out?: Feeds): Feeds;
  /** The inputs of one pass. */
  pass(x: EncodedBatch, p: TrainingPass<S>): Feeds;
  /** The loss of a run. */
  loss(out: Feeds): number;
  /** The gradients of a run, by weight name. */
  grads(out: Feeds): Record<string, Float32Array>;
}

/** The encoder with weights as inputs, reproducible dropout and LayerDrop, its loss and the gradient of every weight. */
export function buildTrainingGraph<S = LatSetting>(
  config: ModelConfig,
  weights: StateDict,
  o: TrainingGraphOptions<S>,
): TrainingGraph<S> {
  const g = new Graph('lat-train');
  const reducer =
    o.reducer === null
      ? undefined
      : (o.reducer ??
        ((config.pooling
          ? poolingReducer(config.pooling)
          : latReducer) as TokenReducer<unknown> as TokenReducer<S>));
  const paramNames = [...weights.keys()];
  const params = new Map<string, Value>();
  for (const name of paramNames) params.set(name, g.input(name, 'float32', weights.get(name)!.dims));

  const tableSize = 2 * largestDropoutTensor(config, o.maxBatch, o.maxSeq) + 1;
  const table = g.initializer('dropout_table', {
    type: 'float32',
    dims: [tableSize],
    data: uniformTable(tableSize, o.seed ?? 1),
  });
  const offsets = g.input(trainingIo.dropoutOffsets, 'int64', ['sites']);
  const dropout = new TableDropout(table, tableSize, offsets);

  const out = buildEncoder(
    g,
    config,
    weights,
    { param: (name) => params.get(name)! },
    {
      head: o.task === 'span' ? 'span' : 'classification',
      ...(reducer ? { reducer: reducer as TokenReducer<unknown> } : {}),
      training: { dropout, layerDrop: o.layerDrop ?? false },
      // LAT keeps [CLS] first and has no loss of its own: the head's row is all the last layer needs.
      firstRowOnly:
        o.firstRowOnly !== false && (!reducer || reducer === (latReducer as TokenReducer<unknown>)),
    },
  );
  const kl = o.kd === 'reverse' ? reverseKlDivergence : klDivergence;
  const io = trainingIo;
  let task: Value;
  let kd: Value;
  let targets: LossTargets = {};
  if (o.task === 'span') {
    // Start and end are two classifications over positions; distillation on both distributions.
    const half = g.scalar(0.5);
    const startPos = g.input(io.startPositions, 'int64', ['batch']);
    const endPos = g.input(io.endPositions, 'int64', ['batch']);
    targets = { spans: { start: startPos, end: endPos } };
    const teacherStart = g.input(io.teacherStart, 'float32', ['batch', 'seq']);
    const teacherEnd = g.input(io.teacherEnd, 'float32', ['batch', 'seq']);
    const start = out.startLogits!;
    const end = out.endLogits!;
    task = g.mul(g.add(crossEntropy(g, start, startPos), crossEntropy(g, end, endPos)), half);
    kd = g.mul(g.add(kl(g, teacherStart, start), kl(g, teacherEnd, end)), half);
    g.output(start, 'start_logits');
    g.output(end, 'end_logits');
  } else if (o.task === 'classification') {
    const labels = g.input(io.labels, 'int64', ['batch']);
    const teacher = g.input(io.teacherProbs, 'float32', ['batch', config.numLabels]);
    task = crossEntropy(g, out.logits!, labels);
    kd = kl(g, teacher, out.logits!);
    g.output(out.logits!, 'logits');
  } else {
    const labels = g.input(io.labels, 'float32', ['batch']);
    const teacher = g.input(io.teacherProbs, 'float32', ['batch', 1]);
    task = meanSquaredError(g, out.logits!, labels);
    kd = meanSquaredError(g, out.logits!, g.squeeze(teacher, [1]));
    g.output(out.logits!, 'logits');
  }
  const terms: [string, Value][] = [
    [taskLoss, task],
    [distillationLoss, kd],
    ...Object.entries(out.reducer?.losses?.(targets) ?? {}),
  ];
  const lossWeights = g.input(io.lossWeights, 'float32', [terms.length]);
  let loss: Value | undefined;
  terms.forEach(([, v], i) => {
    const term = g.mul(g.gather(lossWeights, g.int64(i), 0), v);
    loss = loss ? g.add(loss, term) : term;
  });
  // Embedding tables (weights only looked up) return the gradients of the rows the batch looked
  // up: a dense gradient would be a table of zeros (bert-base: 94 MB) written, scattered into and
  // copied out of the session every pass, for the few hundred rows a batch touches.
  const lookupTables =
    o.rowGradients === false
      ? []
      : paramNames.filter((n) => {
          const users = g.nodes.filter((node) => node.inputs.includes(n));
          const lookup = (u: (typeof users)[number]) =>
            u.opType === 'Gather' && u.inputs[0] === n && ((u.attrs['axis']?.value as number) ?? 0) === 0;
          return weights.get(n)!.dims.length === 2 && users.length > 0 && users.every(lookup);
        });
  const { graph } = grad(
    g,
    loss!,
    paramNames.map((n) => params.get(n)!),
    { rowGradients: lookupTables },
  );
  const lossTerms = terms.map(([n]) => n);
  return {
    graph,
    paramNames,
    dropoutSites: dropout.sites,
    noiseTableSize: tableSize,
    lossTerms,
    feeds: trainingFeeds(config, o, reducer, paramNames, lossTerms, weights, new Set(lookupTables)),
  };
}

function trainingFeeds<S>(
  config: ModelConfig,
  o: TrainingGraphOptions<S>,
  reducer: TokenReducer<S> | undefined,
  paramNames: readonly string[],
  lossTerms: readonly string[],
  weights: StateDict,
  lookupTables: ReadonlySet<string>,
): TrainingFeeds<S> {
  const io = trainingIo;
  const f32 = (dims: number[], data: Float32Array): HostTensor => ({ type: 'float32', dims, data });
  const i64 = (values: readonly number[]): HostTensor => ({
    type: 'int64',
    dims: [values.length],
    data: BigInt64Array.from(values, BigInt),
  });
  const data = (out: Feeds, name: string) => out[name]!.data as Float32Array;
  const C = config.numLabels;
  return {
    batch(x, targets, weights) {
      const feeds: Feeds = { ...encoderFeeds(config, x) };
      if (o.task === 'span') {
        const spans = targets as readonly (readonly [number, number])[];
        feeds[io.startPositions] = i64(spans.map((s) => s[0]));
        feeds[io.endPositions] = i64(spans.map((s) => s[1]));
      } else {
        const labels = targets as readonly number[];
        feeds[io.labels] =
          o.task === 'regression' ? f32([labels.length], Float32Array.from(labels)) : i64(labels);
      }
      for (const [k, t] of weights) feeds[k] = f32(t.dims, t.data);
      return feeds;
    },
    teacher(x, out): Feeds {
      const B = x.batch;
      if (o.task === 'span') {
        const seq = x.inputIds.length / B;
        const dist = (name: string) => (out ? softmaxRows(data(out, name), seq) : new Float32Array(B * seq));
        return {
          [io.teacherStart]: f32([B, seq], dist('start_logits')),
          [io.teacherEnd]: f32([B, seq], dist('end_logits')),
        };
      }
      const width = o.task === 'regression' ? 1 : C;
      return {
        [io.teacherProbs]: f32(
          [B, width],
          !out
            ? new Float32Array(B * width)
            : o.task === 'regression'
              ? Float32Array.from(data(out, 'logits'))
              : softmaxRows(data(out, 'logits'), C),
        ),
      };
    },
    pass(x, p) {
      const feeds: Feeds = {
        ...reducer?.feeds(p.setting, x, config),
        [io.dropoutOffsets]: { type: 'int64', dims: [p.dropoutOffsets.length], data: p.dropoutOffsets },
        [io.lossWeights]: f32(
          [lossTerms.length],
          Float32Array.from(lossTerms, (n) => p.lossWeights[n] ?? 0),
        ),
      };
      if (o.layerDrop) {
        const on = p.layerOn ?? new Array<boolean>(config.numLayers).fill(true);
        feeds[encoderInputs.layerOn] = {
          type: 'bool',
          dims: [on.length],
          data: Uint8Array.from(on, (v) => (v ? 1 : 0)),
        };
      }
      return feeds;
    },
    loss: (out) => Number(out[io.loss]!.data[0]),
    grads: (out) =>
      Object.fromEntries(
        paramNames.map((n) => {
          if (!lookupTables.has(n)) return [n, data(out, io.grad(n))];
          // A fresh zeroed table: pages the scatter never touches stay unwritten.
          const [rows, d] = weights.get(n)!.dims as [number, number];
          const dense = new Float32Array(rows * d);
          const indices = out[`${io.grad(n)}.indices`]!.data as BigInt64Array;
          scatterRows(dense, data(out, `${io.grad(n)}.rows`), indices, d);
          return [n, dense];
        }),
      ),
  };
}

/** Row-wise softmax of [rows × C] logits. */
function softmaxRows(logits: Float32Array, C: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / C; r++) {
    let m = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[r * C + c]!);
    let s = 0;
    for (let c = 0; c < C; c++) s += out[r * C + c] = Math.exp(logits[r * C + c]! - m);
    for (let c = 0; c < C; c++) out[r * C + c]! /= s;
  }
  return out;
}

/** The dropout noise: uniform numbers in [0, 1) from lat's seeded Rng. */
function uniformTable(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const t = new Float32Array(n);
  for (let i = 0; i < n; i++) t[i] = rng.next();
  return t;
}
