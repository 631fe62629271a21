/**
 * The encoder as one ONNX graph, put together from named parts: the architecture's embeddings
 * (architectures/), per layer self-attention (blocks/attention) → a token reducer's choice of
 * rows (reducers/) → feed-forward on the kept rows only (blocks/feed-forward) → Drop-and-Restore
 * into a full-length buffer (blocks/restore), and the heads (the architecture's classification
 * head, or the span head). Without a reducer it is a plain encoder with no selection ops.
 */
import type { Graph, Tensor32, Value } from '@lat/core';
import { architectureOf, layerShape, type ModelConfig } from './architectures/index.js';
import { globalRows, keyBias, knownKeyBias, selfAttention } from './blocks/attention.js';
import { blocks, type Dropout, type WeightSource } from './blocks/context.js';
import { feedForward } from './blocks/feed-forward.js';
import { spanHead } from './blocks/heads.js';
import { restoreRows } from './blocks/restore.js';
import { dimOf, range } from './blocks/rows.js';
import type { Int8Weights, ModelDtype } from './quantize.js';
import { attentionChunk, lastBlockwiseLayer } from './reducers/pooling.js';
import type { ReducerGraph, TokenReducer } from './reducers/reducer.js';

export { type Dropout, initializerWeights, type WeightSource } from './blocks/context.js';

/** The encoder's own graph inputs, named once. */
export const encoderInputs = {
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  tokenTypeIds: 'token_type_ids',
  /** LayerDrop switches, bool [numLayers] (training graphs with LayerDrop). */
  layerOn: 'layer_on',
} as const;

/**
 * The name of the If around the whole encoder (`fullLengthBranch`): its branches are
 * `<name>/then` (full length, no selection ops) and `<name>/else` (with them).
 */
export const fullLengthIf = 'lat_full_length';

/** The name of layer `i`'s If that skips its selection ops when it keeps every token. */
export const keepsAllIf = (layer: number) => `lat_keeps_all_${layer}`;

/** How `buildEncoder` builds: head, token selection, kept-position outputs, restore, dropout, LayerDrop. */
export interface EncoderOptions {
  /** Heads to build: the architecture's classification head or a span head. */
  head: 'classification' | 'span';
  /** The token reducer; none builds a plain encoder without any selection ops. */
  reducer?: TokenReducer<unknown>;
  /** Expose the kept positions of each layer (−1 for padding and unused slots). */
  keptPositions?: boolean;
  /** Drop-and-Restore: on by default for span heads (false is the ablation), off for classification. */
  restore?: boolean;
  /** Training-only inputs: dropout noise and LayerDrop switches. */
  training?: { dropout: Dropout; layerDrop: boolean };
  /** q8: the encoder layers' linears run as int8 dynamic quantisation (inference graphs only). */
  dtype?: ModelDtype;
  /** q8: how the int8 weights are laid out (default per-channel 7-bit). */
  int8Weights?: Int8Weights;
  /** Added to the embeddings' output [B, n, d]: gradients w.r.t. it are saliency's ∂/∂H0. */
  embeddingsShift?: Value;
  /**
   * Inference with a reducer that can tell (LAT): build the layers twice under one If — without
   * selection ops, run when no layer drops a token (full length), and with them (no per-layer If).
   * Saves the per-layer If and bookkeeping at full length. Both branches read the outer graph's
   * weight initializers; a source that stores linear weights transposed (`WeightSource.transposed`)
   * leaves no Transpose for ORT to fold into a copy per branch.
   */
  fullLengthBranch?: boolean;
  /**
   * Classification training graphs: the last layer computes only the first row ([CLS], all the
   * head reads) past its keys and values — same loss, gradients and dropout masks, without the
   * last layer's other queries, output projection and feed-forward rows (a fifth of bert-mini's
   * MACs at 4 layers). Only for reducers that keep [CLS] as row 0 and have no loss of their own
   * on the last layer (none, LAT): the last layer's own reduction is left out. Ignored with
   * restore, kept positions or a span head, which read every row.
   */
  firstRowOnly?: boolean;
}

/** The encoder's output values in the graph. */
export interface EncoderValues {
  logits?: Value;
  startLogits?: Value;
  endLogits?: Value;
  keptPositions: Value[];
  /** Final states of every original position (Drop-and-Restore; span heads or `restore`). */
  restored: Value;
  /** The embeddings' output H0 [B, n, d] (with `embeddingsShift` added). */
  embeddings: Value;
  /** The reducer's part of the graph (its extra outputs and loss terms), when there is one. */
  reducer?: ReducerGraph;
}

/** One build of the layers and heads: the heads' outputs (logits, or start and end logits) and the states. */
interface LayerValues {
  heads: Value[];
  keptPositions: Value[];
  restored: Value;
}

