/**
 * Trainable representation pooling (REFERENCE.md §4, DeepPyramidion): at each layer of a pooling
 * schedule a scorer s = sigmoid(x·W + b) + 1e-5 rates the rows after the layer's attention and a
 * differentiable top-k (@lat/core's successive halving, or iterative softmax for comparison)
 * merges them down to the layer's width; the feed-forward block and every later layer run on the
 * merged rows. The schedule is part of the model (config.json `lat_pooling`), so every command
 * and the pipeline build pooled graphs from the config alone; it trains end to end with the task
 * loss, the scorers learning through the merge weights.
 *
 * Where it pools: after layer L's attention sub-block (the token reducer's hook), so layer L's
 * feed-forward already runs on the pooled rows — one block earlier than the paper, which pools
 * after the whole layer. [CLS] always ranks first and stays row 0 for the classification head.
 * With `keepFirstSegment` (span QA) every token of the first segment — [CLS] question [SEP] —
 * passes each pooling unmerged too, so the later layers can still match the question with the
 * context's rows.
 */
import {
  encoderMacs,
  type Graph,
  type HostTensor,
  halvingRounds,
  iterativeSoftmaxTopK,
  LatError,
  type LengthSpec,
  Rng,
  type StateDict,
  successiveHalvingTopK,
  type Tensor32,
  type Value,
  validateLengths,
} from '@lat/core';
import type { ModelConfig, PoolingConfig } from '../architectures/config.js';
import { firstSegment } from '../blocks/rows.js';
import { encoderInputs } from '../encoder.js';
import { keepCountsInput, latLayers, realLengths } from './lat.js';
import type { LossTargets, ReducerBatch, TokenReducer } from './reducer.js';

/** The auxiliary scorer loss term's name (see `keepSpanLoss`). */
export const scorerLoss = 'scorer';

/** Options of the pooling reducer. */
export interface PoolingReducerOptions {
  /** Training graphs of span tasks: add the `scorer` loss term (see `keepSpanLoss`). */
  scorerLoss?: boolean;
}

/** The scorer's weight and bias names for a pooling layer. */
export const scorerNames = (layer: number) => ({
  weight: `pooling.scorer.${layer}.weight`,
  bias: `pooling.scorer.${layer}.bias`,
});

/** Shapes of the scorers a pooling config needs (none without pooling). */
export function scorerShapes(c: ModelConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const [layer] of c.pooling?.schedule ?? []) {
    const n = scorerNames(layer);
    m.set(n.weight, [1, c.hiddenSize]);
    m.set(n.bias, [1]);
  }
  return m;
}

/**
 * Fresh scorers for the layers `weights` has none for: W ~ normal(0, 0.02) as BERT initialises
 * linears, b = 0. With LayerNorm'd states that spreads initial scores over ≈ 0.35–0.65, so the
 * first merges already favour the better-scored row instead of averaging pairs evenly.
 */
export function withScorers(c: ModelConfig, weights: StateDict, seed = 1): StateDict {
  const out = new Map(weights);
  const rng = new Rng(seed);
  for (const [name, dims] of scorerShapes(c)) {
    if (out.has(name)) continue;
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    if (!name.endsWith('.bias')) for (let i = 0; i < data.length; i++) data[i] = rng.normal() * 0.02;
    out.set(name, { dims, data } as Tensor32);
  }
  return out;
}

/**
 * Rows each layer's feed-forward runs on for an input of `tokens` tokens (what the cost model
 * counts): the width of the last pooling at or before the layer, at most the input's length.
 */
export function poolingCounts(c: Pick<ModelConfig, 'numLayers' | 'pooling'>, tokens: number): number[] {
  const widths = new Map(c.pooling?.schedule ?? []);
  let rows = tokens;
  return Array.from({ length: c.numLayers }, (_, i) => {
    rows = Math.min(rows, widths.get(i) ?? rows);
    return rows;
  });
}

