/**
 * The length-adaptive BERT / DistilBERT encoder as one ONNX graph. Per-layer keep counts are a
 * graph input, so one session serves every length configuration (REFERENCE.md §1):
 * after each attention block a token's significance is the attention it receives from real
 * queries; [CLS] is forced, padding ranks below every real token; TopK picks the kept tokens,
 * which are put back in their original order; the FFN runs on the kept tokens only.
 * A full-length buffer keeps each token's last state (Drop-and-Restore) for span heads.
 */
import type { Graph, ModelConfig, Tensor32, Value } from '@lat/core';

/** Where the graph gets a weight: an initializer (inference/export) or a graph input (training). */
export interface WeightSource {
  param(name: string, tensor: Tensor32): Value;
}

/** Weights baked into the graph as initializers, for inference graphs. */
export function initializerWeights(
  g: Graph,
  weights: Map<string, Tensor32>,
): WeightSource & { get(name: string): Tensor32 } {
  return {
    get: (name) => weights.get(name)!,
    param: (name, t) => g.initializer(name, { type: 'float32', dims: t.dims, data: t.data }),
  };
}

/** How `buildEncoder` builds: head, token selection, kept-position outputs, restore, dropout, LayerDrop. */
export interface EncoderOptions {
  /** Heads to build: a classification head (BERT pooler / DistilBERT pre-classifier) and/or a span head. */
  head: 'classification' | 'span';
  /** Expose `kept_positions_<i>` outputs. */
  keptPositions?: boolean;
  /** false builds a plain BERT graph without any selection ops (the benchmarks' baseline). */
  selection?: boolean;
  /** Drop-and-Restore: on by default for span heads (false is the ablation), off for classification. */
  restore?: boolean;
  /** Training-only inputs: dropout noise and LayerDrop switches. */
  training?: { dropout: Dropout; layerDrop: boolean };
}

/** Dropout masks drawn from a fixed random table at offsets the host feeds, so runs are reproducible. */
export interface Dropout {
  apply(g: Graph, x: Value, p: number): Value;
}

/** The encoder's output values in the graph. */
export interface EncoderValues {
  logits?: Value;
  startLogits?: Value;
  endLogits?: Value;
  keptPositions: Value[];
  /** Final states of every original position (Drop-and-Restore; span heads or `restore`). */
  restored: Value;
  /** Last layer's states over the kept tokens only. */
  last: Value;
}

