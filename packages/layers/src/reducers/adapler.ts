/**
 * AdapLeR's token removal (REFERENCE.md §3): before every layer i a Contribution Predictor
 * CP_i = Linear(d→32) → GELU → Linear(32→1) scores the layer's input tokens; a softmax over the
 * tokens still present gives each one's predicted contribution p_j, and a token survives when
 * p_j ≥ δ_i = η_i / n_i (n_i = tokens present, [CLS] included). [CLS] is always kept.
 *
 * Inference (hard removal, per input): the removed tokens are masked as keys of layer i's
 * attention and their rows are dropped before its feed-forward block, so each example keeps its
 * own count per layer; a batch is padded to its largest count. Dropping the rows after the
 * attention rather than before is equivalent (a token's query row changes nothing for the
 * others) and lets the reducer use the encoder's per-layer hook; it costs the attention
 * projections of the tokens removed at that layer, which `adaplerMacs` counts.
 *
 * Training (soft removal): no row is dropped; the removal function S (annealed λ, β = 0.1) scales
 * a running soft mask and accumulates into an additive attention-key mask, and the reducer adds
 * two loss terms: the KL of each CP's distribution to the saliency targets re-normalised over the
 * surviving tokens, weighted (L − i), and the soft length Σ_i n_i (mean over the batch).
 */
import {
  adaplerEtaInRange,
  adaplerEtaRange,
  type BundleAdapler,
  encoderMacs,
  type Graph,
  type HostTensor,
  LatError,
  Rng,
  type StateDict,
  type Value,
} from '@lat/core';
import type { ModelConfig } from '../architectures/index.js';
import { dimOf, gatherRows, range } from '../blocks/rows.js';
import type { ReducerGraph, TokenReducer } from './reducer.js';

/** Width of a Contribution Predictor's hidden layer (the reference's). */
export const predictorWidth = 32;
/** The reference's initial threshold factor η and the range η is clipped to after every step. */
export const etaInit = 0.25;
export const etaRange = adaplerEtaRange;
const beta = 0.1;

/** AdapLeR's weight names, graph inputs and loss terms, named once. */
export const adapler = {
  /** η, one per layer [numLayers]. */
  eta: 'adapler.eta',
  /** CP_i's two linear layers (`.weight`, `.bias`, PyTorch layout). */
  predictor: (layer: number, part: 'hidden' | 'out') => `adapler.cp.${layer}.${part}`,
  /** Training graph inputs: λ [1] and the saliency targets [batch, seq]. */
  lambdaInput: 'adapler_lambda',
  saliencyInput: 'adapler_saliency',
  /** Σ_i (L − i) · KL_i: reaches the model's weights (scaled by γ). */
  klLoss: 'adapler.kl',
  /** mean_b Σ_i n_i, the soft kept lengths: reaches η (scaled by φ). */
  lengthLoss: 'adapler.length',
} as const;

/**
 * The file next to model.safetensors that holds the predictors and η (canonical names), so
 * model.safetensors stays a plain Hugging Face checkpoint.
 */
export const adaplerWeightsFile = 'adapler.safetensors';

/** Whether a weight is AdapLeR's (a predictor's or η). */
export const isAdaplerWeight = (name: string) => name.startsWith('adapler.');

/** Whether a model's weights are an AdapLeR model's (they hold the thresholds η). */
export const hasAdaplerWeights = (weights: StateDict) => weights.has(adapler.eta);

/** η per layer, as numbers. */
export const adaplerEta = (weights: StateDict): number[] => Array.from(weights.get(adapler.eta)!.data);

/** A bundle's `model.adapler` section for these (checked) AdapLeR weights: η and the predictors' initializer names. */
export function adaplerBundleSection(config: ModelConfig, weights: StateDict): BundleAdapler {
  const parts = ['hidden', 'out'] as const;
  return {
    eta: adaplerEta(weights),
    etaInitializer: adapler.eta,
    predictorWidth,
    predictors: Array.from({ length: config.numLayers }, (_, i) =>
      parts.flatMap((part) => ['weight', 'bias'].map((k) => `${adapler.predictor(i, part)}.${k}`)),
    ),
  };
}

/** Whether a weight is one of AdapLeR's thresholds (trained by their own optimiser). */
export const isAdaplerThreshold = (name: string) => name === adapler.eta;

/**
 * A training pass's setting: λ of the removal function and each example's saliency targets
 * ([batch × seq], row-major, padding 0). Inference takes `undefined`: hard removal (λ → ∞).
 */