/**
 * MACs of one n-token input of any model whose layers run on `counts` rows (default: its
 * schedule's, `poolingCounts`; every row without pooling), as its graph computes them: the LAT
 * cost model over those rows, with blockwise layers' attention at n·c instead of n² (plus n·g to
 * the g global keys and g·n for the global rows' own queries; after the pooling with
 * pooled_chunk c, r·c over r rows), the scorers (n·d each) and the iterative operator's k·n·d
 * product. Successive halving's gathers and merges are O(n·d) and left out. Without pooling it is
 * `encoderMacs`.
 */
export function poolingMacs(
  c: ModelConfig,
  n: number,
  counts: readonly number[] = poolingCounts(c, n),
  o: { qaHead?: boolean } = {},
): number {
  const d = c.hiddenSize;
  let macs = encoderMacs(c, n, counts, o);
  const p = c.pooling;
  if (!p) return macs;
  const until = lastBlockwiseLayer(c);
  let rows = n;
  for (let i = 0; i < c.numLayers; i++) {
    const chunk = attentionChunk(c, i);
    if (chunk) {
      const global = i <= until ? Math.min(rows, p.globalTokens ?? 0) : 0;
      macs += 2 * rows * (Math.min(rows, chunk) + 2 * global - rows) * d;
    }
    const k = p.schedule.find(([l]) => l === i)?.[1];
    if (k !== undefined) macs += rows * d + (p.operator === 'iterative' ? k * rows * d : 0);
    rows = counts[i]!;
  }
  return macs;
}

/**
 * The last layer that attends blockwise (−1: none): with a chunk, every layer up to the first
 * pooling (later layers see few rows); every layer when there is no pooling (the blockwise baseline).
 */
export function lastBlockwiseLayer(c: Pick<ModelConfig, 'numLayers' | 'pooling'>): number {
  return c.pooling?.chunk ? (c.pooling.schedule[0]?.[0] ?? c.numLayers - 1) : -1;
}

/**
 * The block width layer `i` attends in (undefined: over all its rows): `chunk` up to the first
 * pooling, `pooledChunk` after it (over the kept rows in document order).
 */
export function attentionChunk(c: Pick<ModelConfig, 'numLayers' | 'pooling'>, i: number): number | undefined {
  if (i <= lastBlockwiseLayer(c)) return c.pooling!.chunk;
  const first = c.pooling?.schedule[0]?.[0];
  return first !== undefined && i > first ? c.pooling!.pooledChunk : undefined;
}

/** "0:1024,1:256" (layer:width pairs) → a schedule; `where` names the flag in errors. */
export function parsePoolingSchedule(text: string, where = '--pooling'): [number, number][] {
  return text.split(',').map((part) => {
    const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(part);
    if (!m)
      throw new LatError('BAD_INPUT', `'${part}' is not layer:width (e.g. --pooling 0:1024,1:256)`, where);
    return [Number(m[1]), Number(m[2])];
  });
}

/**
 * Checks a pooling config against the model: layers within range and in order, widths that
 * shrink, each reachable by halving the previous (the first: the input length), and an input
 * length the model has positions for. One-line errors naming `where`; `flags` names the command
 * line flag an option came from (`--keep-first-segment`), which that option's errors name instead.
 */
