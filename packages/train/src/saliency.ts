/**
 * AdapLeR's saliency targets (REFERENCE.md §3): for each training example, with a fine-tuned
 * model, no dropout and no token removal, H0 = the embeddings' output and G = ∂ logit_gold / ∂ H0
 * (the gold label's pre-softmax logit); a token's target is ‖G_j ⊙ H0_j‖₂. Several checkpoints'
 * targets are averaged. G comes from our autodiff as the gradient w.r.t. a zero shift added to
 * H0. Targets are cached on disk, keyed by the model's weights and the encoded data, with the
 * tokenised-data cache's atomic, checksummed entries.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Graph, grad, LatError, type Runtime, type StateDict, toModelProto } from '@lat/core';
import { buildEncoder, encoderFeeds, initializerWeights, type ModelConfig } from '@lat/layers';
import { chunk, type Encoded, padBatch } from './batches.js';
import { readCacheEntry, writeCacheEntry } from './data/cache.js';

const shiftInput = 'embeddings_shift';
const labelsInput = 'labels';
const embeddingsOutput = 'embeddings';

/** The graph: Σ_b logit[b, gold_b] (each example's gradient is its own), H0 and ∂/∂H0. */
export function buildSaliencyGraph(config: ModelConfig, weights: StateDict): Graph {
  const g = new Graph('lat-saliency');
  const shift = g.input(shiftInput, 'float32', ['batch', 'seq', config.hiddenSize]);
  const out = buildEncoder(g, config, weights, initializerWeights(g, weights), {
    head: 'classification',
    embeddingsShift: shift,
  });
  const labels = g.input(labelsInput, 'int64', ['batch']);
  const gold =
    config.numLabels === 1 ? out.logits! : g.gatherElements(out.logits!, g.unsqueeze(labels, [1]), 1);
  g.output(out.embeddings, embeddingsOutput);
  return grad(g, g.reduceSum(gold, [0, 1], false), [shift]).graph;
}

/** One model's targets: per example, one value per token. */
async function saliencyOf(
  runtime: Runtime,
  config: ModelConfig,
  weights: StateDict,
  data: readonly Encoded[],
  batchSize: number,
): Promise<Float32Array[]> {
  const session = await runtime.createSession(toModelProto(buildSaliencyGraph(config, weights)));
  const d = config.hiddenSize;
  const out: Float32Array[] = [];
  try {
    for (const group of chunk(data, batchSize)) {
      const x = padBatch(group);
      const r = await session.run({
        ...encoderFeeds(config, x),
        [shiftInput]: {
          type: 'float32',
          dims: [x.batch, x.seq, d],
          data: new Float32Array(x.batch * x.seq * d),
        },
        [labelsInput]: {
          type: 'int64',
          dims: [x.batch],
          data: BigInt64Array.from(group, (e) => BigInt(e.label)),
        },
      });
      const h0 = r[embeddingsOutput]!.data as Float32Array;
      const gh = r[`grad.${shiftInput}`]!.data as Float32Array;
      group.forEach((e, b) => {
        const s = new Float32Array(e.ids.length);
        for (let j = 0; j < e.ids.length; j++) {
          let sq = 0;
          for (let k = (b * x.seq + j) * d, end = k + d; k < end; k++) sq += (gh[k]! * h0[k]!) ** 2;
          s[j] = Math.sqrt(sq);
        }
        out.push(s);
      });
    }
  } finally {
    await session.release();
  }
  return out;
}

/** Saliency targets of `data`, averaged over the models `weights` (the best fine-tuned checkpoints). */
export async function computeSaliency(
  runtime: Runtime,
  config: ModelConfig,
  weights: readonly StateDict[],
  data: readonly Encoded[],
  o: { batchSize?: number } = {},
): Promise<Float32Array[]> {
  let sum: Float32Array[] | undefined;
  for (const w of weights) {
    const s = await saliencyOf(runtime, config, w, data, o.batchSize ?? 32);
    if (!sum) sum = s;
    else sum.forEach((t, i) => t.forEach((_, j) => (t[j]! += s[i]![j]!)));
  }
  for (const t of sum ?? []) for (let j = 0; j < t.length; j++) t[j]! /= weights.length;
  return sum ?? [];
}