export type AdaplerSetting = { lambda: number; saliency: Float32Array } | undefined;

function predictorShapes(config: ModelConfig): Map<string, number[]> {
  const d = config.hiddenSize;
  const out = new Map<string, number[]>();
  for (let i = 0; i < config.numLayers; i++) {
    out.set(`${adapler.predictor(i, 'hidden')}.weight`, [predictorWidth, d]);
    out.set(`${adapler.predictor(i, 'hidden')}.bias`, [predictorWidth]);
    out.set(`${adapler.predictor(i, 'out')}.weight`, [1, predictorWidth]);
    out.set(`${adapler.predictor(i, 'out')}.bias`, [1]);
  }
  out.set(adapler.eta, [config.numLayers]);
  return out;
}

/** Fresh predictors (kernels truncated normal σ 0.02, biases 0, as the reference) and η = 0.25. */
export function initialAdaplerWeights(config: ModelConfig, seed: number): StateDict {
  const rng = new Rng(seed);
  const out: StateDict = new Map();
  for (const [name, dims] of predictorShapes(config)) {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    if (name === adapler.eta) data.fill(etaInit);
    else if (name.endsWith('.weight'))
      for (let i = 0; i < data.length; i++) {
        let x = rng.normal();
        while (Math.abs(x) > 2) x = rng.normal(); // truncated at 2σ
        data[i] = 0.02 * x;
      }
    out.set(name, { dims, data });
  }
  return out;
}

/**
 * Checks a model's AdapLeR weights: every predictor weight present with its shape, and η inside
 * [0.01, 1] (what training keeps it in). `where` names the file in the error.
 */
export function checkAdaplerWeights(weights: StateDict, config: ModelConfig, where: string): void {
  for (const [name, dims] of predictorShapes(config)) {
    const t = weights.get(name);
    if (!t)
      throw new LatError(
        'MISSING_TENSORS',
        `the AdapLeR weight ${name} is missing; the file is not an AdapLeR model (or is damaged) — train one with \`lat train --method adapler\``,
        where,
      );
    if (t.dims.join(',') !== dims.join(','))
      throw new LatError(
        'MISSING_TENSORS',
        `the AdapLeR weight ${name} is [${t.dims}] but the config needs [${dims}]; the predictors come from another model`,
        where,
      );
  }
  const eta = weights.get(adapler.eta)!.data;
  const bad = Array.from(eta).findIndex((v) => !adaplerEtaInRange(v));
  if (bad >= 0)
    throw new LatError(
      'BAD_FILE',
      `${adapler.eta}[${bad}] = ${eta[bad]} lies outside [${etaRange[0]}, ${etaRange[1]}]; training keeps η in that range, so the file was edited or damaged — retrain or restore it`,
      where,
    );
}

/** Where-based min/max/clip: autodiff differentiates Where, and ORT's Min/Max have no rule there. */
const minOf = (g: Graph, a: Value, b: Value) => g.where(g.less(a, b), a, b);
const atLeast = (g: Graph, x: Value, lo: number) => g.where(g.less(x, g.scalar(lo)), g.scalar(lo), x);

