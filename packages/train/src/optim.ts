import { Worker } from 'node:worker_threads';
import { LatError } from '@lat/core';
/**
 * AdamW over Float32Array parameters, matching torch.optim.AdamW (decoupled weight decay applied
 * before the Adam update, bias-corrected moments). Parameters whose names mark them as biases
 * or LayerNorm weights get no weight decay, as in BERT fine-tuning.
 */
export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Names excluded from weight decay; default: biases and LayerNorm parameters. */
  noDecay?: (name: string) => boolean;
  /** Per-parameter factor on the step's learning rate (parameter groups); default 1. */
  lrScale?: (name: string) => number;
}

/** The usual weight-decay exclusion: biases and LayerNorm weights. */
export const noDecayBiasAndNorm = (name: string) =>
  /bias$|LayerNorm|layer_norm|\.norm\.|Norm\.(gamma|beta)$/.test(name);

/** AdamW's moments and step count, as checkpoints store them. */
export interface AdamWState {
  step: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

/** AdamW (decoupled weight decay) over Float32Arrays, with a per-step learning rate. */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly noDecay: (name: string) => boolean;
  private readonly lrScale: (name: string) => number;
  private worker?: UpdateWorker;
  state: AdamWState = { step: 0, m: {}, v: {} };

  constructor(o: AdamWOptions) {
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0.01;
    this.noDecay = o.noDecay ?? noDecayBiasAndNorm;
    this.lrScale = o.lrScale ?? (() => 1);
  }

  /** One update of every parameter in place with learning rate `lr`. */
  step(params: Record<string, Float32Array>, grads: Record<string, Float32Array>, baseLr: number): void {
    const c = this.constants();
    for (const [name, p] of Object.entries(params)) {
      const g = grads[name];
      if (!g) continue;
      const { m, v } = this.moments(name, p, g);
      const { decay, stepSize } = this.rates(name, baseLr, c);
      adamwUpdate(p, g, m, v, 1, this.beta1, this.beta2, decay, stepSize, c.rc2, this.eps);
    }
  }

  /**
   * Clips the gradients of the parameters `clipped` selects (default: all) to global L2 norm
   * `maxNorm` (0: no clipping) and takes one AdamW step: the same numbers as `clipGradNorm`
   * followed by `step`, with the clip scale folded into the update (one pass over the weights,
   * not three) and the tensors split between this thread and a worker thread. The worker's
   * tensors are moved to it and back (ArrayBuffer transfer, no copy): their weight and moment
   * arrays are replaced by the returned ones in `params` and `state`, and their gradient arrays
   * are consumed. Returns the norm before clipping. Call `close()` when done.
   */
  async clipAndStep(
    params: Map<string, { data: Float32Array }>,
    grads: Record<string, Float32Array>,
    baseLr: number,
    maxNorm: number,
    clipped: (name: string) => boolean = () => true,
  ): Promise<number> {
    const c = this.constants();
    const jobs: UpdateJob[] = [];
    for (const [name, t] of params) {
      const g = grads[name];
      if (!g) continue;
      const { m, v } = this.moments(name, t.data, g);
      jobs.push({ name, p: t.data, g, m, v, clip: clipped(name), ...this.rates(name, baseLr, c) });
    }
    const [mine, theirs] = splitJobs(jobs);
    const worker = theirs.length ? (this.worker ??= new UpdateWorker()) : undefined;
    const theirSquares = worker?.squares(theirs);
    const squares = new Map(mine.map((j) => [j.name, j.clip ? sumSquares(j.g) : 0]));
    for (const [name, sq] of (await theirSquares) ?? []) squares.set(name, sq);
    // Summed per tensor in the gradients' order, as clipGradNorm does: the same norm either way.
    let sq = 0;
    for (const name of Object.keys(grads)) sq += squares.get(name) ?? 0;
    const norm = Math.sqrt(sq);
    const scale = maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
    const constants = { scale, beta1: this.beta1, beta2: this.beta2, rc2: c.rc2, eps: this.eps };
    const theirUpdates = worker?.update(constants);
    for (const j of mine)
      adamwUpdate(
        j.p,
        j.g,
        j.m,
        j.v,
        j.clip ? scale : 1,
        this.beta1,
        this.beta2,
        j.decay,
        j.stepSize,
        c.rc2,
        this.eps,
      );
    for (const r of (await theirUpdates) ?? []) {
      params.get(r.name)!.data = r.p;
      this.state.m[r.name] = r.m;
      this.state.v[r.name] = r.v;
    }
    return norm;
  }