export function checkPooling(
  p: PoolingConfig,
  c: Pick<ModelConfig, 'numLayers' | 'maxPositions' | 'positionOffset'>,
  where: string,
  flags: { keepFirstSegment?: string } = {},
): void {
  const positions = c.maxPositions - c.positionOffset;
  if (!Number.isInteger(p.inputLength) || p.inputLength < 1 || p.inputLength > positions)
    throw new LatError(
      'BAD_INPUT',
      `input length ${p.inputLength} must lie in 1..${positions} (the model's positions)`,
      where,
    );
  // No schedule is allowed only with a chunk: blockwise attention in every layer (the baseline).
  if (p.schedule.length === 0 && !p.chunk)
    throw new LatError('BAD_INPUT', 'the pooling schedule is empty', where);
  let from = p.inputLength;
  let previousLayer = -1;
  for (const [layer, width] of p.schedule) {
    if (!Number.isInteger(layer) || layer < 0 || layer >= c.numLayers)
      throw new LatError(
        'BAD_INPUT',
        `layer ${layer} is out of range: the model has layers 0..${c.numLayers - 1}`,
        where,
      );
    if (layer <= previousLayer)
      throw new LatError(
        'BAD_INPUT',
        `layers must be given in increasing order (${layer} after ${previousLayer})`,
        where,
      );
    if (width >= from)
      throw new LatError(
        'BAD_INPUT',
        `the schedule must shrink: layer ${layer} pools to ${width} rows from ${from}`,
        where,
      );
    halvingRounds(from, width, where);
    from = width;
    previousLayer = layer;
  }
  if (p.chunk !== undefined && (!Number.isInteger(p.chunk) || p.chunk < 1))
    throw new LatError('BAD_INPUT', `chunk must be a whole number ≥ 1, got ${p.chunk}`, where);
  if (p.pooledChunk !== undefined) {
    const first = p.schedule[0];
    if (!first)
      throw new LatError(
        'BAD_INPUT',
        'pooled_chunk needs a pooling schedule: it sets the blocks of the layers after the first pooling',
        where,
      );
    if (!Number.isInteger(p.pooledChunk) || p.pooledChunk < 1 || p.pooledChunk > first[1])
      throw new LatError(
        'BAD_INPUT',
        `pooled_chunk must be a whole number in 1..${first[1]} (the rows after layer ${first[0]}'s pooling), got ${p.pooledChunk}`,
        where,
      );
  }
  if (p.globalTokens !== undefined) {
    if (!Number.isInteger(p.globalTokens) || p.globalTokens < 0 || p.globalTokens > p.inputLength)
      throw new LatError(
        'BAD_INPUT',
        `global tokens must be a whole number in 0..${p.inputLength} (the input length), got ${p.globalTokens}`,
        where,
      );
    if (p.globalTokens > 0 && !p.chunk)
      throw new LatError(
        'BAD_INPUT',
        'global tokens need blockwise attention (a chunk, e.g. --chunk 512): full attention already sees every token',
        where,
      );
  }
  if (p.operator !== undefined && p.operator !== 'halving' && p.operator !== 'iterative')
    throw new LatError(
      'BAD_INPUT',
      `operator must be halving or iterative, got ${String(p.operator)}`,
      where,
    );
  if (p.keepFirstSegment !== undefined && typeof p.keepFirstSegment !== 'boolean')
    throw new LatError(
      'BAD_INPUT',
      `keep_first_segment must be true or false, got ${JSON.stringify(p.keepFirstSegment)}`,
      where,
    );
  const keeping = (needs: string) =>
    flags.keepFirstSegment
      ? new LatError('BAD_INPUT', needs, flags.keepFirstSegment)
      : new LatError('BAD_INPUT', `keeping the first segment ${needs}`, where);
  if (p.keepFirstSegment && p.operator === 'iterative')
    throw keeping('needs successive halving: iterative softmax mixes every row into every output');
  if (p.keepFirstSegment && p.schedule.length === 0) throw keeping('needs a pooling schedule');
}

/**
 * Where a pooled model takes LAT lengths: the layers after its last pooling (`from` on), each
 * keeping at most the last pooled `width`; `fixed` are the rows of the layers up to it, which a
 * length configuration repeats. Undefined when no layer follows the last pooling (or none pools).
 */
export function pooledLatLayers(
  c: Pick<ModelConfig, 'numLayers' | 'pooling'>,
): { from: number; width: number; fixed: number[] } | undefined {
  const last = c.pooling?.schedule.at(-1);
  // Blockwise pooled layers have no full attention map to rank their rows by.
  if (!last || last[0] >= c.numLayers - 1 || c.pooling?.pooledChunk) return undefined;
  const rows = poolingCounts(c, c.pooling!.inputLength);
  return { from: last[0] + 1, width: last[1], fixed: rows.slice(0, last[0] + 1) };
}