export const adaplerReducer: TokenReducer<AdaplerSetting> = {
  name: 'adapler',
  parameters: predictorShapes,
  build({ g, config, training, param }): ReducerGraph {
    const L = config.numLayers;
    const eta = param(adapler.eta);
    const lambda = training ? g.input(adapler.lambdaInput, 'float32', [1]) : undefined;
    const saliency = training ? g.input(adapler.saliencyInput, 'float32', ['batch', 'seq']) : undefined;

    /**
     * p = softmax(CP_i(x)) re-normalised over `present` [B, n] (soft or hard presence). With a
     * hard mask the absent tokens are also biased out of the softmax, so a padded row computes
     * exactly what the same input alone does (the renormalisation alone would differ by rounding).
     */
    const contributions = (i: number, x: Value, present: Value, hard = false): Value => {
      const hidden = g.gelu(
        g.linear(
          x,
          param(`${adapler.predictor(i, 'hidden')}.weight`),
          param(`${adapler.predictor(i, 'hidden')}.bias`),
        ),
      );
      const z = g.squeeze(
        g.linear(
          hidden,
          param(`${adapler.predictor(i, 'out')}.weight`),
          param(`${adapler.predictor(i, 'out')}.bias`),
        ),
        [2],
      );
      const logits = hard ? g.add(z, g.mul(g.sub(g.scalar(1), present), g.scalar(-10000))) : z;
      const e = g.mul(g.softmax(logits, -1), present);
      return g.div(e, g.add(g.reduceSum(e, [1], true), g.scalar(1e-15)));
    };
    const first = (n: Value) => g.cast(g.equal(range(g, n), g.int64(0)), g.float); // [n]: 1 at [CLS]

    if (!training) {
      // Hard removal: `keep` of the current layer, read by `reduce` after the attention.
      let keep: Value | undefined;
      return {
        attentionScores(i, scores, m, x) {
          const cls = first(dimOf(g, m, 1));
          const p = contributions(i, x, m, true);
          const delta = g.div(g.gather(eta, g.int64(i), 0), g.reduceSum(m, [1], true)); // [B, 1]
          const above = g.cast(g.not(g.less(p, delta)), g.float);
          keep = g.mul(m, g.add(above, g.mul(g.sub(g.scalar(1), above), cls))); // [CLS] forced
          return g.add(scores, g.unsqueeze(g.mul(g.sub(g.scalar(1), keep), g.scalar(-10000)), [1, 2]));
        },
        reduce({ layer: i, attended, positions }) {
          const kept = keep!;
          const counts = g.reduceSum(kept, [1], false); // [B]
          const current = dimOf(g, attended, 1);
          return {
            keepsAll: () => g.not(g.less(g.reduceMin(counts, [0], false), g.cast(current, g.float))),
            reduce() {
              const kDim = `k${i}`;
              const k = g.cast(g.reduceMax(counts, [0], true), 'int64'); // [1]
              // Kept tokens first, each group in original order: score = kept·big − position.
              const order = g.cast(range(g, current), g.float);
              const score = g.sub(g.mul(kept, g.scalar(1e6)), g.unsqueeze(order, [0]));
              const [, idx] = g.topK(score, k, 1, { kDim });
              const valid = g.gatherElements(kept, idx, 1);
              return {
                rows: (x) => gatherRows(g, x, idx, config.hiddenSize),
                mask: valid,
                positions: g.gatherElements(positions, idx, 1),
                valid,
              };
            },
          };
        },
      };
    }

    // Soft removal. `soft`: the running mask of the non-[CLS] tokens; `keyBias`: the additive key mask.
    let soft: Value | undefined;
    let keyBias: Value | undefined;
    const kls: Value[] = [];
    const lengths: Value[] = [];
    return {
      attentionScores(i, scores, m, x) {
        const cls = first(dimOf(g, m, 1));
        soft ??= g.mul(m, g.sub(g.scalar(1), cls));
        const present = g.add(soft, cls);
        const p = contributions(i, x, present);
        const n = g.add(g.reduceSum(soft, [1], true), g.scalar(1)); // [B, 1]
        const delta = g.div(g.gather(eta, g.int64(i), 0), n);
        kls.push(g.mul(g.scalar(L - i), klToTargets(g, saliency!, present, p, cls)));

        // S(x) = clip(min(0, (λ/δ)(x − δ) − β/λ, (β/λ)(x − 1)/(1 − δ)), −1e4, 0)
        const betaOverLambda = g.div(g.scalar(beta), lambda!);
        const steep = g.sub(g.mul(g.div(lambda!, delta), g.sub(p, delta)), betaOverLambda);
        const gentle = g.div(
          g.mul(g.sub(p, g.scalar(1)), betaOverLambda),
          g.add(g.sub(g.scalar(1), delta), g.scalar(1e-7)),
        );
        const s = atLeast(g, minOf(g, g.scalar(0), minOf(g, steep, gentle)), -10000);
        // As the reference: the edit is scaled by the mask, and near-zero entries stay as they are.
        const edit = g.mul(s, soft);
        soft = g.mul(soft, g.where(g.greater(soft, g.scalar(1e-6)), g.exp(edit), g.scalar(1)));
        keyBias = atLeast(g, keyBias ? g.add(keyBias, edit) : edit, -10000);
        lengths.push(g.add(g.reduceSum(soft, [1], false), g.scalar(1))); // [B]
        return g.add(scores, g.unsqueeze(keyBias, [1, 2]));
      },
      reduce: () => undefined,
      losses() {
        const sum = (vs: Value[]) => vs.reduce((a, b) => g.add(a, b));
        return {
          [adapler.klLoss]: sum(kls),
          [adapler.lengthLoss]: g.reduceMean(sum(lengths), [0], false),
        };
      },
    };
  },
  feeds(setting, x): Record<string, HostTensor> {
    if (!setting) return {};
    const seq = x.attentionMask.length / x.batch;
    if (setting.saliency.length !== x.batch * seq)
      throw new LatError(
        'BAD_SHAPE',
        `saliency targets have ${setting.saliency.length} values for a ${x.batch}×${seq} batch`,
        adapler.saliencyInput,
      );
    return {
      [adapler.lambdaInput]: { type: 'float32', dims: [1], data: Float32Array.of(setting.lambda) },
      [adapler.saliencyInput]: { type: 'float32', dims: [x.batch, seq], data: setting.saliency },
    };
  },
};

