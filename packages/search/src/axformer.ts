/**
 * AxFormer's greedy, accuracy-driven pruning (REFERENCE.md §5), pure: the metric and the cost of
 * a candidate are injected. Passes go coarse to fine — every layer's feed-forward block, then
 * every attention block, then single heads, each from the top layer down — and a removal is
 * accepted iff m(candidate) ≥ m(current) − ε; passes repeat until one accepts nothing. Then,
 * top layer first, each layer with attention adopts the smallest hard-attention k that keeps
 * m; the first layer where none does ends that phase. No randomness: the same evaluations give
 * the same result. Every evaluation is cached by candidate, and the log carries the cache, so a
 * run resumed from its log replays to where it stopped without evaluating anything twice.
 */
import { type AxformerMasks, LatError, Rng } from '@lat/core';

export type AxformerPhase = 'ffn' | 'attention' | 'head' | 'hard-attention';

/** One candidate tried. */
export interface AxformerStep {
  /** 1-based pruning pass (hard attention comes after the last). */
  pass: number;
  phase: AxformerPhase;
  layer: number;
  /** The head's index among the layer's remaining heads (phase 'head'). */
  head?: number;
  /** The hard-attention k tried (phase 'hard-attention'). */
  k?: number;
  metric: number;
  /** m(current) when it was tried. */
  current: number;
  accepted: boolean;
  /** The candidate's cost, when a cost is given. */
  cost?: number;
  /** Its metric came from the cache (a resumed run replaying its log). */
  cached: boolean;
}

/** Everything needed to resume, and the record of the search: JSON-serialisable. */
export interface AxformerLog {
  kind: 'lat-axformer-log';
  version: 1;
  epsilon: number;
  /** The starting structure's key: a log resumes only the search it came from. */
  start: string;
  baseline: number;
  steps: AxformerStep[];
  /** Metric by candidate key. */
  evaluations: Record<string, number>;
}

export interface AxformerSearchOptions {
  /** The model as it is (every remaining part on). */
  start: AxformerMasks;
  /** Tolerated metric drop per accepted removal (0: "accurate" mode). */
  epsilon?: number;
  /** Hard-attention k values to try per layer, e.g. `hardAttentionKs(128)`; absent: no hard attention. */
  hardAttentionKs?: readonly number[];
  /** The task metric of a candidate on the selection set (higher is better). */
  evaluate: (m: AxformerMasks) => Promise<number> | number;
  /** The cost of a candidate (MACs, parameters…), recorded with each step. */
  cost?: (m: AxformerMasks) => number;
  /** A previous run's log: its evaluations are reused (same start and ε required). */
  resume?: AxformerLog;
  /** Called after each step with the log so far (progress, saving for resume). */
  onStep?: (step: AxformerStep, log: AxformerLog) => void;
}

export interface AxformerResult {
  masks: AxformerMasks;
  metric: number;
  baseline: number;
  /** The accepted removals and hard-attention choices, in order. */
  accepted: AxformerStep[];
  log: AxformerLog;
  /** Evaluations run in this call (cache hits excluded). */
  evaluations: number;
}

/** REFERENCE.md §5's k values for n input tokens: {2, 4, 8, 16, ⌈n/4⌉}, ascending, each < n. */
export function hardAttentionKs(n: number): number[] {
  return [...new Set([2, 4, 8, 16, Math.ceil(n / 4)])].filter((k) => k < n).sort((a, b) => a - b);
}

/** A candidate's cache key: what it computes (a removed block's heads and k do not matter). */
export function masksKey(m: AxformerMasks): string {
  return m.ffn
    .map((f, i) => {
      const att = m.attention[i]
        ? `${m.heads[i]!.map((h) => (h ? 1 : 0)).join('')}k${m.hardAttentionK[i]}`
        : '-';
      return `${f ? 'F' : '_'}${att}`;
    })
    .join('|');
}

const copy = (m: AxformerMasks) => ({
  ffn: [...m.ffn],
  attention: [...m.attention],
  heads: m.heads.map((h) => [...h]),
  hardAttentionK: [...m.hardAttentionK],
});

