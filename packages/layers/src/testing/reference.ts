/**
 * A slow, plain float64 forward pass of the length-adaptive encoder, written straight from
 * REFERENCE.md §1, to check the ONNX graph against. Tests only.
 */
import type { StateDict } from '@lat/core';
import type { ModelConfig } from '../architectures/config.js';

type Mat = Float64Array[]; // rows

export interface ReferenceResult {
  logits?: number[];
  start?: number[];
  end?: number[];
  /** Original positions kept after each layer. */
  kept: number[][];
}

/** One example (no padding), with explicit per-layer keep counts (undefined = full length). */
export function referenceForward(
  c: ModelConfig,
  w: StateDict,
  ids: number[],
  types: number[] | undefined,
  lengths: number[] | undefined,
  head: 'classification' | 'span' = 'classification',
  /** Which keys j query i of layer `layer` attends to (default: every key). */
  attends: (layer: number, i: number, j: number) => boolean = () => true,
): ReferenceResult {
  const W = (n: string) => {
    const t = w.get(n);
    if (!t) throw new Error(`missing ${n}`);
    return t;
  };
  const d = c.hiddenSize;
  const H = c.numHeads;
  const dh = d / H;
  const linear = (x: Mat, name: string): Mat => {
    const wt = W(`${name}.weight`);
    const b = W(`${name}.bias`).data;
    const out = wt.dims[0]!;
    const inp = wt.dims[1]!;
    return x.map((row) => {
      const y = new Float64Array(out);
      for (let o = 0; o < out; o++) {
        let s = b[o]!;
        for (let i = 0; i < inp; i++) s += row[i]! * wt.data[o * inp + i]!;
        y[o] = s;
      }
      return y;
    });
  };
  const layerNorm = (x: Mat, name: string): Mat => {
    const g = W(`${name}.weight`).data;
    const b = W(`${name}.bias`).data;
    return x.map((row) => {
      const mean = row.reduce((a, v) => a + v, 0) / row.length;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / row.length;
      const inv = 1 / Math.sqrt(variance + c.layerNormEps);
      return row.map((v, i) => (v - mean) * inv * g[i]! + b[i]!);
    });
  };
  const add = (a: Mat, b: Mat): Mat => a.map((r, i) => r.map((v, j) => v + b[i]![j]!));
  const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
  const act = (x: Mat): Mat =>
    x.map((r) =>
      r.map((v) =>
        c.hiddenAct === 'relu' ? Math.max(0, v) : c.hiddenAct === 'gelu_new' ? geluTanh(v) : gelu(v),
      ),
    );
  const row = (name: string, i: number) => {
    const t = W(name);
    return Float64Array.from(t.data.subarray(i * d, (i + 1) * d));
  };

  let h: Mat = ids.map((id, p) => {
    const e = row('embeddings.word_embeddings.weight', id);
    const pe = row('embeddings.position_embeddings.weight', p + c.positionOffset);
    const te =
      c.typeVocabSize > 0
        ? row('embeddings.token_type_embeddings.weight', types?.[p] ?? 0)
        : new Float64Array(d);
    return e.map((v, j) => v + pe[j]! + te[j]!);
  });
  h = layerNorm(h, 'embeddings.LayerNorm');
  let pos = ids.map((_, p) => p);
  const restored: Mat = h.map((r) => Float64Array.from(r));
  const kept: number[][] = [];

  for (let l = 0; l < c.numLayers; l++) {
    const p = `encoder.layer.${l}`;
    const n = h.length;
    const q = linear(h, `${p}.attention.self.query`);
    const k = linear(h, `${p}.attention.self.key`);
    const v = linear(h, `${p}.attention.self.value`);
    const ctx: Mat = h.map(() => new Float64Array(d));
    const received = new Float64Array(n);
    for (let hd = 0; hd < H; hd++) {
      for (let i = 0; i < n; i++) {
        const s = new Float64Array(n);
        for (let j = 0; j < n; j++) {
          let dot = 0;
          for (let e = 0; e < dh; e++) dot += q[i]![hd * dh + e]! * k[j]![hd * dh + e]!;
          s[j] = attends(l, i, j) ? dot / Math.sqrt(dh) : Number.NEGATIVE_INFINITY;
        }
        const mx = Math.max(...s);
        const ex = s.map((x) => Math.exp(x - mx));
        const sum = ex.reduce((a, b) => a + b, 0);
        for (let j = 0; j < n; j++) {
          const a = ex[j]! / sum;
          received[j]! += a;
          for (let e = 0; e < dh; e++) ctx[i]![hd * dh + e]! += a * v[j]![hd * dh + e]!;
        }
      }
    }
    const a = layerNorm(
      add(linear(ctx, `${p}.attention.output.dense`), h),
      `${p}.attention.output.LayerNorm`,
    );
    // Keep [CLS] plus the (len − 1) most-attended other tokens, in original order.
    const len = lengths ? Math.min(lengths[l]!, n) : n;
    const others = Array.from({ length: n - 1 }, (_, j) => j + 1).sort(
      (x, y) => received[y]! - received[x]! || x - y,
    );
    const keep = [0, ...others.slice(0, len - 1)].sort((x, y) => x - y);
    const ak = keep.map((j) => a[j]!);
    pos = keep.map((j) => pos[j]!);
    h = layerNorm(
      add(linear(act(linear(ak, `${p}.intermediate.dense`)), `${p}.output.dense`), ak),
      `${p}.output.LayerNorm`,
    );
    h.forEach((r, j) => {
      restored[pos[j]!] = Float64Array.from(r);
    });
    kept.push([...pos]);
  }

  if (head === 'span') {
    const span = linear(restored, 'qa_outputs');
    return { start: span.map((r) => r[0]!), end: span.map((r) => r[1]!), kept };
  }
  const cls = [h[0]!];
  if (c.architecture === 'roberta') {
    // RobertaClassificationHead: dense + tanh on <s>, then out_proj (no pooler).
    const x = linear(cls, 'classifier.dense').map((r) => r.map(Math.tanh));
    return { logits: Array.from(linear(x, 'classifier.out_proj')[0]!), kept };
  }
  const pooled =
    c.architecture === 'distilbert'
      ? linear(cls, 'pre_classifier').map((r) => r.map((x) => Math.max(0, x)))
      : linear(cls, 'pooler.dense').map((r) => r.map(Math.tanh));
  return { logits: Array.from(linear(pooled, 'classifier')[0]!), kept };
}

function geluTanh(x: number) {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

/** erf to ~1e-15 via its Taylor series / continued fraction (Math has none). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 60; n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction for large |x|
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}