/**
 * mean_b w_b · KL(t ‖ p) with t = the saliency re-normalised over the present tokens, both
 * clipped to [1e-7, 1] as Keras's KL does, and w_b = stopgrad(max_{j≠CLS} present) (0 once every
 * other token is gone). The weight's max is a TopK, which autodiff does not differentiate.
 */
function klToTargets(g: Graph, saliency: Value, present: Value, p: Value, cls: Value): Value {
  const s = g.mul(saliency, present);
  const t = atLeast(g, g.div(s, g.add(g.reduceSum(s, [1], true), g.scalar(1e-15))), 1e-7);
  const q = atLeast(g, p, 1e-7);
  const kl = g.reduceSum(g.mul(t, g.log(g.div(t, q))), [1], false); // [B]
  const others = g.mul(present, g.sub(g.scalar(1), cls));
  const [w] = g.topK(others, g.int64s([1]), 1);
  return g.reduceMean(g.mul(kl, g.squeeze(w, [1])), [0], false);
}

/** Multiply-accumulates of one Contribution Predictor over `n` tokens. */
const predictorMacs = (d: number, n: number) => n * (d * predictorWidth + 2 * predictorWidth + 1);

/**
 * Realised MACs of one input of `seqLen` real tokens that kept `kept[i]` tokens in layer i: the
 * LAT cost model with n_in = the previous layer's count (attention runs before the rows are
 * dropped) plus every predictor on its layer's input.
 */
export function adaplerMacs(config: ModelConfig, seqLen: number, kept: readonly number[]): number {
  let predictors = 0;
  kept.forEach((_, i) => {
    predictors += predictorMacs(config.hiddenSize, i === 0 ? seqLen : kept[i - 1]!);
  });
  return encoderMacs(config, seqLen, kept) + predictors;
}

/** Per-input lengths of a run over many inputs, and what they cost. */
export interface LengthReport {
  inputs: number;
  /** Mean real (unpadded) input length. */
  meanInputLength: number;
  /** Mean kept tokens per layer. */
  meanKept: number[];
  /** Smallest and largest kept count per layer: the spread across inputs. */
  minKept: number[];
  maxKept: number[];
  /** Per layer, how many inputs kept each count: `histogram[i][k]` inputs kept k tokens. */
  histogram: number[][];
  /** Σ full MACs at each input's unpadded length / Σ realised MACs (predictors included). */
  macsSpeedup: number;
  fullMacs: number;
  realisedMacs: number;
}

/** Summarises kept counts [input][layer] of inputs with real lengths `lengths`. */
export function lengthReport(
  config: ModelConfig,
  lengths: readonly number[],
  kept: readonly (readonly number[])[],
): LengthReport {
  const L = config.numLayers;
  const layers = Array.from({ length: L }, (_, i) => kept.map((k) => k[i]!));
  const fullMacs = lengths.reduce((a, n) => a + encoderMacs(config, n), 0);
  const realisedMacs = lengths.reduce((a, n, b) => a + adaplerMacs(config, n, kept[b]!), 0);
  return {
    inputs: lengths.length,
    meanInputLength: lengths.reduce((a, b) => a + b, 0) / lengths.length,
    meanKept: layers.map((l) => l.reduce((a, b) => a + b, 0) / l.length),
    minKept: layers.map((l) => Math.min(...l)),
    maxKept: layers.map((l) => Math.max(...l)),
    histogram: layers.map((l) => {
      const h = new Array<number>(Math.max(...l) + 1).fill(0);
      for (const k of l) h[k]!++;
      return h;
    }),
    macsSpeedup: fullMacs / realisedMacs,
    fullMacs,
    realisedMacs,
  };
}
