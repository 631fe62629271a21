/** Finite-difference checks of a training graph's gradients (tests only). */
import { type HostTensor, type StateDict, toModelProto } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import type { EncodedBatch } from '../anytime.js';
import type { ModelConfig } from '../architectures/config.js';
import { buildTrainingGraph, taskLoss } from '../training.js';

/** A training graph on one batch: its outputs at some weights, and finite differences of a loss. */
export async function trainingCheck(c: ModelConfig, w: StateDict, x: EncodedBatch, labels: number[]) {
  const seq = x.inputIds.length / x.batch;
  const t = buildTrainingGraph(c, w, { task: 'classification', maxBatch: x.batch, maxSeq: seq });
  const s = await createNodeRuntime({ threads: 1 }).createSession(toModelProto(t.graph));
  const run = (weights: StateDict) =>
    s.run({
      ...t.feeds.batch(x, labels, weights),
      ...t.feeds.teacher(x),
      ...t.feeds.pass(x, {
        setting: undefined,
        dropoutOffsets: new BigInt64Array(t.dropoutSites),
        lossWeights: { [taskLoss]: 1 },
      }),
    });
  /** (L(w + δ) − L(w − δ)) / 2δ for element i of weight `name`. */
  const numeric = async (name: string, i: number, delta = 1e-3) => {
    const at = async (d: number) => {
      const data = Float32Array.from(w.get(name)!.data);
      data[i]! += d;
      return t.feeds.loss(await run(new Map(w).set(name, { dims: w.get(name)!.dims, data })));
    };
    return ((await at(delta)) - (await at(-delta))) / (2 * delta);
  };
  return {
    run,
    grads: (out: Record<string, HostTensor>) => t.feeds.grads(out),
    numeric,
    release: () => s.release(),
  };
}

/** One weight element's gradient from the training graph and by finite differences. */
export interface GradientPair {
  name: string;
  i: number;
  analytic: number;
  numeric: number;
  /** The weight's largest |gradient| (0: it gets none). */
  largest: number;
}

/**
 * The training graph on one batch: its logits, and for every weight in `names` the gradients of
 * elements `at` from the graph next to their finite differences.
 */
export async function gradientPairs(
  c: ModelConfig,
  w: StateDict,
  x: EncodedBatch,
  labels: number[],
  names: readonly string[],
  at: readonly number[],
): Promise<{ logits: number[]; pairs: GradientPair[] }> {
  const check = await trainingCheck(c, w, x, labels);
  try {
    const out = await check.run(w);
    const grads = check.grads(out);
    const pairs: GradientPair[] = [];
    for (const name of names) {
      const g = grads[name]!;
      const largest = Math.max(...Array.from(g, Math.abs));
      for (const i of at)
        pairs.push({ name, i, analytic: g[i]!, numeric: await check.numeric(name, i), largest });
    }
    return { logits: Array.from(out['logits']!.data as Float32Array), pairs };
  } finally {
    await check.release();
  }
}

/** The pairs whose finite difference misses the graph's gradient (by more than 1e-3 + 5%). */
export const gradientMisses = (pairs: readonly GradientPair[]) =>
  pairs.filter((p) => !(Math.abs(p.numeric - p.analytic) < 1e-3 + 0.05 * Math.abs(p.analytic)));
