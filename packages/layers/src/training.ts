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
  klDivergence,
  type ModelConfig,
  meanSquaredError,
  reverseKlDivergence,
  type StateDict,
  type Value,
} from '@lat/core';
import { buildEncoder, type Dropout } from './encoder.js';

/** Options of the training graph. */
export interface TrainingGraphOptions {
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
export interface TrainingGraph {
  graph: Graph;
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

  apply(g: Graph, x: Value, p: number): Value {
    const site = this.sites++;
    const count = g.node('Size', [x], {}, [{ dtype: 'int64', shape: [] }])[0]!;
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
    const keep = g.not(g.less(g.reshape(noise, g.shapeOf(x), x.shape), g.scalar(p)));
    return g.mul(x, g.mul(g.cast(keep, g.float), g.scalar(1 / (1 - p))));
  }
}

/** The encoder with weights as inputs, reproducible dropout and LayerDrop, its loss and the gradient of every weight. */
export function buildTrainingGraph(
  config: ModelConfig,
  weights: StateDict,
  o: TrainingGraphOptions,
): TrainingGraph {
  const g = new Graph('lat-train');
  const paramNames = [...weights.keys()];
  const params = new Map<string, Value>();
  for (const name of paramNames) params.set(name, g.input(name, 'float32', weights.get(name)!.dims));

  // The biggest tensor dropout touches is the attention probabilities (B·H·N²) or the hidden states (B·N·d).
  const largest = Math.max(
    o.maxBatch * config.numHeads * o.maxSeq ** 2,
    o.maxBatch * o.maxSeq * config.hiddenSize,
  );
  const tableSize = 2 * largest + 1;
  const table = g.initializer('dropout_table', {
    type: 'float32',
    dims: [tableSize],
    data: uniformTable(tableSize, o.seed ?? 1),
  });
  const offsets = g.input('dropout_offsets', 'int64', ['sites']);
  const dropout = new TableDropout(table, tableSize, offsets);

  const out = buildEncoder(
    g,
    config,
    weights,
    { param: (name) => params.get(name)! },
    {
      head: o.task === 'span' ? 'span' : 'classification',
      training: { dropout, layerDrop: o.layerDrop ?? false },
    },
  );
  const kl = o.kd === 'reverse' ? reverseKlDivergence : klDivergence;
  const lossWeights = g.input('loss_weights', 'float32', [2]); // [task, distillation]
  const wTask = g.gather(lossWeights, g.int64(0), 0);
  const wKd = g.gather(lossWeights, g.int64(1), 0);
  let taskLoss: Value;
  let kdLoss: Value;
  if (o.task === 'span') {
    // Start and end are two classifications over positions; distillation on both distributions.
    const half = g.scalar(0.5);
    const startPos = g.input('start_positions', 'int64', ['batch']);
    const endPos = g.input('end_positions', 'int64', ['batch']);
    const teacherStart = g.input('teacher_start', 'float32', ['batch', 'seq']);
    const teacherEnd = g.input('teacher_end', 'float32', ['batch', 'seq']);
    const start = out.startLogits!;
    const end = out.endLogits!;
    taskLoss = g.mul(g.add(crossEntropy(g, start, startPos), crossEntropy(g, end, endPos)), half);
    kdLoss = g.mul(g.add(kl(g, teacherStart, start), kl(g, teacherEnd, end)), half);
    g.output(start, 'start_logits');
    g.output(end, 'end_logits');
  } else if (o.task === 'classification') {
    const labels = g.input('labels', 'int64', ['batch']);
    const teacher = g.input('teacher_probs', 'float32', ['batch', config.numLabels]);
    taskLoss = crossEntropy(g, out.logits!, labels);
    kdLoss = kl(g, teacher, out.logits!);
    g.output(out.logits!, 'logits');
  } else {
    const labels = g.input('labels', 'float32', ['batch']);
    const teacher = g.input('teacher_probs', 'float32', ['batch', 1]);
    taskLoss = meanSquaredError(g, out.logits!, labels);
    kdLoss = meanSquaredError(g, out.logits!, g.squeeze(teacher, [1]));
    g.output(out.logits!, 'logits');
  }
  const loss = g.add(g.mul(wTask, taskLoss), g.mul(wKd, kdLoss));
  const { graph } = grad(
    g,
    loss,
    paramNames.map((n) => params.get(n)!),
  );
  return { graph, paramNames, dropoutSites: dropout.sites, noiseTableSize: tableSize };
}

function uniformTable(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const t = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    t[i] = (s >>> 0) / 4294967296;
  }
  return t;
}