  /** Ends the worker thread `clipAndStep` started, if any. */
  async close(): Promise<void> {
    await this.worker?.close();
    this.worker = undefined;
  }

  /** Advances the step count; the bias corrections of this step. */
  private constants() {
    const t = ++this.state.step;
    return { c1: 1 - this.beta1 ** t, rc2: 1 / Math.sqrt(1 - this.beta2 ** t) };
  }

  private moments(name: string, p: Float32Array, g: Float32Array) {
    if (g.length !== p.length)
      throw new LatError('BAD_SHAPE', `gradient has ${g.length} values, the parameter ${p.length}`, name);
    const m = (this.state.m[name] ??= new Float32Array(p.length));
    const v = (this.state.v[name] ??= new Float32Array(p.length));
    return { m, v };
  }

  private rates(name: string, baseLr: number, c: { c1: number }) {
    const lr = baseLr * this.lrScale(name);
    return { decay: this.noDecay(name) ? 1 : 1 - lr * this.weightDecay, stepSize: lr / c.c1 };
  }
}

/**
 * The AdamW update of one tensor in place, its gradient scaled by `gScale` (rounded to float32,
 * as a clipped gradient stored in a Float32Array is). Self-contained: the worker runs its source.
 */
function adamwUpdate(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  gScale: number,
  b1: number,
  b2: number,
  decay: number,
  stepSize: number,
  rc2: number,
  eps: number,
): void {
  for (let i = 0; i < p.length; i++) {
    const gi = Math.fround(g[i]! * gScale);
    const mi = (m[i] = b1 * m[i]! + (1 - b1) * gi);
    const vi = (v[i] = b2 * v[i]! + (1 - b2) * gi * gi);
    p[i] = p[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) * rc2 + eps);
  }
}

/** Σ g², in float64 with four running sums. Self-contained: the worker runs its source. */
function sumSquares(g: Float32Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = g.length - (g.length % 4);
  for (let i = 0; i < n; i += 4) {
    s0 += g[i]! * g[i]!;
    s1 += g[i + 1]! * g[i + 1]!;
    s2 += g[i + 2]! * g[i + 2]!;
    s3 += g[i + 3]! * g[i + 3]!;
  }
  for (let i = n; i < g.length; i++) s0 += g[i]! * g[i]!;
  return s0 + s1 + s2 + s3;
}

/** One tensor's share of a `clipAndStep`. */
interface UpdateJob {
  name: string;
  p: Float32Array;
  g: Float32Array;
  m: Float32Array;
  v: Float32Array;
  clip: boolean;
  decay: number;
  stepSize: number;
}

/**
 * Splits the tensors into two halves of about equal size, largest first. Only arrays that own
 * their whole buffer (each its own) can move to the worker; the rest stay on this thread.
 */
function splitJobs(jobs: UpdateJob[]): [UpdateJob[], UpdateJob[]] {
  const arrays = (j: UpdateJob) => [j.p, j.g, j.m, j.v];
  const uses = new Map<ArrayBufferLike, number>();
  for (const a of jobs.flatMap(arrays)) uses.set(a.buffer, (uses.get(a.buffer) ?? 0) + 1);
  const movable = (j: UpdateJob) =>
    arrays(j).every(
      (a) =>
        a.buffer instanceof ArrayBuffer &&
        a.byteOffset === 0 &&
        a.byteLength === a.buffer.byteLength &&
        uses.get(a.buffer) === 1,
    );
  const mine: UpdateJob[] = [];
  const theirs: UpdateJob[] = [];
  let mineSize = 0;
  let theirSize = 0;
  for (const j of [...jobs].sort((a, b) => b.p.length - a.p.length)) {
    if (theirSize < mineSize && movable(j)) {
      theirs.push(j);
      theirSize += j.p.length;
    } else {
      mine.push(j);
      mineSize += j.p.length;
    }
  }
  return [mine, theirs];
}

