/**
 * AxFormer's search graph (REFERENCE.md §5): every pruning candidate as graph inputs — block
 * and head switches and per-layer hard-attention k — so one session evaluates them all. It
 * reduces no tokens. `pruneModel` turns the same masks into the physically smaller model whose
 * logits these equal.
 */
import type { AxformerMasks, HostTensor } from '@lat/core';
import type { ModelConfig } from '../architectures/config.js';
import { checkMasks, layerShape } from '../architectures/pruning.js';
import { hardAttention } from '../blocks/attention.js';
import type { TokenReducer } from './reducer.js';

/** The search graph's inputs, named once. */
export const axformerInputs = {
  /** bool [numLayers]: the layer's feed-forward block is on. */
  ffnOn: 'ffn_on',
  /** bool [numLayers]: the layer's attention block is on. */
  attentionOn: 'attention_on',
  /** float [numLayers, numHeads]: 1 keeps the layer's j-th remaining head (columns past its count unused). */
  headOn: 'head_on',
  /** int64 [numLayers]: hard-attention k per layer, 0 for softmax over every key. */
  hardAttentionK: 'hard_attention_k',
} as const;

export const axformerReducer: TokenReducer<AxformerMasks> = {
  name: 'axformer',
  build({ g, config: c }) {
    const L = c.numLayers;
    const ffnOn = g.input(axformerInputs.ffnOn, 'bool', [L]);
    const attentionOn = g.input(axformerInputs.attentionOn, 'bool', [L]);
    const headOn = g.input(axformerInputs.headOn, 'float32', [L, c.numHeads]);
    const hardK = g.input(axformerInputs.hardAttentionK, 'int64', [L]);
    const layer = (x: typeof ffnOn, i: number) => g.gather(x, g.int64(i), 0);
    return {
      blockOn: (i, block) => layer(block === 'ffn' ? ffnOn : attentionOn, i),
      headMask: (i, heads) => g.slice(layer(headOn, i), [0], [heads], [0]),
      attentionScores: (i, scores) => hardAttention(g, scores, layer(hardK, i)),
      reduce: () => undefined,
    };
  },
  feeds(masks, _x, c: ModelConfig): Record<string, HostTensor> {
    checkMasks(c, masks);
    const L = c.numLayers;
    const H = c.numHeads;
    const heads = new Float32Array(L * H);
    for (let i = 0; i < L; i++) masks.heads[i]!.forEach((on, j) => (heads[i * H + j] = on ? 1 : 0));
    const bool = (xs: readonly boolean[]) => Uint8Array.from(xs, (x) => (x ? 1 : 0));
    return {
      [axformerInputs.ffnOn]: { type: 'bool', dims: [L], data: bool(masks.ffn) },
      [axformerInputs.attentionOn]: {
        type: 'bool',
        dims: [L],
        data: bool(masks.attention.map((on, i) => on && layerShape(c, i).heads.length > 0)),
      },
      [axformerInputs.headOn]: { type: 'float32', dims: [L, H], data: heads },
      // A pruned layer's own hard attention stays in the graph; a mask k only makes it harder.
      [axformerInputs.hardAttentionK]: {
        type: 'int64',
        dims: [L],
        data: BigInt64Array.from(masks.hardAttentionK, BigInt),
      },
    };
  },
};
