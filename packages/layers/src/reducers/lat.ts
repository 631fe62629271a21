/**
 * LAT's token reduction (REFERENCE.md §1): after each attention block a token's significance is
 * the attention it receives from real queries; [CLS] is forced, padding ranks below every real
 * token; TopK picks each layer's keep count (a graph input, so one session serves every length
 * configuration) and the kept tokens are put back in their original order.
 */
import { type Graph, type HostTensor, keepCounts, type LengthSpec, type Value } from '@lat/core';
import { layerShape, type ModelConfig } from '../architectures/index.js';
import { dimOf, gatherRows, gatherRowsByBatch } from '../blocks/rows.js';
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
 * Inference: for every layer, whether every example keeps every row the layer receives (bool [1],
 * the condition of the layer's If), from the keep counts alone: eleven ops once instead of
 * seven in every layer. A layer that reduces keeps max_b counts rows (its TopK needs
 * that to be at most the rows it has) and one that keeps everything passes its rows on, so
 * layer i receives min(seq, max_b counts[b, j] over the reducing layers j < i) rows.
 */
function keepsAllByLayer(g: Graph, config: ModelConfig, keep: Value, seqLength: Value): Value[] {
  const layers = config.numLayers;
  const reduces = (j: number) => layerShape(config, j).heads.length > 0; // a pruned attention block keeps every row
  // Counts past the input's length keep it all; the penalty leaves out layer i's own and later layers.
  const most = g.min(g.reduceMax(keep, [0], false), seqLength); // [L]
  const unreached = 2 ** 40;
  const penalty = Array.from({ length: layers * layers }, (_, k) =>
    k % layers < Math.floor(k / layers) && reduces(k % layers) ? 0 : unreached,
  );
  const received = g.min(
    g.reduceMin(g.add(g.unsqueeze(most, [0]), g.int64s(penalty, [layers, layers])), [1], false),
    seqLength,
  ); // [L]
  return g.split(g.not(g.less(g.reduceMin(keep, [0], false), received)), layers);
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
  keepsAllOf?: (layer: number) => Value,
): (x: LayerInput) => LayerReduction {
  const keep = g.input(keepCountsInput, 'int64', ['batch', config.numLayers]);
  const minusOne = g.scalar(-1);
  const big = g.scalar(1e9);
  return ({ layer: i, attended, probs, mask: m, positions: pos }) => {
    // [B]; built where it is read, so a layer that keeps everything runs none of it.
    const countsOf = () => g.gather(keep, g.int64(i), 1);
    return {
      // When every example keeps every current token nothing moves: inference skips the
      // selection ops (an If). Training graphs keep them, as autodiff has no rule for If.
      ...(training
        ? {}
        : {
            keepsAll: () =>
              keepsAllOf?.(i) ?? g.not(g.less(g.reduceMin(countsOf(), [0], false), dimOf(g, attended, 1))),
          }),
      keptRows: () => g.reduceMax(countsOf(), [0], false),
      reduce() {
        const counts = countsOf();
        const kLayer = g.reduceMax(counts, [0], true); // [1]: k = max over the batch
        const kDim = `k${i}`;
        // Attention each row receives from real queries, summed over heads and queries: a
        // batched vector × matrix product reads the probabilities once (a Mul and a ReduceSum
        // over [B, H, n, n] took ~4× as long at bert-base 1 × 384).
        const received = g.reduceSum(g.matmul(g.unsqueeze(m, [1, 2]), probs), [1, 2], false); // [B, n]
        // [CLS] (original position 0, always row 0) first; padding below every real token.
        const isFirst = g.equal(pos, g.int64(0));
        const score = g.where(isFirst, big, g.where(g.greater(m, g.scalar(0)), received, minusOne));
        const [, bySignificance] = g.topK(score, kLayer, 1, { kDim });
        // Back to original order: the k kept positions ascending, and where each came by significance.
        const [idx, rank] = g.topK(bySignificance, kLayer, 1, { kDim, largest: false }); // [B, k]
        // An example keeping fewer than the batch's k: its slots past its own count are unused.
        const valid = g.cast(g.less(rank, g.unsqueeze(counts, [1])), g.float);
        return {
          rows: (x) => (training ? gatherRows(g, x, idx, config.hiddenSize) : gatherRowsByBatch(g, x, idx)),
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
  build: ({ g, config, training, seqLength }) => {
    // Built with the first layer's If (none in a graph with a full-length branch).
    let keepsAll: Value[] | undefined;
    const reduce = latLayers(g, config, training, (i) => {
      keepsAll ??= keepsAllByLayer(g, config, keep, seqLength);
      return keepsAll[i]!;
    });
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