/** Builds the encoder into `g`, reading weights through `w`; adds the standard graph inputs. */
export function buildEncoder(
  g: Graph,
  c: ModelConfig,
  weights: Map<string, Tensor32>,
  w: WeightSource,
  o: EncoderOptions,
): EncoderValues {
  const d = c.hiddenSize;
  const H = c.numHeads;
  const dh = d / H;
  const P = (name: string) => {
    const t = weights.get(name);
    if (!t) throw new Error(`weight ${name} is missing`);
    return w.param(name, t);
  };
  const lin = (x: Value, name: string) => g.linear(x, P(`${name}.weight`), P(`${name}.bias`));
  const norm = (x: Value, name: string) =>
    g.layerNorm(x, P(`${name}.weight`), P(`${name}.bias`), c.layerNormEps);
  const drop = (x: Value, p: number) => (o.training && p > 0 ? o.training.dropout.apply(g, x, p) : x);
  const act = (x: Value) =>
    c.hiddenAct === 'relu' ? g.relu(x) : g.gelu(x, c.hiddenAct === 'gelu_new' ? 'tanh' : 'erf');
  /** The FFN sub-block with its residual and LayerNorm. */
  const feedForward = (x: Value, p: string) => {
    const y = lin(act(lin(x, `${p}.intermediate.dense`)), `${p}.output.dense`);
    return norm(g.add(drop(y, c.hiddenDropout), x), `${p}.output.LayerNorm`);
  };

  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'seq']);
  const types = c.typeVocabSize > 0 ? g.input('token_type_ids', 'int64', ['batch', 'seq']) : undefined;
  const selection = o.selection ?? true;
  const keep = selection ? g.input('keep_counts', 'int64', ['batch', c.numLayers]) : undefined;
  const layerOn = o.training?.layerDrop ? g.input('layer_on', 'bool', [c.numLayers]) : undefined;

  // ---- embeddings ----
  const seqLen = g.squeeze(g.slice(g.shapeOf(ids), [1], [2], [0], [1]), [0]);
  const positions = g.node('Range', [g.int64(0), seqLen, g.int64(1)], {}, [
    { dtype: 'int64', shape: ['seq'] },
  ])[0]!;
  const posIds = c.positionOffset ? g.add(positions, g.int64(c.positionOffset)) : positions;
  let emb = g.add(
    g.gather(P('embeddings.word_embeddings.weight'), ids, 0),
    g.gather(P('embeddings.position_embeddings.weight'), posIds, 0),
  );
  if (types) emb = g.add(emb, g.gather(P('embeddings.token_type_embeddings.weight'), types, 0));
  let h = drop(norm(emb, 'embeddings.LayerNorm'), c.hiddenDropout);

  let m = g.cast(mask, g.float); // [B, n] 1 for real tokens still present
  let pos = g.expand(g.unsqueeze(positions, [0]), g.shapeOf(ids), ['batch', 'seq']); // original positions
  let restored = h;
  const keptPositions: Value[] = [];
  // The full-length buffer is only needed by token-level heads.
  const restoring = o.head === 'span' ? o.restore !== false : o.restore === true;
  /** x[b, idx[b, j], :] for x [B, n, d] and idx [B, k]: one Gather over the flattened batch. */
  const gatherRows = (x: Value, idx: Value) => {
    const dims = g.shapeOf(x);
    const rows = g.reshape(x, [-1, d]);
    const batch = g.squeeze(g.slice(dims, [0], [1], [0], [1]), [0]);
    const n = g.slice(dims, [1], [2], [0], [1]);
    const starts = g.mul(
      g.unsqueeze(
        g.node('Range', [g.int64(0), batch, g.int64(1)], {}, [{ dtype: 'int64', shape: ['batch'] }])[0]!,
        [1],
      ),
      n,
    );
    return g.gather(rows, g.add(idx, starts), 0);
  };
  const minusOne = g.scalar(-1);
  const big = g.scalar(1e9);
  const negInf = g.scalar(-10000);

  for (let i = 0; i < c.numLayers; i++) {
    const p = `encoder.layer.${i}`;
    // ---- self-attention over the current tokens ----
    const heads = (x: Value) => g.transpose(g.reshape(x, [0, 0, H, dh]), [0, 2, 1, 3]); // [B, H, n, dh]
    const q = heads(lin(h, `${p}.attention.self.query`));
    const k = heads(lin(h, `${p}.attention.self.key`));
    const v = heads(lin(h, `${p}.attention.self.value`));
    const keyBias = g.mul(g.sub(g.scalar(1), g.unsqueeze(m, [1, 2])), negInf); // [B, 1, 1, n]
    const scores = g.add(
      g.mul(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), g.scalar(1 / Math.sqrt(dh))),
      keyBias,
    );
    const probs = g.softmax(scores, -1);
    const ctx = g.reshape(g.transpose(g.matmul(drop(probs, c.attentionDropout), v), [0, 2, 1, 3]), [0, 0, d]);
    const a = norm(
      g.add(drop(lin(ctx, `${p}.attention.output.dense`), c.hiddenDropout), h),
      `${p}.attention.output.LayerNorm`,
    );
    if (!keep) {
      h = restored = feedForward(a, p);
      continue;
    }

    // ---- token selection: attention received from real queries, [CLS] forced, padding last ----
    const counts = g.gather(keep, g.int64(i), 1); // [B]
    const current = g.squeeze(g.slice(g.shapeOf(h), [1], [2], [0], [1]), [0]);
    const select = (): Value[] => {
      const kLayer = g.reduceMax(counts, [0], true); // [1]: k = max over the batch
      const kDim = `k${i}`;
      const rank = g.node('Range', [g.int64(0), g.squeeze(kLayer, [0]), g.int64(1)], {}, [
        { dtype: 'int64', shape: [kDim] },
      ])[0]!;
      const validByRank = g.cast(g.less(g.unsqueeze(rank, [0]), g.unsqueeze(counts, [1])), g.float); // [B, k]
      const received = g.reduceSum(g.mul(probs, g.unsqueeze(m, [1, 3])), [1, 2], false); // [B, n]
      const real = g.greater(m, g.scalar(0));
      const isFirst = g.equal(
        g.node('Range', [g.int64(0), current, g.int64(1)], {}, [
          { dtype: 'int64', shape: [g.unknownDim()] },
        ])[0]!,
        g.int64(0),
      );
      const score = g.where(isFirst, big, g.where(real, received, minusOne));
      const [, bySignificance] = g.topK(score, kLayer, 1, { kDim });
      // Back to original order: the k smallest positions first, via TopK of the negated indices.
      const [, order] = g.topK(g.neg(g.cast(bySignificance, g.float)), kLayer, 1, { kDim });
      const idx = g.gatherElements(bySignificance, order, 1); // [B, k] ascending positions
      const valid = g.gatherElements(validByRank, order, 1);
      const keptRows = gatherRows(a, idx);
      // LayerDrop: a skipped layer passes its (gathered) input through unchanged.
      const skipped = layerOn ? [gatherRows(h, idx)] : [];
      return [
        keptRows,
        g.mul(g.gatherElements(m, idx, 1), valid),
        g.gatherElements(pos, idx, 1),
        valid,
        ...skipped,
      ];
    };
    // When every example keeps every current token, nothing moves: inference skips the selection
    // ops (an If). Training graphs keep them, as autodiff has no rule for If.
    const keepsAll = g.not(g.less(g.reduceMin(counts, [0], false), current));
    const everything = () => [a, m, pos, g.expand(g.scalar(1), g.shapeOf(m), m.shape)];
    const selected = o.training ? select() : g.ifElse(keepsAll, everything, select);
    const [kept, keptMask, keptPos, valid] = selected as [Value, Value, Value, Value];
    m = keptMask;
    pos = keptPos;

    // ---- feed-forward on the kept tokens only ----
    let out = feedForward(kept, p);
    if (layerOn) out = g.where(g.gather(layerOn, g.int64(i), 0), out, selected[4]!);
    h = out;
    // Kept = selected and a real token: padding never counts as kept, whatever the keep count.
    if (o.keptPositions) keptPositions.push(g.where(g.greater(m, g.scalar(0)), pos, g.int64(-1)));

    if (restoring) {
      // ---- Drop-and-Restore: write each kept token's new state back at its original position ----
      const pos3 = g.expand(g.unsqueeze(pos, [2]), g.shapeOf(h), h.shape);
      const validMask = g.greater(g.unsqueeze(valid, [2]), g.scalar(0));
      const update = g.where(validMask, h, g.gatherElements(restored, pos3, 1));
      restored = g.scatterElements(restored, pos3, update, 1);
    }
  }

  const result: EncoderValues = { keptPositions, restored, last: h };
  if (o.head === 'classification') {
    const cls = g.gather(h, g.int64(0), 1); // [B, d]: [CLS] is always kept at index 0
    const pooled =
      c.architecture === 'distilbert' ? g.relu(lin(cls, 'pre_classifier')) : g.tanh(lin(cls, 'pooler.dense'));
    result.logits = lin(drop(pooled, c.hiddenDropout), 'classifier');
  } else {
    const pick = (x: Value, j: number) => g.squeeze(g.slice(x, [j], [j + 1], [2]), [2]);
    if (restoring || !keep) {
      const span = lin(restored, 'qa_outputs'); // [B, N, 2]
      result.startLogits = pick(span, 0);
      result.endLogits = pick(span, 1);
    } else {
      // Without restore only the tokens that survived every layer can be answers (the ablation
      // Drop-and-Restore fixes): their logits go back to their positions, −10000 elsewhere.
      const span = lin(h, 'qa_outputs'); // [B, k, 2]
      const floor = g.constantOfShape(g.shapeOf(mask), -10000, g.float, ['batch', 'seq']);
      result.startLogits = g.scatterElements(floor, pos, pick(span, 0), 1);
      result.endLogits = g.scatterElements(floor, pos, pick(span, 1), 1);
    }
  }
  return result;
}