/** The worker thread's side: holds the moved tensors between the norm and the update message. */
const workerSource = `
const { parentPort } = require('node:worker_threads');
const adamwUpdate = ${adamwUpdate.toString()};
const sumSquares = ${sumSquares.toString()};
let jobs = [];
parentPort.on('message', (msg) => {
  if (msg.jobs) {
    jobs = msg.jobs;
    parentPort.postMessage(jobs.map((j) => [j.name, j.clip ? sumSquares(j.g) : 0]));
    return;
  }
  const c = msg.constants;
  for (const j of jobs) adamwUpdate(j.p, j.g, j.m, j.v, j.clip ? c.scale : 1, c.beta1, c.beta2, j.decay, j.stepSize, c.rc2, c.eps);
  const back = jobs.map(({ name, p, m, v }) => ({ name, p, m, v }));
  parentPort.postMessage(back, back.flatMap((j) => [j.p.buffer, j.m.buffer, j.v.buffer]));
  jobs = [];
});
`;

/** A worker thread that takes the tensors of `clipAndStep` it is given. */
class UpdateWorker {
  private readonly worker = new Worker(workerSource, { eval: true });
  private failure?: Error;

  constructor() {
    this.worker.unref();
    this.worker.on('error', (e) => {
      this.failure = e;
    });
  }

  /** Moves the jobs' arrays to the worker; their gradients' sums of squares. */
  squares(jobs: UpdateJob[]): Promise<[string, number][]> {
    const transfer = jobs.flatMap((j) => [j.p.buffer, j.g.buffer, j.m.buffer, j.v.buffer]) as ArrayBuffer[];
    return this.request({ jobs }, transfer);
  }

  /** Updates the moved tensors and moves them back. */
  update(
    constants: Record<string, number>,
  ): Promise<{ name: string; p: Float32Array; m: Float32Array; v: Float32Array }[]> {
    return this.request({ constants }, []);
  }

  private request<T>(msg: object, transfer: ArrayBuffer[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fail = (e: Error) => {
        this.worker.off('message', done);
        reject(e);
      };
      const done = (r: T) => {
        this.worker.off('error', fail);
        resolve(r);
      };
      if (this.failure) return fail(this.failure);
      this.worker.once('message', done);
      this.worker.once('error', fail);
      this.worker.postMessage(msg, transfer);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/** Scales gradients in place so their global L2 norm is at most `maxNorm`; returns the norm before. */
export function clipGradNorm(grads: Record<string, Float32Array>, maxNorm: number): number {
  let sq = 0;
  for (const g of Object.values(grads)) sq += sumSquares(g);
  const norm = Math.sqrt(sq);
  if (maxNorm > 0 && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const g of Object.values(grads)) for (let i = 0; i < g.length; i++) g[i] = g[i]! * s;
  }
  return norm;
}

/**
 * acc += scale · g (gradient accumulation). A gradient with no entry yet is taken over — scaled
 * in place and stored, not copied — so `grads` must be arrays the caller no longer uses, as a
 * session's outputs are: at bert-base size this saves a 440 MB copy per step and its memory.
 */
export function accumulate(
  acc: Record<string, Float32Array>,
  grads: Record<string, Float32Array>,
  scale = 1,
): void {
  for (const [name, g] of Object.entries(grads)) {
    const a = acc[name];
    if (!a) {
      if (scale !== 1) for (let i = 0; i < g.length; i++) g[i] = g[i]! * scale;
      acc[name] = g;
      continue;
    }
    for (let i = 0; i < g.length; i++) a[i] = a[i]! + scale * g[i]!;
  }
}
