/**
 * The training loop: for every batch, the objective's passes (LengthDrop by default: the full
 * model as teacher, the smallest and random sub-models distilling from it) run forward and
 * backward through one training graph, gradients accumulate, and one AdamW step follows. Every
 * pass runs as one ONNX graph on onnxruntime; the graph's inputs come from its feeds builder.
 */
import { createHash } from 'node:crypto';
import {
  LatError,
  lengthDefaults,
  Rng,
  type Runtime,
  type RuntimeSession,
  type StateDict,
  toModelProto,
} from '@lat/core';
import {
  type AnytimeModel,
  buildTrainingGraph,
  createAnytimeModel,
  type KdDirection,
  type LatSetting,
  type ModelConfig,
  realLengths,
  type TrainingGraph,
} from '@lat/layers';
import { chunk, type Encoded, padBatch } from './batches.js';
import {
  checkSameRun,
  loadBestWeights,
  loadCheckpoint,
  saveBestWeights,
  saveCheckpoint,
  type TrainerState,
} from './checkpoint.js';
import { evaluate } from './evaluate.js';
import { type MetricName, selectionMetric } from './metrics.js';
import { type LengthDropConfig, type LengthSampling, lengthDropObjective } from './objectives/length-drop.js';
import type { Objective } from './objectives/objective.js';
import { poolingObjective } from './objectives/pooling.js';
import { AdamW, accumulate, noDecayBiasAndNorm } from './optim.js';
import { linearSchedule } from './schedule.js';

export type { LengthDropConfig } from './objectives/length-drop.js';

/** Training hyper-parameters (defaults in `defaultTrainOptions`). */
export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  warmupRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  gradAccumulation: number;
  seed: number;
  /** null: plain fine-tuning. Ignored when the setup gives its own `objective`. */
  lengthDrop: LengthDropConfig | null;
  /**
   * Probability of skipping each layer in a pass (LayerDrop); 0 turns it off. Default: 0.2 with
   * LengthDrop, 0 for plain fine-tuning (the reference's plain runs have no LayerDrop).
   */
  layerDrop: number;
  /** Distillation direction (see `KdDirection`); 'reverse' is the reference's. */
  kd: KdDirection;
  /**
   * 'per-example' (ours): each example's lengths are drawn over its real length. 'per-batch' (the
   * reference's): one configuration per pass, drawn over the batch's padded length.
   */
  lengthSampling: LengthSampling;
  /**
   * Which weights training returns: those after the last epoch, or (as the reference) those of the
   * epoch with the best dev score by the task's selection metric; the best are also written to
   * `<outDir>/checkpoint-best`.
   */
  keep: 'best' | 'last';
  /** Save a checkpoint every N optimizer steps (and at the end); 0: only at the end. */
  checkpointEvery: number;
  evalBatchSize: number;
}

/** The LAT paper's fine-tuning defaults. */
export const defaultTrainOptions: TrainOptions = {
  epochs: 3,
  batchSize: 32,
  learningRate: 2e-5,
  warmupRatio: 0.1,
  weightDecay: 0.01,
  maxGradNorm: 1,
  gradAccumulation: 1,
  seed: 42,
  lengthDrop: {
    ratioBound: lengthDefaults.ratioBound,
    minLength: lengthDefaults.minLength,
    numSandwich: lengthDefaults.numSandwich,
  },
  layerDrop: 0.2,
  kd: 'forward',
  lengthSampling: 'per-example',
  keep: 'last',
  checkpointEvery: 0,
  evalBatchSize: 64,
};

/** Progress events: each optimizer step, each epoch's evaluation, each checkpoint. */
export type TrainEvent =
  | {
      type: 'step';
      step: number;
      totalSteps: number;
      epoch: number;
      loss: number;
      lr: number;
      tokensPerSec: number;
      etaSec: number;
    }
  | { type: 'eval'; epoch: number; step: number; metrics: Record<string, number> }
  | { type: 'checkpoint'; step: number; dir: string };