/**
 * Checks a length configuration for a pooled model: absolute counts whose layers up to the last
 * pooling are the schedule's rows, and whose later (LAT) layers keep at most the pooled width.
 */
export function checkPooledLengths(
  spec: LengthSpec,
  c: Pick<ModelConfig, 'numLayers' | 'pooling'>,
  where = 'lengths',
): void {
  const lat = pooledLatLayers(c);
  if (!lat)
    throw new LatError(
      'BAD_LENGTHS',
      `this pooled model runs at its pooling schedule: ${c.pooling?.pooledChunk ? 'its layers after pooling attend blockwise (pooled_chunk)' : 'no layer follows its last pooling'}, so length configurations (--lengths, --ratios, --budget) do not apply`,
      where,
    );
  const schedule = `${lat.fixed.join(',')},…`;
  if (spec.form !== 'absolute')
    throw new LatError(
      'BAD_LENGTHS',
      `a pooled model takes keep counts (--lengths ${schedule}), not ratios: its pooling layers keep their widths`,
      where,
    );
  spec.lengths.forEach((l, i) => {
    if (i < lat.from && l !== lat.fixed[i])
      throw new LatError(
        'BAD_LENGTHS',
        `value ${i + 1} is ${l} but layer ${i} runs on ${lat.fixed[i]} rows: a pooled model's lengths start with its schedule's rows (${schedule}); LAT lengths apply from layer ${lat.from}`,
        where,
      );
    if (i >= lat.from && l > lat.width)
      throw new LatError(
        'BAD_LENGTHS',
        `value ${i + 1} is ${l} but layer ${lat.from - 1} pools to ${lat.width} rows: LAT lengths after a pooling layer are at most its width`,
        where,
      );
  });
  validateLengths({ ...spec, paddedLength: undefined }, c.numLayers, undefined, where);
}

/**
 * The pooling reducer of a model whose config has a pooling schedule. The layers after the last
 * pooling also take LAT lengths (`keep_counts`, as `latReducer`): with no setting, or lengths
 * equal to the pooled width, every pooled row is kept; a length configuration (absolute, checked
 * by `checkPooledLengths`) keeps each later layer's most-attended pooled rows.
 */
export function poolingReducer(
  p: PoolingConfig,
  o: PoolingReducerOptions = {},
): TokenReducer<LengthSpec | undefined> {
  const widths = new Map(p.schedule);
  const inputs = new Map(
    p.schedule.map(([layer], i) => [layer, i === 0 ? p.inputLength : p.schedule[i - 1]![1]]),
  );
  return {
    name: 'pooling',
    parameters: scorerShapes,
    build({ g, config, training, param }) {
      const lat = pooledLatLayers({ ...config, pooling: p });
      const latReduce = lat && latLayers(g, config, training);
      const firstSegment = p.keepFirstSegment ? firstSegmentRows(g, config) : undefined;
      const scored: ScoredRows[] = []; // each pooling layer's scorer logits, for the scorer loss
      return {
        reduce(x) {
          const { layer, attended, mask, positions } = x;
          const k = widths.get(layer);
          if (k === undefined) return lat && layer >= lat.from ? latReduce!(x) : undefined;
          // Rows are first-segment tokens by their original position (kept rows keep theirs).
          const kept = firstSegment && g.mul(g.gatherElements(firstSegment, positions, 1), mask);
          return {
            reduce() {
              const { logits, scores } = scorerScores(
                g,
                attended,
                mask,
                param(scorerNames(layer).weight),
                param(scorerNames(layer).bias),
              );
              scored.push({ logits, mask, positions, k, ...(kept ? { kept } : {}) });
              const input = { scores, mask, positions, keepFirst: true, ...(kept ? { kept } : {}) };
              const plan =
                p.operator === 'iterative'
                  ? iterativeSoftmaxTopK(g, input, { k })
                  : successiveHalvingTopK(g, input, { k, maxRows: inputs.get(layer)! });
              return { rows: plan.apply, mask: plan.mask, positions: plan.positions, valid: plan.mask };
            },
          };
        },
        ...(o.scorerLoss ? { losses: (targets: LossTargets) => scorerLossTerm(g, scored, targets) } : {}),
      };
    },
    // Inputs longer than the schedule's would pool to more rows than its widths.
    feeds(setting, x, config): Record<string, HostTensor> {
      const seq = x.attentionMask.length / x.batch;
      if (seq > p.inputLength)
        throw new LatError(
          'BAD_INPUT',
          `inputs have ${seq} tokens but the model pools from at most ${p.inputLength}; truncate them (e.g. --max-length ${p.inputLength})`,
          'input_ids',
        );
      if (p.keepFirstSegment) checkFirstSegments(p, x);
      const pooled = { ...config, pooling: p };
      if (setting !== undefined) checkPooledLengths(setting, pooled);
      if (!pooledLatLayers(pooled)) return {};
      return { [keepCountsInput]: pooledKeepCounts(pooled, x, setting) };
    },
  };
}

