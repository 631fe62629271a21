/**
 * AxFormer's pruned structure (REFERENCE.md §5) in a model config: which attention heads,
 * attention blocks and feed-forward blocks survive per layer, and each layer's hard-attention k.
 * In config.json it is Hugging Face's `pruned_heads` (removed head indices per layer, which HF
 * itself applies when loading) plus lat's own keys for what HF has no place for:
 * `lat_removed_attention` and `lat_removed_ffn` (layer lists) and `lat_hard_attention_k`
 * ({layer: k}). `pruneModel` turns masks into such a config and physically smaller weights.
 */
import { type AxformerMasks, LatError, type LayerShape, type StateDict, type Tensor32 } from '@lat/core';
import type { ModelConfig } from './config.js';

type Json = Record<string, unknown>;

/** Layer `i`'s structure: whole unless the config records pruning. */
export function layerShape(c: ModelConfig, i: number): LayerShape {
  return c.layers?.[i] ?? { heads: Array.from({ length: c.numHeads }, (_, h) => h), ffn: true };
}

/** Masks that keep everything the model has (the search's starting point). */
export function fullMasks(c: ModelConfig): AxformerMasks {
  const shapes = Array.from({ length: c.numLayers }, (_, i) => layerShape(c, i));
  return {
    ffn: shapes.map((s) => s.ffn),
    attention: shapes.map((s) => s.heads.length > 0),
    heads: shapes.map((s) => s.heads.map(() => true)),
    hardAttentionK: shapes.map((s) => s.hardAttentionK ?? 0),
  };
}

const layerList = (v: unknown, key: string, numLayers: number, where: string): number[] => {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((l) => !Number.isInteger(l) || l < 0 || l >= numLayers))
    throw new LatError('BAD_CONFIG', `must be a list of layer indices below ${numLayers}`, `${where}#${key}`);
  return v as number[];
};

const layerMap = (v: unknown, key: string, numLayers: number, where: string): Map<number, unknown> => {
  if (v === undefined) return new Map();
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new LatError('BAD_CONFIG', 'must be an object {layer: …}', `${where}#${key}`);
  return new Map(
    Object.entries(v).map(([l, x]) => {
      const i = Number(l);
      if (!Number.isInteger(i) || i < 0 || i >= numLayers)
        throw new LatError('BAD_CONFIG', `layer '${l}' is not below ${numLayers}`, `${where}#${key}`);
      return [i, x];
    }),
  );
};

/** The per-layer structure a config.json records, or undefined for an unpruned model. */
export function parsePruning(
  j: Json,
  numLayers: number,
  numHeads: number,
  where: string,
): LayerShape[] | undefined {
  const keys = ['pruned_heads', 'lat_removed_attention', 'lat_removed_ffn', 'lat_hard_attention_k'];
  const present = keys.filter((k) => j[k] !== undefined && !(k === 'pruned_heads' && isEmpty(j[k])));
  if (!present.length) return undefined;
  const pruned = layerMap(j['pruned_heads'], 'pruned_heads', numLayers, where);
  const noAttention = new Set(
    layerList(j['lat_removed_attention'], 'lat_removed_attention', numLayers, where),
  );
  const noFfn = new Set(layerList(j['lat_removed_ffn'], 'lat_removed_ffn', numLayers, where));
  const hard = layerMap(j['lat_hard_attention_k'], 'lat_hard_attention_k', numLayers, where);
  return Array.from({ length: numLayers }, (_, i) => {
    const removed = pruned.get(i) ?? [];
    if (!Array.isArray(removed) || removed.some((h) => !Number.isInteger(h) || h < 0 || h >= numHeads))
      throw new LatError(
        'BAD_CONFIG',
        `must list head indices below ${numHeads}`,
        `${where}#pruned_heads.${i}`,
      );
    const heads = noAttention.has(i)
      ? []
      : Array.from({ length: numHeads }, (_, h) => h).filter((h) => !removed.includes(h));
    if (!noAttention.has(i) && heads.length === 0)
      throw new LatError(
        'BAD_CONFIG',
        `prunes every head of layer ${i}; list the layer in lat_removed_attention instead`,
        `${where}#pruned_heads.${i}`,
      );
    const k = hard.get(i);
    if (k !== undefined && (!Number.isInteger(k) || (k as number) < 1))
      throw new LatError(
        'BAD_CONFIG',
        `must be a whole number ≥ 1, got ${JSON.stringify(k)}`,
        `${where}#lat_hard_attention_k.${i}`,
      );
    if (k !== undefined && noAttention.has(i))
      throw new LatError(
        'BAD_CONFIG',
        `layer ${i} has no attention block to make hard`,
        `${where}#lat_hard_attention_k.${i}`,
      );
    return { heads, ffn: !noFfn.has(i), ...(k !== undefined ? { hardAttentionK: k as number } : {}) };
  });
}

const isEmpty = (v: unknown) => typeof v === 'object' && v !== null && Object.keys(v).length === 0;