/** Builds the encoder into `g`, reading weights through `w`; adds the encoder's graph inputs. */
export function buildEncoder(
  g: Graph,
  c: ModelConfig,
  weights: Map<string, Tensor32>,
  w: WeightSource,
  o: EncoderOptions,
): EncoderValues {
  const b = blocks(g, c, weights, w, o.training?.dropout, o.dtype, o.int8Weights);
  const arch = architectureOf(c);
  const ids = g.input(encoderInputs.inputIds, 'int64', ['batch', 'seq']);
  const mask = g.input(encoderInputs.attentionMask, 'int64', ['batch', 'seq']);
  const types =
    c.typeVocabSize > 0 ? g.input(encoderInputs.tokenTypeIds, 'int64', ['batch', 'seq']) : undefined;
  const seqLength = g.squeeze(g.slice(g.shapeOf(ids), [1], [2], [0], [1]), [0]);
  const reducer = o.reducer?.build({ g, config: c, training: !!o.training, param: b.param, seqLength });
  const layerOn = o.training?.layerDrop ? g.input(encoderInputs.layerOn, 'bool', [c.numLayers]) : undefined;

  const positions = range(g, seqLength, 'seq');
  let h = b.dropout(arch.embeddings(b, { ids, positions, ...(types ? { types } : {}) }), c.hiddenDropout);
  if (o.embeddingsShift) h = g.add(h, o.embeddingsShift);

  const embeddings = h;
  const mask0 = g.cast(mask, g.float); // [B, n] 1 for real tokens still present
  const globalTokens = c.pooling?.globalTokens;
  const global = globalTokens ? globalRows(g, globalTokens, mask0, positions, types) : undefined;
  // Original positions [B, n], built in a branch only when it reads them (selection, kept positions, restore).
  const pos0 = () => g.expand(g.unsqueeze(positions, [0]), g.shapeOf(ids), ['batch', 'seq']);
  // The full-length buffer is only needed by token-level heads.
  const restoring = o.head === 'span' ? o.restore !== false : o.restore === true;
  const firstRowOnly = o.firstRowOnly && o.head === 'classification' && !restoring && !o.keptPositions;

  /**
   * The layers and the heads; `reducing` false leaves the reducer's token reduction out, and
   * `perLayerIf` puts each layer's reduction under an If that skips it when nothing is dropped.
   */
  const layersAndHeads = (reducing: boolean, perLayerIf = reducing): LayerValues => {
    b.branch();
    let h = embeddings;
    let m = mask0;
    let current: Value | undefined;
    const pos = () => (current ??= pos0());
    // Kept = selected and a real token: padding never counts as kept, whatever the reducer chose.
    // Layers that keep everything share one value.
    const keptOf = (mask: Value, positions: Value) =>
      b.once(`kept:${mask.name}:${positions.name}`, () =>
        g.where(g.greater(mask, g.scalar(0)), positions, g.int64(-1)),
      );
    let restored = h;
    const keptPositions: Value[] = [];
    let reduced = false;

    // Pooled long inputs: blockwise attention up to the first pooling (and after it with pooled_chunk).
    const blockwiseUntil = lastBlockwiseLayer(c);
    // Layer j's attention adds the key bias of its mask (blockwise attention masks its own way).
    const readsKeyBias = (j: number) =>
      j < c.numLayers && !attentionChunk(c, j) && layerShape(c, j).heads.length > 0;
    for (let i = 0; i < c.numLayers; i++) {
      const p = `encoder.layer.${i}`;
      const shape = layerShape(c, i);
      // The last layer of a firstRowOnly graph: [CLS]'s row of h [B, 1, d], and h's row count.
      const chunk = attentionChunk(c, i);
      const cut = firstRowOnly && i === c.numLayers - 1 && !chunk;
      const of = cut ? { axis: 1, rows: dimOf(g, h, 1) } : undefined;
      const input = cut ? g.slice(h, [0], [1], [1]) : h;
      let attended = input;
      let probs: Value | undefined;
      if (shape.heads.length) {
        const att = selfAttention(b, h, m, p, {
          heads: shape.heads.length,
          ...(shape.hardAttentionK ? { hardAttentionK: g.int64(shape.hardAttentionK) } : {}),
          ...(reducer?.headMask ? { headMask: reducer.headMask(i, shape.heads.length) } : {}),
          ...(reducer?.attentionScores
            ? { editScores: (s: Value) => reducer.attentionScores!(i, s, m, h) }
            : {}),
          // Global rows only before the pooling (after it, the question's rows are merged away).
          ...(chunk ? { chunk, ...(global && i <= blockwiseUntil ? { global } : {}) } : {}),
          ...(cut ? { firstQueryOnly: true } : {}),
        });
        const on = reducer?.blockOn?.(i, 'attention');
        attended = on ? g.where(on, att.attended, input) : att.attended;
        probs = att.probs;
      }
      // A layer whose attention block was pruned has no significance to reduce by: it keeps every token.
      const step =
        reducing &&
        probs &&
        reducer?.reduce({ layer: i, input: h, attended, probs, mask: m, positions: pos() });
      // Cut: [CLS] stays row 0 of any reduction, so its FFN output is the same; its dropout mask
      // is the one of the rows the reduction would keep.
      const keptRows = cut && step ? step.keptRows?.() : undefined;
      const ffnOf = keptRows ? { axis: 1, rows: keptRows } : of;
      // Pruned feed-forward blocks (and masked ones) pass their input through unchanged.
      const ffn = (x: Value): Value => {
        if (!shape.ffn) return x;
        const on = reducer?.blockOn?.(i, 'ffn');
        return on ? g.where(on, feedForward(b, x, p, ffnOf), x) : feedForward(b, x, p, ffnOf);
      };
      if (!step || cut) {
        const out = ffn(attended);
        h = layerOn ? g.where(g.gather(layerOn, g.int64(i), 0), out, input) : out;
        if (restoring) restored = reduced ? restoreRows(g, restored, h, pos(), m) : h;
        if (o.keptPositions && reducer) keptPositions.push(keptOf(m, pos()));
        continue;
      }
      reduced = true;
      // Which rows were written is only needed to restore them: graphs without restore (at full
      // length, an If yields each value as one more op) leave it out.
      // Under an If, the next layer's key bias comes out of it too: a layer that keeps every
      // token passes its bias on instead of building it again from the same mask.
      const keepsAll = perLayerIf ? step.keepsAll?.() : undefined;
      const biasOut = !!keepsAll && readsKeyBias(i + 1);
      const select = (): Value[] => {
        const r = step.reduce();
        // LayerDrop: a skipped layer passes its input, on the same rows, through unchanged.
        return [
          r.rows(attended),
          r.mask,
          r.positions,
          ...(layerOn ? [r.rows(h)] : []),
          ...(restoring ? [r.valid] : []),
          ...(biasOut ? [keyBias(b, r.mask)] : []),
        ];
      };
      const everything = () => [
        attended,
        m,
        pos(),
        ...(restoring ? [g.expand(g.scalar(1), g.shapeOf(m), m.shape)] : []),
        ...(biasOut ? [keyBias(b, m)] : []),
      ];
      const selected = keepsAll ? g.ifElse(keepsAll, everything, select, keepsAllIf(i)) : select();
      const [kept, keptMask, keptPos] = selected as [Value, Value, Value];
      if (biasOut) knownKeyBias(b, keptMask, selected.pop()!);
      const valid = restoring ? selected.at(-1)! : undefined;
      m = keptMask;
      current = keptPos;

      // ---- feed-forward on the kept rows only ----
      let out = ffn(kept);
      if (layerOn) out = g.where(g.gather(layerOn, g.int64(i), 0), out, selected[3]!);
      h = out;
      if (o.keptPositions) keptPositions.push(keptOf(m, keptPos));
      if (valid) restored = restoreRows(g, restored, h, keptPos, valid);
    }

    if (o.head === 'classification')
      return { heads: [arch.classificationHead(b, h)], keptPositions, restored };
    const full = restoring || !reduced;
    const span = spanHead(b, full ? restored : h, full ? undefined : { positions: pos(), fullLength: mask });
    return { heads: [span.start, span.end], keptPositions, restored };
  };

  // Inference where no layer drops a token (full length): one If around the whole encoder runs it
  // without the reducer's selection ops, instead of a per-layer If and its bookkeeping (the fixed
  // cost a length-adaptive graph pays over a plain one). The reducing branch runs every layer's
  // selection without an If of its own: it runs only when some layer drops a token. Both branches
  // read the same weight initializers from the outer graph (one copy in ORT).
  const keepsEverything = o.fullLengthBranch ? reducer?.keepsEverything?.(seqLength) : undefined;
  let v: LayerValues;
  if (!keepsEverything) v = layersAndHeads(true);
  else {
    const pack = (x: LayerValues) => [...x.heads, ...x.keptPositions, ...(restoring ? [x.restored] : [])];
    const heads = o.head === 'classification' ? 1 : 2;
    const out = g.ifElse(
      keepsEverything,
      () => pack(layersAndHeads(false)),
      () => pack(layersAndHeads(true, false)),
      fullLengthIf,
    );
    v = {
      heads: out.slice(0, heads),
      keptPositions: out.slice(heads, out.length - (restoring ? 1 : 0)),
      restored: restoring ? out.at(-1)! : embeddings,
    };
  }

  const result: EncoderValues = {
    keptPositions: v.keptPositions,
    restored: v.restored,
    embeddings,
    ...(reducer ? { reducer } : {}),
  };
  if (o.head === 'classification') result.logits = v.heads[0]!;
  else {
    result.startLogits = v.heads[0]!;
    result.endLogits = v.heads[1]!;
  }
  return result;
}
