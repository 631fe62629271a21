/**
 * Encoder weights as a flat map with lat's canonical names — Hugging Face's BERT names without
 * the model prefix (`embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`,
 * `classifier.weight` …). Each architecture's checkpoints are renamed into this scheme on load
 * and back on save. Linear weights keep PyTorch's [out, in] layout.
 */
import { LatError, Rng, type StateDict, type Tensor32 } from '@lat/core';
import { scorerShapes } from '../reducers/pooling.js';
import { linearShapes } from './architecture.js';
import type { ModelConfig } from './config.js';
import { architectures } from './index.js';
import { layerShape } from './pruning.js';

/** Which task heads a checkpoint carries besides the encoder. */
export interface Heads {
  classifier?: boolean;
  qa?: boolean;
}

/** Every tensor the encoder (and its heads) needs, with its shape. */
export function expectedShapes(c: ModelConfig, heads: Heads = {}): Map<string, number[]> {
  const d = c.hiddenSize;
  const f = c.intermediateSize;
  const m = new Map<string, number[]>();
  const lin = (name: string, out: number, inp: number) => {
    m.set(`${name}.weight`, [out, inp]);
    m.set(`${name}.bias`, [out]);
  };
  const norm = (name: string) => {
    m.set(`${name}.weight`, [d]);
    m.set(`${name}.bias`, [d]);
  };
  m.set('embeddings.word_embeddings.weight', [c.vocabSize, d]);
  m.set('embeddings.position_embeddings.weight', [c.maxPositions, d]);
  if (c.typeVocabSize > 0) m.set('embeddings.token_type_embeddings.weight', [c.typeVocabSize, d]);
  norm('embeddings.LayerNorm');
  for (let i = 0; i < c.numLayers; i++) {
    const p = `encoder.layer.${i}`;
    const shape = layerShape(c, i);
    const a = (shape.heads.length * d) / c.numHeads; // attention width left after head pruning
    if (a > 0) {
      lin(`${p}.attention.self.query`, a, d);
      lin(`${p}.attention.self.key`, a, d);
      lin(`${p}.attention.self.value`, a, d);
      lin(`${p}.attention.output.dense`, d, a);
      norm(`${p}.attention.output.LayerNorm`);
    }
    if (shape.ffn) {
      lin(`${p}.intermediate.dense`, f, d);
      lin(`${p}.output.dense`, d, f);
      norm(`${p}.output.LayerNorm`);
    }
  }
  if (heads.classifier ?? true)
    for (const [n, dims] of architectures[c.architecture].classificationHeadShapes(c)) m.set(n, dims);
  if (heads.qa) for (const [n, dims] of linearShapes('qa_outputs', 2, d)) m.set(n, dims);
  for (const [n, dims] of scorerShapes(c)) m.set(n, dims);
  return m;
}

/** Parameters of the encoder and its heads (what PyTorch's `numel()` sum reports). */
export function parameterCount(c: ModelConfig, heads: Heads = { classifier: true }): number {
  let n = 0;
  for (const dims of expectedShapes(c, heads).values()) n += dims.reduce((a, b) => a * b, 1);
  return n;
}

function renameLayer(
  name: string,
  from: string,
  to: string,
  table: readonly (readonly [string, string])[],
): string {
  const m = new RegExp(`^${from.replace('.', '\\.')}\\.(\\d+)\\.(.+)\\.(weight|bias)$`).exec(name);
  if (!m) return name;
  const hit = table.find(([a]) => a === m[2]);
  return hit ? `${to}.${m[1]}.${hit[1]}.${m[3]}` : name;
}

/** The canonical name of a checkpoint tensor, or undefined for tensors lat does not use. */
export function canonicalName(name: string, c: ModelConfig): string | undefined {
  const arch = architectures[c.architecture];
  let n = name.startsWith(arch.prefix) ? name.slice(arch.prefix.length) : name;
  if (arch.layerNames) n = renameLayer(n, 'transformer.layer', 'encoder.layer', arch.layerNames);
  // Old TF-converted checkpoints name LayerNorm parameters gamma/beta.
  n = n.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
  if (
    n === 'embeddings.position_ids' ||
    n.endsWith('.masked_bias') ||
    n.startsWith('cls.') ||
    n.startsWith('lm_head.') ||
    n.startsWith('vocab_')
  ) {
    return undefined;
  }
  return n;
}