/** What the head learns. */
export type TrainTask = 'classification' | 'regression' | 'span';

/** What a Trainer trains: model, data, metrics, options and where checkpoints go. */
export interface TrainerSetup<S = LatSetting> {
  runtime: Runtime;
  /** Default: regression when the head has one label, else classification. */
  task?: TrainTask;
  config: ModelConfig;
  weights: StateDict;
  train: readonly Encoded[];
  dev?: readonly Encoded[];
  metrics: readonly MetricName[];
  options: Partial<TrainOptions>;
  /** Where checkpoints go (`<out>/checkpoint`); files in `extraFiles` are copied next to the weights. */
  outDir: string;
  extraFiles?: Record<string, string>;
  onEvent?: (e: TrainEvent) => void;
  /**
   * Fingerprints of what the caller built the run from (the model's weights, data files …),
   * stored in checkpoints with the options and a hash of the training data; `--resume` with
   * different ones is refused unless forced.
   */
  run?: Record<string, unknown>;
  /**
   * Scores the dev set after each epoch for tasks the trainer cannot score itself (span QA: the
   * caller decodes answers); its keys are the reported metrics.
   */
  evaluateDev?: (weights: StateDict) => Promise<Record<string, number>>;
  /** The method's passes and losses (default: LengthDrop from `options.lengthDrop`). */
  objective?: Objective<S>;
}

/** The epoch whose weights `keep: 'best'` returned. */
export interface BestEpoch {
  epoch: number;
  step: number;
  /** The task's selection metric (see `selectionMetric`) and its value. */
  metric: string;
  score: number;
  /** What epochs were compared by, when the objective has its own rule (`Objective.selectionScore`). */
  rank?: number;
  metrics: Record<string, number>;
}

/** A finished (or stopped) run. */
export interface TrainResult {
  weights: StateDict;
  steps: number;
  losses: number[];
  /** Dev metrics of the returned weights (the last or the best epoch), when dev data was given. */
  metrics?: Record<string, number>;
  /** With `keep: 'best'`: which epoch the weights come from. */
  best?: BestEpoch;
  stopped: boolean;
}

/** Fine-tunes a model with LengthDrop (or plainly), evaluating each epoch and checkpointing for exact resume. */
export class Trainer<S = LatSetting> {
  readonly options: TrainOptions;
  private stopRequested = false;
  private session?: RuntimeSession;
  private evalModel?: AnytimeModel;
  private graph?: TrainingGraph<S>;

  private readonly task: TrainTask;
  private readonly objective: Objective<S>;

  constructor(private readonly s: TrainerSetup<S>) {
    this.task = s.task ?? (s.config.numLabels === 1 ? 'regression' : 'classification');
    // Plain fine-tuning has no LayerDrop unless asked for.
    const layerDrop =
      s.options.layerDrop ?? (s.options.lengthDrop === null ? 0 : defaultTrainOptions.layerDrop);
    this.options = { ...defaultTrainOptions, ...s.options, layerDrop };
    const o = this.options;
    // Without an objective of its own: a pooled model trains pooled, others with LengthDrop
    // (then the setting type is LAT's, S's default).
    this.objective =
      s.objective ??
      ((s.config.pooling
        ? poolingObjective(s.config)
        : lengthDropObjective(o.lengthDrop, o.lengthSampling)) as Objective<unknown> as Objective<S>);
    if (s.train.length === 0) throw new LatError('BAD_DATA', 'the training set is empty', 'train');
    for (const [k, v] of Object.entries({
      epochs: o.epochs,
      batchSize: o.batchSize,
      gradAccumulation: o.gradAccumulation,
    })) {
      if (!Number.isInteger(v) || v < 1)
        throw new LatError('BAD_INPUT', `must be a whole number ≥ 1, got ${v}`, k);
    }
    if (!(o.learningRate > 0))
      throw new LatError('BAD_INPUT', `must be > 0, got ${o.learningRate}`, 'learningRate');
    if (o.layerDrop < 0 || o.layerDrop >= 1)
      throw new LatError('BAD_INPUT', `must lie in [0, 1), got ${o.layerDrop}`, 'layerDrop');
    const choices = {
      kd: ['forward', 'reverse'],
      lengthSampling: ['per-example', 'per-batch'],
      keep: ['best', 'last'],
    };
    for (const [k, allowed] of Object.entries(choices)) {
      const v = o[k as keyof typeof choices];
      if (!allowed.includes(v))
        throw new LatError('BAD_INPUT', `must be one of ${allowed.join(', ')}; got ${String(v)}`, k);
    }
    if (o.keep === 'best' && !s.dev && !s.evaluateDev)
      throw new LatError('BAD_INPUT', 'keeping the best epoch needs dev data to score epochs by', 'keep');
  }

