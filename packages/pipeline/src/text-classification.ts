/** Sequence classification (and regression) at a budget, in padded batches. */
import { checkFinite, LatError } from '@lat/core';
import { adaplerMacs, chunk, fitLengths, type ModelConfig, padBatch } from '@lat/layers';
import { inputMacs, type LengthOptions } from './lengths.js';
import { type PipelineBase, type PipelineMembers, pipelineMembers } from './loaded.js';

/** A text, or a pair of texts for sentence-pair tasks (e.g. MRPC, MNLI). */
export type TextInput = string | { text: string; textPair?: string };

export interface Classification {
  /** The most probable label (regression models: the label name, or 'score'). */
  label: string;
  /** Its probability; regression models: the predicted value. */
  score: number;
  /** Every label's probability, in label order (empty for regression). */
  probabilities: number[];
  logits: number[];
  /** The input's tokens, [CLS] … [SEP]. */
  tokens: string[];
  /** Tokens each layer kept. */
  lengths: number[];
  /** Per layer, the positions (indexes into `tokens`) it kept, ascending. */
  keptPositions: number[][];
  /** Multiply-accumulates this input cost, and what the full model would have cost. */
  macs: number;
  fullMacs: number;
}

export interface TextClassificationPipeline extends PipelineMembers {
  /** Classifies one text or many (batched); always returns one result per input. */
  (inputs: TextInput | readonly TextInput[], options?: LengthOptions): Promise<Classification[]>;
  readonly task: 'text-classification';
  /** Runs inputs that are already tokenised (ids and token types, [CLS] … [SEP]). */
  classifyTokens(
    items: readonly { ids: readonly number[]; typeIds: readonly number[] }[],
    options?: LengthOptions,
  ): Promise<Classification[]>;
}

export function softmax(v: ArrayLike<number>): number[] {
  const m = Math.max(...Array.from(v));
  const e = Array.from(v, (x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

export function createTextClassification(p: PipelineBase): TextClassificationPipeline {
  const { config, tokenizer } = p.files;
  const members = pipelineMembers(p);

  async function classifyTokens(
    items: readonly { ids: readonly number[]; typeIds: readonly number[] }[],
    options: LengthOptions = {},
  ): Promise<Classification[]> {
    const { spec } = members.lengthsFor(options);
    // Batches of similar lengths waste little on padding; results come back in input order.
    const order = items.map((_, i) => i).sort((a, b) => items[a]!.ids.length - items[b]!.ids.length);
    const out: Classification[] = new Array(items.length);
    for (const group of chunk(order, p.options.batchSize ?? 32)) {
      const x = padBatch(group.map((i) => items[i]!));
      const r = await p.model.run(x, fitLengths(spec, x.seq));
      const C = config.numLabels;
      group.forEach((index, b) => {
        const item = items[index]!;
        const logits = Array.from(checkFinite(r.logits!.subarray(b * C, (b + 1) * C), p.files.name));
        const n = item.ids.length;
        const counts = r.keepCounts[b]!.map((c) => Math.min(c, n));
        out[index] = {
          ...labelOf(config, logits),
          logits,
          tokens: item.ids.map((id) => tokenizer.vocab[id] ?? tokenizer.vocab[tokenizer.unkId]!),
          lengths: counts,
          keptPositions: r.keptPositions.map((layer) => layer[b]!),
          // AdapLeR's cost includes its predictors.
          macs: p.files.adapler ? adaplerMacs(config, n, counts) : inputMacs(config, n, counts),
          fullMacs: inputMacs(config, n),
        };
      });
    }
    return out;
  }

  const classify = async (inputs: TextInput | readonly TextInput[], options: LengthOptions = {}) => {
    const list = (Array.isArray(inputs) ? inputs : [inputs]) as readonly TextInput[];
    const encoded = list.map((t, i) => {
      const [a, b] = typeof t === 'string' ? [t, undefined] : [t?.text, t?.textPair];
      if (typeof a !== 'string' || (b !== undefined && typeof b !== 'string'))
        throw new LatError('BAD_INPUT', 'give a string or { text, textPair? } of strings', `inputs[${i}]`);
      return tokenizer.encode(a, b, { maxLength: p.maxLength });
    });
    return classifyTokens(encoded, options);
  };
  return Object.assign(classify, members, { task: 'text-classification' as const, classifyTokens });
}

function labelOf(config: ModelConfig, logits: number[]) {
  if (config.numLabels === 1)
    return { label: config.labels[0] ?? 'score', score: logits[0]!, probabilities: [] as number[] };
  const probabilities = softmax(logits);
  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i]! > probabilities[best]!) best = i;
  return { label: config.labels[best] ?? String(best), score: probabilities[best]!, probabilities };
}