/** Runs the greedy search; see the file comment. */
export async function axformerSearch(o: AxformerSearchOptions): Promise<AxformerResult> {
  const epsilon = o.epsilon ?? 0;
  if (!(epsilon >= 0) || !Number.isFinite(epsilon))
    throw new LatError('BAD_INPUT', `must be a number ≥ 0, got ${epsilon}`, '--epsilon');
  for (const k of o.hardAttentionKs ?? [])
    if (!Number.isInteger(k) || k < 1)
      throw new LatError(
        'BAD_INPUT',
        `hard-attention k must be whole numbers ≥ 1, got ${k}`,
        'hardAttentionKs',
      );
  const startKey = masksKey(o.start);
  if (o.resume && (o.resume.start !== startKey || o.resume.epsilon !== epsilon))
    throw new LatError(
      'BAD_INPUT',
      'the log is from another model or another --epsilon; resume with the same ones, or start afresh',
      'resume',
    );
  const cache = new Map(Object.entries(o.resume?.evaluations ?? {}));
  let evaluations = 0;
  const measure = async (m: AxformerMasks): Promise<[number, boolean]> => {
    const key = masksKey(m);
    const hit = cache.get(key);
    if (hit !== undefined) return [hit, true];
    const v = await o.evaluate(m);
    if (!Number.isFinite(v)) throw new LatError('BAD_INPUT', `evaluate returned ${v}`, 'evaluate');
    evaluations++;
    cache.set(key, v);
    return [v, false];
  };
  const [baseline] = await measure(o.start);
  const log: AxformerLog = {
    kind: 'lat-axformer-log',
    version: 1,
    epsilon,
    start: startKey,
    baseline,
    steps: [],
    evaluations: {},
  };
  let current = copy(o.start);
  let metric = baseline;
  let pass = 0;
  const accepted: AxformerStep[] = [];
  /** Tries one candidate; adopts it when it keeps the metric. */
  const attempt = async (
    cand: AxformerMasks,
    step: Pick<AxformerStep, 'phase' | 'layer' | 'head' | 'k'>,
  ): Promise<boolean> => {
    const [m, cached] = await measure(cand);
    const ok = m >= metric - epsilon;
    const s: AxformerStep = {
      pass,
      ...step,
      metric: m,
      current: metric,
      accepted: ok,
      ...(o.cost ? { cost: o.cost(cand) } : {}),
      cached,
    };
    log.steps.push(s);
    log.evaluations = Object.fromEntries(cache);
    if (ok) {
      current = copy(cand);
      metric = m;
      accepted.push(s);
    }
    o.onStep?.(s, log);
    return ok;
  };
  const L = current.ffn.length;
  const topDown = Array.from({ length: L }, (_, i) => L - 1 - i);
  let any = true;
  while (any) {
    any = false;
    pass++;
    for (const l of topDown) {
      if (!current.ffn[l]) continue;
      const cand = copy(current);
      cand.ffn[l] = false;
      if (await attempt(cand, { phase: 'ffn', layer: l })) any = true;
    }
    for (const l of topDown) {
      if (!current.attention[l]) continue;
      const cand = copy(current);
      cand.attention[l] = false;
      if (await attempt(cand, { phase: 'attention', layer: l })) any = true;
    }
    for (const l of topDown) {
      for (let h = 0; h < current.heads[l]!.length; h++) {
        // The last head of a block goes only with the block (the 'attention' candidate).
        const left = current.heads[l]!.filter(Boolean).length;
        if (!current.attention[l] || !current.heads[l]![h] || left < 2) continue;
        const cand = copy(current);
        cand.heads[l]![h] = false;
        if (await attempt(cand, { phase: 'head', layer: l, head: h })) any = true;
      }
    }
  }
  if (o.hardAttentionKs?.length) {
    const ks = [...new Set(o.hardAttentionKs)].sort((a, b) => a - b);
    for (const l of topDown) {
      if (!current.attention[l]) continue;
      let adopted = false;
      for (const k of ks) {
        const cand = copy(current);
        cand.hardAttentionK[l] = k;
        if (await attempt(cand, { phase: 'hard-attention', layer: l, k })) {
          adopted = true;
          break;
        }
      }
      if (!adopted) break;
    }
  }
  log.evaluations = Object.fromEntries(cache);
  return { masks: current, metric, baseline, accepted, log, evaluations };
}

/** Checks a parsed axformer log file (a resumed run's input). */
export function parseAxformerLog(raw: unknown, where: string): AxformerLog {
  const j = raw as Partial<AxformerLog> | null;
  if (
    j?.kind !== 'lat-axformer-log' ||
    j.version !== 1 ||
    typeof j.start !== 'string' ||
    !Array.isArray(j.steps) ||
    typeof j.evaluations !== 'object' ||
    j.evaluations === null ||
    Object.values(j.evaluations).some((v) => typeof v !== 'number')
  )
    throw new LatError(
      'BAD_INPUT',
      'not an axformer log written by lat axformer (kind lat-axformer-log, version 1)',
      where,
    );
  return j as AxformerLog;
}

/**
 * The random-removal control of the same size: as many feed-forward blocks, attention blocks
 * and heads removed as in `pruned`, chosen uniformly at random (seeded) from `start`. It keeps
 * `start`'s hard attention: the control is for the removals.
 */
export function randomRemoval(start: AxformerMasks, pruned: AxformerMasks, seed: number): AxformerMasks {
  const rng = new Rng(seed);
  const pick = <T>(xs: T[], n: number): T[] => {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a.slice(0, n);
  };
  const layers = start.ffn.map((_, i) => i);
  const count = (xs: readonly boolean[]) => xs.filter(Boolean).length;
  const out = copy(start);
  for (const l of pick(
    layers.filter((l) => start.ffn[l]),
    count(start.ffn) - count(pruned.ffn),
  ))
    out.ffn[l] = false;
  for (const l of pick(
    layers.filter((l) => start.attention[l]),
    count(start.attention) - count(pruned.attention),
  ))
    out.attention[l] = false;
  // Heads removed inside surviving blocks, drawn among the surviving blocks' heads (≥ 1 left each).
  const removedHeads = layers.reduce(
    (n, l) => n + (pruned.attention[l] ? count(start.heads[l]!) - count(pruned.heads[l]!) : 0),
    0,
  );
  const slots = layers.flatMap((l) =>
    out.attention[l] ? start.heads[l]!.flatMap((on, h) => (on ? [[l, h] as const] : [])) : [],
  );
  let removed = 0;
  for (const [l, h] of pick(slots, slots.length)) {
    if (removed === removedHeads) break;
    if (count(out.heads[l]!) < 2) continue;
    out.heads[l]![h] = false;
    removed++;
  }
  return out;
}
