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
    this.update(params, grads, baseLr, () => 1);
  }

  /**
   * Clips the gradients of the parameters `clipped` selects (default: all) to global L2 norm
   * `maxNorm` (0: no clipping) and takes one AdamW step: the same numbers as `clipGradNorm`
   * followed by `step`, with the clip scale folded into the update — one pass over the weights
   * instead of three (the gradients are left unscaled). Returns the norm before clipping.
   */
  clipAndStep(
    params: Record<string, Float32Array>,
    grads: Record<string, Float32Array>,
    baseLr: number,
    maxNorm: number,
    clipped: (name: string) => boolean = () => true,
  ): number {
    const { norm, scale } = clipScale(grads, maxNorm, clipped);
    this.update(params, grads, baseLr, (name) => (clipped(name) ? scale : 1));
    return norm;
  }

  /** The AdamW step, each gradient scaled by `gScale(name)`. */
  private update(
    params: Record<string, Float32Array>,
    grads: Record<string, Float32Array>,
    baseLr: number,
    gScale: (name: string) => number,
  ): void {
    const t = ++this.state.step;
    const c1 = 1 - this.beta1 ** t;
    const rc2 = 1 / Math.sqrt(1 - this.beta2 ** t);
    for (const [name, p] of Object.entries(params)) {
      const g = grads[name];
      if (!g) continue;
      if (g.length !== p.length)
        throw new LatError('BAD_SHAPE', `gradient has ${g.length} values, the parameter ${p.length}`, name);
      const m = (this.state.m[name] ??= new Float32Array(p.length));
      const v = (this.state.v[name] ??= new Float32Array(p.length));
      const lr = baseLr * this.lrScale(name);
      const decay = this.noDecay(name) ? 1 : 1 - lr * this.weightDecay;
      adamwUpdate(p, g, m, v, gScale(name), this.beta1, this.beta2, decay, lr / c1, rc2, this.eps);
    }
  }
}

/**
 * The AdamW update of one tensor in place, its gradient scaled by `gScale` (rounded to float32,
 * as a clipped gradient stored in a Float32Array is).
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

/** Σ g², in float64 with four running sums. */
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

/**
 * The global L2 norm of the gradients `included` selects (summed per tensor in the gradients'
 * order) and the factor that clips it to `maxNorm` (1 when within it, or when `maxNorm` is 0).
 */
function clipScale(
  grads: Record<string, Float32Array>,
  maxNorm: number,
  included: (name: string) => boolean = () => true,
): { norm: number; scale: number } {
  let sq = 0;
  for (const [name, g] of Object.entries(grads)) if (included(name)) sq += sumSquares(g);
  const norm = Math.sqrt(sq);
  return { norm, scale: maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1 };
}

/** Scales gradients in place so their global L2 norm is at most `maxNorm`; returns the norm before. */
export function clipGradNorm(grads: Record<string, Float32Array>, maxNorm: number): number {
  const { norm, scale } = clipScale(grads, maxNorm);
  if (scale !== 1)
    for (const g of Object.values(grads)) for (let i = 0; i < g.length; i++) g[i] = g[i]! * scale;
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
