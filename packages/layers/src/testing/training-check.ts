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