  /** Ask a running `train()` to save a checkpoint and return at the next step boundary (Ctrl-C). */
  stop(): void {
    this.stopRequested = true;
  }

  private get stepsPerEpoch(): number {
    return Math.ceil(Math.ceil(this.s.train.length / this.options.batchSize) / this.options.gradAccumulation);
  }

  private async setup(weights: StateDict): Promise<void> {
    const maxSeq = Math.max(
      ...this.s.train.map((e) => e.ids.length),
      ...(this.s.dev ?? []).map((e) => e.ids.length),
    );
    const t = buildTrainingGraph(this.s.config, weights, {
      reducer: this.objective.reducer,
      task: this.task,
      maxBatch: this.options.batchSize,
      maxSeq,
      layerDrop: this.options.layerDrop > 0,
      seed: this.options.seed,
      kd: this.options.kd,
    });
    this.graph = t;
    // ORT's arena without its memory pattern. Against no arena (bert-base 8 × 128, one session):
    // peak RSS 1917 vs 2406 MB, 8.1 vs 9.4 CPU-s per run, as no tensor takes fresh pages; the
    // pattern would add one block holding every activation and gradient at once.
    this.session = await this.s.runtime.createSession(toModelProto(t.graph), { memoryPattern: false });
    // Span tasks are scored by @lat/qa's decoding; the trainer evaluates sequence tasks, at full
    // length (a pooled model pools: its schedule is part of the network).
    if (this.s.dev && this.task !== 'span')
      this.evalModel = await createAnytimeModel(this.s.runtime, this.s.config, weights, {
        weightsAsInputs: true,
        keptPositions: false,
        selection: false,
      });
  }

  /** What identifies this run in its checkpoints (see `TrainerSetup.run`). */
  private runFingerprint(): Record<string, unknown> {
    const { checkpointEvery: _c, evalBatchSize: _e, ...options } = this.options;
    const data = createHash('sha256');
    for (const e of this.s.train) data.update(JSON.stringify([e.ids, e.typeIds, e.label, e.span ?? null]));
    // A method's own objective is part of the run (LengthDrop's is already in the options).
    const objective = this.s.objective ? { objective: this.s.objective.name } : {};
    const pooling = this.s.config.pooling ? { pooling: this.s.config.pooling } : {};
    return {
      ...options,
      ...objective,
      ...pooling,
      trainData: data.digest('hex').slice(0, 16),
      ...this.s.run,
    };
  }