/** config.json keys recording a config's pruning (none for an unpruned model). */
export function pruningToHf(c: ModelConfig): Json {
  if (!c.layers) return {};
  const all = Array.from({ length: c.numHeads }, (_, h) => h);
  const prunedHeads: Record<string, number[]> = {};
  const hard: Record<string, number> = {};
  c.layers.forEach((s, i) => {
    const removed = all.filter((h) => !s.heads.includes(h));
    if (s.heads.length && removed.length) prunedHeads[String(i)] = removed;
    if (s.hardAttentionK) hard[String(i)] = s.hardAttentionK;
  });
  const layersWhere = (p: (s: LayerShape) => boolean) => c.layers!.flatMap((s, i) => (p(s) ? [i] : []));
  return {
    pruned_heads: prunedHeads,
    lat_removed_attention: layersWhere((s) => s.heads.length === 0),
    lat_removed_ffn: layersWhere((s) => !s.ffn),
    lat_hard_attention_k: hard,
  };
}

/** Checks masks against a config: one entry per layer, one head flag per remaining head. */
export function checkMasks(c: ModelConfig, m: AxformerMasks): void {
  const L = c.numLayers;
  for (const key of ['ffn', 'attention', 'heads', 'hardAttentionK'] as const)
    if (m[key].length !== L)
      throw new LatError(
        'BAD_INPUT',
        `has ${m[key].length} entries but the model has ${L} layers`,
        `masks.${key}`,
      );
  for (let i = 0; i < L; i++) {
    const have = layerShape(c, i).heads.length;
    if (m.heads[i]!.length !== have)
      throw new LatError(
        'BAD_INPUT',
        `layer ${i} has ${have} heads, the masks give ${m.heads[i]!.length}`,
        `masks.heads.${i}`,
      );
    const k = m.hardAttentionK[i]!;
    if (!Number.isInteger(k) || k < 0)
      throw new LatError('BAD_INPUT', `must be a whole number ≥ 0, got ${k}`, `masks.hardAttentionK.${i}`);
  }
}

const rows = (t: Tensor32, keep: number[], width: number): Tensor32 => {
  const cols = t.dims[1] ?? 1;
  const data = new Float32Array(keep.length * width * cols);
  keep.forEach((r, j) =>
    data.set(t.data.subarray(r * width * cols, (r + 1) * width * cols), j * width * cols),
  );
  return { dims: t.dims.length === 1 ? [keep.length * width] : [keep.length * width, cols], data };
};

const columns = (t: Tensor32, keep: number[], width: number): Tensor32 => {
  const [out, inp] = t.dims as [number, number];
  const n = keep.length * width;
  const data = new Float32Array(out * n);
  for (let o = 0; o < out; o++)
    keep.forEach((c, j) =>
      data.set(t.data.subarray(o * inp + c * width, o * inp + (c + 1) * width), o * n + j * width),
    );
  return { dims: [out, n], data };
};

/** Per layer, the heads (slots among the remaining ones) the masks keep; empty when the block goes. */
function keptSlots(c: ModelConfig, m: AxformerMasks, i: number): number[] {
  const slots = layerShape(c, i).heads.flatMap((_, j) => (m.heads[i]![j] ? [j] : []));
  return m.attention[i] ? slots : [];
}

/** The config of the model the masks describe (its structure only: cost and size without weights). */
export function prunedConfig(c: ModelConfig, m: AxformerMasks): ModelConfig {
  checkMasks(c, m);
  const layers = Array.from({ length: c.numLayers }, (_, i): LayerShape => {
    const before = layerShape(c, i);
    const slots = keptSlots(c, m, i);
    // The layer's own hard attention still applies under a mask k: the smaller one wins.
    const ks = [m.hardAttentionK[i]!, before.hardAttentionK ?? 0].filter((x) => x > 0);
    return {
      heads: slots.map((j) => before.heads[j]!),
      ffn: before.ffn && m.ffn[i]!, // a removed block stays removed
      ...(slots.length && ks.length ? { hardAttentionK: Math.min(...ks) } : {}),
    };
  });
  return { ...c, layers };
}

/**
 * The physically pruned model the masks describe: removed blocks' weights dropped, removed
 * heads' Q/K/V rows and output-projection columns cut out, the structure (and each layer's
 * hard-attention k) recorded in the config. Its logits equal the masked graph's.
 */
export function pruneModel(
  c: ModelConfig,
  weights: StateDict,
  m: AxformerMasks,
): { config: ModelConfig; weights: StateDict } {
  const config = prunedConfig(c, m);
  const dh = c.hiddenSize / c.numHeads;
  const out: StateDict = new Map(weights);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `encoder.layer.${i}`;
    const drop = (prefix: string) => {
      for (const n of [...out.keys()]) if (n.startsWith(`${p}.${prefix}`)) out.delete(n);
    };
    const slots = keptSlots(c, m, i);
    if (!slots.length) drop('attention.');
    else if (slots.length < layerShape(c, i).heads.length) {
      for (const x of ['query', 'key', 'value']) {
        const n = `${p}.attention.self.${x}`;
        out.set(`${n}.weight`, rows(weights.get(`${n}.weight`)!, slots, dh));
        out.set(`${n}.bias`, rows(weights.get(`${n}.bias`)!, slots, dh));
      }
      const o = `${p}.attention.output.dense.weight`;
      out.set(o, columns(weights.get(o)!, slots, dh));
    }
    if (!config.layers![i]!.ffn) {
      drop('intermediate.');
      drop('output.');
    }
  }
  return { config, weights: out };
}