/** A short hash of weights (names, shapes, values): what a cache entry's model is. */
export function weightsFingerprint(weights: StateDict): string {
  const h = createHash('sha256');
  for (const name of [...weights.keys()].sort()) {
    const t = weights.get(name)!;
    h.update(`${name}:${t.dims.join('x')}\n`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}

/** A short hash of the averaged models: what a saliency entry's `model` is. */
export function modelsFingerprint(weights: readonly StateDict[]): string {
  return createHash('sha256').update(weights.map(weightsFingerprint).join(',')).digest('hex').slice(0, 16);
}

/** A short hash of encoded examples in order (ids, token types, labels). */
export function dataFingerprint(data: readonly Encoded[]): string {
  const h = createHash('sha256');
  for (const e of data) h.update(JSON.stringify([e.ids, e.typeIds, e.label]));
  return h.digest('hex').slice(0, 16);
}

const MAGIC = 'LATSAL1\n';

interface SaliencyHeader {
  model: string;
  data: string;
  count: number;
  tokens: number;
}

/** Saliency targets, where they came from and whether they were read from the cache. */
export interface SaliencyTargets {
  targets: Float32Array[];
  file: string;
  /** `modelsFingerprint` of the models the targets came from. */
  model: string;
  fromCache: boolean;
}

/**
 * The targets of `data` under the averaged models, from `<cacheDir>/saliency.<key>.bin` when an
 * entry for these models and data exists (and is intact), else computed and written there.
 */
export async function saliencyTargets(
  runtime: Runtime,
  config: ModelConfig,
  weights: readonly StateDict[],
  data: readonly Encoded[],
  o: { cacheDir: string; batchSize?: number },
): Promise<SaliencyTargets> {
  const model = modelsFingerprint(weights);
  const dataId = dataFingerprint(data);
  const file = join(o.cacheDir, `saliency.${model}.${dataId}.bin`);
  const cached = readSaliencyEntry(file);
  if (cached && cached.header.model === model && cached.header.data === dataId)
    return { targets: cached.targets, file, model, fromCache: true };
  const targets = await computeSaliency(runtime, config, weights, data, o);
  const tokens = targets.reduce((a, t) => a + t.length, 0);
  const body = new ArrayBuffer(targets.length * 4 + tokens * 4);
  const lengths = new Int32Array(body, 0, targets.length);
  const values = new Float32Array(body, targets.length * 4, tokens);
  let at = 0;
  targets.forEach((t, i) => {
    lengths[i] = t.length;
    values.set(t, at);
    at += t.length;
  });
  const header: SaliencyHeader = { model, data: dataId, count: targets.length, tokens };
  writeCacheEntry(o.cacheDir, file, MAGIC, header, new Uint8Array(body));
  return { targets, file, model, fromCache: false };
}

function readSaliencyEntry(file: string): { header: SaliencyHeader; targets: Float32Array[] } | undefined {
  const entry = readCacheEntry<SaliencyHeader>(file, MAGIC);
  if (!entry) return undefined;
  const { header, body } = entry;
  if (body.byteLength !== (header.count + header.tokens) * 4) return undefined;
  const lengths = new Int32Array(body, 0, header.count);
  const values = new Float32Array(body, header.count * 4, header.tokens);
  const targets: Float32Array[] = [];
  let at = 0;
  for (const n of lengths) {
    if (n < 0 || at + n > header.tokens) return undefined;
    targets.push(values.slice(at, at + n));
    at += n;
  }
  return { header, targets };
}

/**
 * Saliency targets from a file the user names: refused, naming the file and the fix, when it was
 * computed for other weights or other data (or is not a saliency file at all).
 */
export function readSaliencyFile(file: string, expect: { model: string; data: string }): Float32Array[] {
  const entry = readSaliencyEntry(file);
  if (!entry)
    throw new LatError(
      'BAD_FILE',
      'not a lat saliency-targets file (or damaged); compute targets again with `lat saliency`',
      file,
    );
  const what =
    entry.header.model !== expect.model
      ? 'model'
      : entry.header.data !== expect.data
        ? 'data file'
        : undefined;
  if (what)
    throw new LatError(
      'BAD_DATA',
      `these saliency targets were computed for another ${what}; compute them for this one with \`lat saliency\` (or drop --saliency to compute them)`,
      file,
    );
  return entry.targets;
}