/**
 * [B, n] float of the input: 1 for first-segment tokens (token type 0 and attention 1), the rows
 * `keepFirstSegment` keeps intact. Only token types tell the segments apart: a model with one
 * type (RoBERTa: every token is type 0) or none (DistilBERT) is refused.
 */
function firstSegmentRows(g: Graph, config: ModelConfig): Value {
  if (config.typeVocabSize < 2)
    throw new LatError(
      'UNSUPPORTED',
      `needs token types to find the first segment (the question), and this ${config.architecture} model has ${config.typeVocabSize === 0 ? 'none' : 'one (every token is type 0)'}; pool without keeping it (no --keep-first-segment)`,
      'lat_pooling.keep_first_segment',
    );
  const mask = g.cast(g.value(encoderInputs.attentionMask), g.float);
  return firstSegment(g, mask, g.value(encoderInputs.tokenTypeIds));
}

/** Every example's first segment must fit the narrowest pooling: its rows are all kept. */
function checkFirstSegments(p: PoolingConfig, x: ReducerBatch): void {
  const seq = x.attentionMask.length / x.batch;
  const [layer, width] = p.schedule.at(-1)!;
  for (let b = 0; b < x.batch; b++) {
    let rows = 0;
    for (let i = b * seq; i < (b + 1) * seq; i++)
      if (x.attentionMask[i] === 1n && (x.tokenTypeIds?.[i] ?? 0n) === 0n) rows++;
    if (rows > width)
      throw new LatError(
        'BAD_INPUT',
        `example ${b} has ${rows} first-segment tokens (token type 0), all kept through pooling, but layer ${layer} pools to ${width} rows; shorten the question, or use a model without keep_first_segment (a classification input is one segment: every token would be kept)`,
        'token_type_ids',
      );
  }
}

/**
 * Per-example keep counts [B × L] of a pooled model: each layer's rows for the example's length
 * (its schedule), and in the LAT layers min(length, those rows) — the same rows an input padded
 * to any length keeps, since padding ranks last.
 */
function pooledKeepCounts(c: ModelConfig, x: ReducerBatch, spec: LengthSpec | undefined): HostTensor {
  const lengths = spec?.form === 'absolute' ? spec.lengths : undefined;
  const data = realLengths(x).flatMap((n) =>
    poolingCounts(c, Math.max(n, 1)).map((rows, i) => Math.min(rows, lengths?.[i] ?? rows)),
  );
  return { type: 'int64', dims: [x.batch, c.numLayers], data: BigInt64Array.from(data, BigInt) };
}

/**
 * s = sigmoid(x·W + b) + 1e-5 per row [B, n], and its logits; padding's logit is −1e4, so its
 * score is 1e-5.
 */
