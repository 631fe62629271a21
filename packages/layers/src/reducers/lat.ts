/**
 * LAT's token reduction (REFERENCE.md §1): after each attention block a token's significance is
 * the attention it receives from real queries; [CLS] is forced, padding ranks below every real
 * token; TopK picks each layer's keep count (a graph input, so one session serves every length
 * configuration) and the kept tokens are put back in their original order.
 */
import { type Graph, type HostTensor, keepCounts, type LengthSpec, type Value } from '@lat/core';
import type { ModelConfig } from '../architectures/index.js';
import { gatherRows, range } from '../blocks/rows.js';
import type { LayerInput, LayerReduction, ReducerBatch, TokenReducer } from './reducer.js';

/** The graph input holding per-example keep counts [batch, numLayers]. */
export const keepCountsInput = 'keep_counts';

/**
 * A LAT setting: a length configuration (absolute or ratio; undefined = full length), or keep
 * counts given per example and layer (what LengthDrop samples while training).
 */
export type LatSetting = LengthSpec | { form: 'counts'; counts: readonly (readonly number[])[] } | undefined;

function counts(setting: LatSetting, x: ReducerBatch, numLayers: number): BigInt64Array {
  if (setting?.form === 'counts') return BigInt64Array.from(setting.counts.flat(), BigInt);
  return keepCounts(setting, x.attentionMask, x.batch, numLayers);
}

/** Real (unpadded) length of each example. */
export function realLengths(x: ReducerBatch): number[] {
  const seq = x.attentionMask.length / x.batch;
  return Array.from({ length: x.batch }, (_, b) => {
    let n = 0;
    for (let j = 0; j < seq; j++) n += Number(x.attentionMask[b * seq + j]);
    return n;
  });
}

/**
 * LAT's per-layer reduction over the `keep_counts` input (declared here): each layer keeps its
 * count of most-attended rows, in original order. Reducers that combine LAT lengths with their
 * own reduction (a pooled model's later layers) call it for the layers LAT reduces.
 */
export function latLayers(
  g: Graph,
  config: ModelConfig,
  training: boolean,
): (x: LayerInput) => LayerReduction {
  const keep = g.input(keepCountsInput, 'int64', ['batch', config.numLayers]);
  const minusOne = g.scalar(-1);
  const big = g.scalar(1e9);
  return ({ layer: i, attended, probs, mask: m, positions: pos }) => {
    const counts = g.gather(keep, g.int64(i), 1); // [B]
    const current = g.squeeze(g.slice(g.shapeOf(attended), [1], [2], [0], [1]), [0]);
    return {
      // When every example keeps every current token nothing moves: inference skips the
      // selection ops (an If). Training graphs keep them, as autodiff has no rule for If.
      ...(training ? {} : { keepsAll: g.not(g.less(g.reduceMin(counts, [0], false), current)) }),
      keptRows: () => g.reduceMax(counts, [0], false),
      reduce() {
        const kLayer = g.reduceMax(counts, [0], true); // [1]: k = max over the batch
        const kDim = `k${i}`;
        const rank = range(g, g.squeeze(kLayer, [0]), kDim);
        const validByRank = g.cast(g.less(g.unsqueeze(rank, [0]), g.unsqueeze(counts, [1])), g.float); // [B, k]
        const received = g.reduceSum(g.mul(probs, g.unsqueeze(m, [1, 3])), [1, 2], false); // [B, n]
        const real = g.greater(m, g.scalar(0));
        const isFirst = g.equal(range(g, current), g.int64(0));
        const score = g.where(isFirst, big, g.where(real, received, minusOne));
        const [, bySignificance] = g.topK(score, kLayer, 1, { kDim });
        // Back to original order: the k smallest positions first, via TopK of the negated indices.
        const [, order] = g.topK(g.neg(g.cast(bySignificance, g.float)), kLayer, 1, { kDim });
        const idx = g.gatherElements(bySignificance, order, 1); // [B, k] ascending positions
        const valid = g.gatherElements(validByRank, order, 1);
        return {
          rows: (x) => gatherRows(g, x, idx, config.hiddenSize),
          mask: g.mul(g.gatherElements(m, idx, 1), valid),
          positions: g.gatherElements(pos, idx, 1),
          valid,
        };
      },
    };
  };
}

/**
 * LAT's reducer: each layer keeps its `keep_counts` most-attended tokens (per example, [CLS]
 * always), in original order; fed from a {@link LatSetting}.
 */
export const latReducer: TokenReducer<LatSetting> = {
  name: 'lat',
  build: ({ g, config, training }) => {
    const reduce = latLayers(g, config, training);
    const keep = g.value(keepCountsInput);
    return {
      reduce,
      // Every keep count at least the input length: nothing to select anywhere (full length).
      ...(training
        ? {}
        : { keepsEverything: (n: Value) => g.not(g.less(g.reduceMin(keep, [0, 1], false), n)) }),
    };
  },
  keepsEverything(feeds, seq) {
    const counts = feeds[keepCountsInput]!.data as BigInt64Array;
    for (let i = 0; i < counts.length; i++) if (counts[i]! < seq) return false;
    return true;
  },
  feeds(setting, x, config: ModelConfig): Record<string, HostTensor> {
    return {
      [keepCountsInput]: {
        type: 'int64',
        dims: [x.batch, config.numLayers],
        data: counts(setting, x, config.numLayers),
      },
    };
  },
};