/** What to do with encoder tensors the config has no place for. */
export interface UnusedTensors {
  /**
   * Encoder tensors the config has no place for (a config that disagrees with its weights: fewer
   * layers, no token types) are an error; with `allowUnused` they are dropped and reported here.
   */
  allowUnused?: boolean;
  onUnused?: (names: string[]) => void;
}

/** Renames a checkpoint's tensors and checks them against the config; lists what is missing or extra. */
export function toCanonical(
  raw: Map<string, Tensor32>,
  c: ModelConfig,
  where: string,
  heads: Heads = {},
  unused: UnusedTensors = {},
): StateDict {
  const out: StateDict = new Map();
  const unexpected: string[] = [];
  for (const [name, t] of raw) {
    const n = canonicalName(name, c);
    if (n === undefined) continue;
    out.set(n, t);
  }
  const expected = expectedShapes(c, heads);
  // A head-less checkpoint (BertModel) gets fresh heads from the caller; the encoder must be whole.
  const optionalHead = (n: string) => /^(pooler|pre_classifier|classifier|qa_outputs)\./.test(n);
  const missing = [...expected.keys()].filter((n) => !out.has(n) && !optionalHead(n));
  for (const n of out.keys()) if (!expected.has(n)) unexpected.push(n);
  const badShape = [...expected].flatMap(([n, dims]) => {
    const t = out.get(n);
    return t && t.dims.join(',') !== dims.join(',')
      ? [`${n} is [${t.dims}] but the config needs [${dims}]`]
      : [];
  });
  if (missing.length || badShape.length) {
    const parts = [
      missing.length
        ? `missing tensors: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ` (+${missing.length - 8} more)` : ''}`
        : '',
      unexpected.length ? `unexpected tensors: ${unexpected.slice(0, 8).join(', ')}` : '',
      `${badShape.slice(0, 4).join('; ')}${badShape.length > 4 ? ` (+${badShape.length - 4} more)` : ''}`,
    ].filter(Boolean);
    // A pruned config (AxFormer) is the usual suspect: it must describe the weights exactly.
    const fix = c.layers
      ? "config.json's pruned_heads / lat_removed_attention / lat_removed_ffn must describe these weights"
      : 'Check that config.json and the weights come from the same model';
    throw new LatError(
      'MISSING_TENSORS',
      `the weights do not match config.json: ${parts.join('; ')}. ${fix}`,
      where,
    );
  }
  // Heads the caller replaces (a classifier when training a span model) are not the encoder's.
  const unusedEncoder = unexpected.filter((n) => !optionalHead(n));
  if (unusedEncoder.length && !unused.allowUnused) {
    throw new LatError(
      'MISSING_TENSORS',
      `the weights have tensors config.json has no place for: ${unusedEncoder.slice(0, 8).join(', ')}${unusedEncoder.length > 8 ? ` (+${unusedEncoder.length - 8} more)` : ''}. config.json disagrees with the weights (num_hidden_layers? type_vocab_size?); fix it, or drop them with --allow-unused`,
      where,
    );
  }
  if (unusedEncoder.length) unused.onUnused?.(unusedEncoder);
  for (const n of unexpected) out.delete(n);
  return out;
}

/** Hugging Face names for saving: encoder tensors under the architecture's prefix, heads at the top. */
export function toHfNames(state: StateDict, c: ModelConfig): Map<string, Tensor32> {
  const arch = architectures[c.architecture];
  const reversed = arch.layerNames?.map(([a, b]) => [b, a] as const);
  const out = new Map<string, Tensor32>();
  for (const [name, t] of state) {
    const n = reversed ? renameLayer(name, 'encoder.layer', 'transformer.layer', reversed) : name;
    const head = /^(classifier|pre_classifier|qa_outputs)\./.test(n);
    out.set(head ? n : arch.prefix + n, t);
  }
  return out;
}

/** Fresh weights as BERT initialises them (normal(0, std) matrices, zero biases, unit LayerNorm). */
export function createRandomWeights(c: ModelConfig, seed: number, heads: Heads = {}, std = 0.02): StateDict {
  const rng = new Rng(seed);
  const out: StateDict = new Map();
  for (const [name, dims] of expectedShapes(c, heads)) {
    const size = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (name.includes('LayerNorm.weight')) data.fill(1);
    else if (!name.endsWith('.bias')) for (let i = 0; i < size; i++) data[i] = rng.normal() * std;
    out.set(name, { dims, data });
  }
  return out;
}