function scorerScores(g: Graph, x: Value, mask: Value, w: Value, b: Value): { logits: Value; scores: Value } {
  const logit = g.squeeze(g.linear(x, w, b), [2]);
  const logits = g.where(g.greater(mask, g.scalar(0)), logit, g.scalar(-1e4));
  return { logits, scores: g.add(g.sigmoid(logits), g.scalar(1e-5)) };
}

/** One pooling layer's scorer logits [B, n] (padding −1e4), its rows' mask and positions [B, n] and width. */
export interface ScoredRows {
  logits: Value;
  mask: Value;
  positions: Value;
  k: number;
  /** [B, n] float: 1 for the rows the pooling keeps intact besides [CLS] (`keepFirstSegment`). */
  kept?: Value;
}

/** The `scorer` term: `keepSpanLoss` summed over the pooling layers (each has its own scorer). */
function scorerLossTerm(
  g: Graph,
  scored: readonly ScoredRows[],
  targets: LossTargets,
): Record<string, Value> {
  if (!targets.spans)
    throw new LatError('UNSUPPORTED', 'the scorer loss needs a span task (gold answer spans)', scorerLoss);
  const spans = targets.spans;
  const terms = scored.map((x) => keepSpanLoss(g, x, spans.start, spans.end));
  return { [scorerLoss]: terms.reduce((a, b) => g.add(a, b)) };
}

/**
 * Auxiliary scorer loss of span QA (training only). A pooled model answers well only from the
 * answer's own row, so the scorer should rank the gold span's rows among the k the top-k keeps.
 * Per gold row (position in start..end, a real row, not [CLS]) it is −log σ(z − t): the pairwise
 * logistic ranking loss (RankNet, BPR) between the gold row's logit z and the logit t of the
 * boundary row — the first row the top-k would drop (the (k+1)-th largest, [CLS] and kept rows
 * ranked first as the operators rank them; a kept row is never a gold row). Equivalently BCE on "gold is kept" with the keep threshold, not 0, as
 * decision boundary; it is small once the answer is kept, and only the gold and boundary rows
 * get gradient. Plain BCE over all rows would push the n − 1 other rows down (thousands of
 * negatives per positive) and fight the task loss over which context rows to keep; here the task
 * loss alone ranks them. Mean over the batch's gold rows; a layer whose input has ≤ k rows keeps
 * them all (t = −1e4, loss 0).
 */
export function keepSpanLoss(g: Graph, x: ScoredRows, start: Value, end: Value): Value {
  const { logits, mask, positions, k } = x;
  const n = g.squeeze(g.slice(g.shapeOf(logits), [1], [2], [0], [1]), [0]);
  const cls = g.equal(positions, g.int64(0));
  const first = x.kept ? g.greater(g.add(x.kept, g.cast(cls, g.float)), g.scalar(0)) : cls;
  const key = g.where(first, g.scalar(1e4), logits);
  const [, order] = g.topK(key, g.unsqueeze(g.min(n, g.int64(k + 1)), [0]), 1);
  const last = g.slice(order, [-1], [Number.MAX_SAFE_INTEGER], [1], [logits.shape![0]!, 1]);
  const boundary = g.gatherElements(key, last, 1); // [B, 1]
  const t = g.where(g.greater(n, g.int64(k)), boundary, g.scalar(-1e4));
  const margin = g.unsqueeze(g.sub(logits, t), [2]);
  // −log σ(m) = −log softmax([m, 0])₀, stable for any m.
  const nll = g.neg(
    g.squeeze(g.slice(g.logSoftmax(g.concat([margin, g.zerosLike(margin)], 2), 2), [0], [1], [2]), [2]),
  );
  const inSpan = g.and(
    g.not(g.less(positions, g.unsqueeze(start, [1]))),
    g.not(g.greater(positions, g.unsqueeze(end, [1]))),
  );
  const gold = g.cast(g.and(g.and(inSpan, g.not(first)), g.greater(mask, g.scalar(0))), g.float);
  const count = g.max(g.reduceSum(gold, [0, 1], false), g.scalar(1));
  return g.div(g.reduceSum(g.mul(gold, nll), [0, 1], false), count);
}