  /**
   * Trains from the start, or from `<outDir>/checkpoint` when `resume` is set; a checkpoint made
   * with other options, data or weights is refused unless `force` is set.
   */
  async train(resume = false, { force = false }: { force?: boolean } = {}): Promise<TrainResult> {
    const o = this.options;
    let weights = new Map(this.s.weights);
    const own = this.objective.ownParameters;
    const optimizer = new AdamW({
      lr: o.learningRate,
      weightDecay: o.weightDecay,
      ...(own && {
        noDecay: (name) => own.owns(name) || noDecayBiasAndNorm(name),
        lrScale: (name) => (own.owns(name) ? own.learningRate / o.learningRate : 1),
      }),
    });
    let state: TrainerState = {
      step: 0,
      epoch: 0,
      batchInEpoch: 0,
      rng: new Rng(o.seed).state(),
      epochRng: new Rng(o.seed).state(),
      losses: [],
      run: this.runFingerprint(),
    };
    if (resume) {
      const ck = loadCheckpoint(this.s.outDir, this.s.config);
      if (!force) checkSameRun(ck.state.run, state.run!, `${this.s.outDir}/checkpoint`);
      weights = ck.weights;
      optimizer.state = ck.optimizer;
      state = { ...ck.state, run: state.run };
    }
    // Work on copies: the optimizer updates weights in place.
    for (const [k, t] of weights) weights.set(k, { dims: t.dims, data: Float32Array.from(t.data) });
    await this.setup(weights);
    const rng = new Rng(state.rng);
    const totalSteps = this.stepsPerEpoch * o.epochs;
    const warmup = Math.round(totalSteps * o.warmupRatio);
    const started = performance.now();
    let tokens = 0;
    let stepsThisRun = 0;
    let metrics: Record<string, number> | undefined;

    try {
      for (let epoch = state.epoch; epoch < o.epochs; epoch++) {
        if (state.batchInEpoch === 0) state.epochRng = rng.state();
        const order = new Rng(state.epochRng).permutation(this.s.train.length);
        const batches = chunk(order, o.batchSize);
        for (let bi = state.batchInEpoch; bi < batches.length; bi += o.gradAccumulation) {
          const group = batches.slice(bi, bi + o.gradAccumulation);
          const grads: Record<string, Float32Array> = {};
          let loss = 0;
          for (const idx of group) {
            const items = idx.map((i) => this.s.train[i]!);
            const at = { examples: idx, step: state.step, epoch };
            loss += await this.batchStep(items, at, weights, rng, grads, 1 / group.length);
            tokens += items.reduce((a, e) => a + e.ids.length, 0);
          }
          if (!Number.isFinite(loss)) {
            throw new LatError(
              'NON_FINITE',
              `the loss became ${loss} at step ${state.step + 1}; lower --lr or check the data. The last good checkpoint (if any) is kept in ${this.s.outDir}/checkpoint`,
              'train',
            );
          }
          const lr = linearSchedule(state.step, o.learningRate, warmup, totalSteps);
          const params = Object.fromEntries([...weights].map(([k, t]) => [k, t.data]));
          // The objective's own parameters are left out of the clipped norm.
          optimizer.clipAndStep(params, grads, lr, o.maxGradNorm, own && ((k) => !own.owns(k)));
          if (own) for (const [k, t] of weights) if (own.owns(k)) own.project(k, t.data);
          state.step++;
          stepsThisRun++;
          state.batchInEpoch = bi + group.length;
          state.losses.push(loss);
          const elapsed = (performance.now() - started) / 1000;
          this.s.onEvent?.({
            type: 'step',
            step: state.step,
            totalSteps,
            epoch,
            loss,
            lr,
            tokensPerSec: tokens / Math.max(elapsed, 1e-9),
            etaSec: (elapsed / stepsThisRun) * (totalSteps - state.step),
          });
          if (o.checkpointEvery > 0 && state.step % o.checkpointEvery === 0)
            this.checkpoint(weights, optimizer, state, rng);
          if (this.stopRequested) {
            this.checkpoint(weights, optimizer, state, rng);
            return { weights, steps: state.step, losses: state.losses, stopped: true };
          }
        }
        state.epoch = epoch + 1;
        state.batchInEpoch = 0;
        const scored = await this.scoreDev(weights);
        if (scored) {
          metrics = scored;
          this.s.onEvent?.({ type: 'eval', epoch, step: state.step, metrics });
          if (o.keep === 'best') {
            const select = selectionMetric(Object.keys(metrics));
            const score = select.of(metrics);
            const rank = this.objective.selectionScore?.(metrics);
            if (!state.best || (rank ?? score) > (state.best.rank ?? state.best.score)) {
              state.best = {
                epoch,
                step: state.step,
                metric: select.name,
                score,
                ...(rank !== undefined && { rank }),
                metrics,
              };
              saveBestWeights(this.s.outDir, this.s.config, weights, this.s.extraFiles);
            }
          }
        }
      }
      this.checkpoint(weights, optimizer, state, rng);
      if (o.keep === 'best' && state.best) {
        return {
          weights: loadBestWeights(this.s.outDir, this.s.config),
          steps: state.step,
          losses: state.losses,
          metrics: state.best.metrics,
          best: state.best,
          stopped: false,
        };
      }
      return {
        weights,
        steps: state.step,
        losses: state.losses,
        ...(metrics ? { metrics } : {}),
        stopped: false,
      };
    } finally {
      await this.session?.release();
      await this.evalModel?.release();
    }
  }

  /** Dev metrics of `weights`, or undefined without dev data. */
  private async scoreDev(weights: StateDict): Promise<Record<string, number> | undefined> {
    if (this.s.evaluateDev) return this.s.evaluateDev(weights);
    if (!this.s.dev || !this.evalModel) return undefined;
    const r = await evaluate(this.evalModel, this.s.dev, this.s.metrics, undefined, {
      batchSize: this.options.evalBatchSize,
      weights,
    });
    return r.metrics;
  }

  private checkpoint(weights: StateDict, optimizer: AdamW, state: TrainerState, rng: Rng) {
    const dir = saveCheckpoint(
      this.s.outDir,
      this.s.config,
      weights,
      optimizer.state,
      { ...state, rng: rng.state() },
      this.s.extraFiles,
    );
    this.s.onEvent?.({ type: 'checkpoint', step: state.step, dir });
  }

  /** All passes of one batch (the objective's); adds scaled gradients into `grads`, returns the loss. */
  private async batchStep(
    items: Encoded[],
    at: { examples: readonly number[]; step: number; epoch: number },
    weights: StateDict,
    rng: Rng,
    grads: Record<string, Float32Array>,
    scale: number,
  ): Promise<number> {
    const o = this.options;
    const L = this.s.config.numLayers;
    const t = this.graph!;
    const x = padBatch(items);
    const targets =
      this.task === 'span' ? items.map((e) => e.span ?? ([0, 0] as const)) : items.map((e) => e.label);
    const base = t.feeds.batch(x, targets, weights);
    const lengths = realLengths(x);
    const objective = this.objective;
    let teacher = t.feeds.teacher(x);
    let total = 0;
    for (let index = 0; index < objective.passes; index++) {
      // LayerDrop first: the objective draws lengths over the layers that run.
      const layerOn = Array.from({ length: L }, () => (o.layerDrop > 0 ? rng.next() >= o.layerDrop : true));
      const pass = objective.pass({
        index,
        lengths,
        seq: x.seq,
        numLayers: L,
        layerOn,
        batch: x,
        rng,
        ...at,
      });
      const dropoutOffsets = BigInt64Array.from({ length: t.dropoutSites }, () => BigInt(rng.nextUint32()));
      const out = await this.session!.run({
        ...base,
        ...t.feeds.pass(x, { setting: pass.setting, layerOn, dropoutOffsets, lossWeights: pass.lossWeights }),
        ...teacher,
      });
      total += t.feeds.loss(out);
      if (index === objective.teacherPass) teacher = t.feeds.teacher(x, out);
      const passGrads = t.feeds.grads(out);
      const updates = pass.updates;
      accumulate(
        grads,
        updates ? Object.fromEntries(Object.entries(passGrads).filter(([k]) => updates(k))) : passGrads,
        scale,
      );
    }
    return total * scale;
  }
}
