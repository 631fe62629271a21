/**
 * The SLO controller: for each batch, the most expensive configuration whose predicted latency
 * keeps every waiting request within the SLO — the batch's own, those queued behind it and those
 * that will arrive while it runs (at the recent arrival rate) — from a latency table measured at
 * start-up, corrected online by how long batches really take (the machine's load changes) and by
 * the p99 of the latencies requests really saw (a feedback loop on the tail the SLO is about).
 */

import type { AnytimeModel } from '@lat/layers';
import { fitLengths, padBatch } from '@lat/layers';
import type { Candidate } from './model.js';

/** A configuration's batch latency as a line in the number of (padded) tokens it runs. */
export interface LatencyFit {
  fixedMs: number;
  perTokenMs: number;
}

/** Where the queue stands when a batch is formed. */
export interface QueueState {
  /** Padded tokens of the batch about to run. */
  batchTokens: number;
  /** How long the batch's oldest request has waited, ms. */
  batchWaitMs: number;
  /** Inputs still queued behind the batch, and how long the oldest of them has waited. */
  queuedInputs: number;
  queuedWaitMs: number;
  /** The tightest latency target among the batch's requests (the SLO, or a request's deadline). */
  targetMs: number;
}

export interface ControllerOptions {
  sloMs: number;
  maxBatch: number;
  /** Share of the SLO the prediction may use; the rest absorbs variance (p99, not mean). */
  headroom?: number;
}

/** The arrival rate is a moving average over about this long, ms. */
const arrivalWindowMs = 1_000;

export class Controller {
  /**
   * Observed / predicted batch time: > 1 when the machine is busier than at start-up. The 90th
   * percentile of the latest batches', so the plan holds for a slow batch, not a typical one (the
   * SLO is on the p99, and a shared machine's batch times vary widely).
   */
  private factor = 1;
  private readonly ratios = new Float64Array(64);
  private observed = 0;
  /** ≥ 1: grows while the recent p99 is over the SLO, shrinks back while it is well under. */
  private tail = 1;
  /** The latest requests' latencies (queue + model), a ring. */
  private readonly recent = new Float64Array(200);
  private recorded = 0;
  private tokensPerInput: number;
  /** Inputs arrived, decayed with time constant `arrivalWindowMs`, and when last updated. */
  private arrivals = 0;
  private arrivalsAt = 0;
  readonly headroom: number;

  constructor(
    readonly candidates: readonly Candidate[],
    readonly fits: readonly LatencyFit[],
    readonly o: ControllerOptions,
    typicalTokensPerInput = 32,
  ) {
    this.headroom = o.headroom ?? 0.7;
    this.tokensPerInput = typicalTokensPerInput;
  }

  /** Predicted ms of a batch of `tokens` padded tokens at candidate `i`. */
  predict(i: number, tokens: number): number {
    const f = this.fits[i]!;
    return this.factor * this.tail * (f.fixedMs + f.perTokenMs * tokens);
  }

  /** Index of the candidate to run the next batch at (`now`: performance.now(), for the arrival rate). */
  choose(q: QueueState, now = performance.now()): number {
    const target = q.targetMs * this.headroom;
    const rate = this.arrivalRate(now);
    for (let i = this.candidates.length - 1; i > 0; i--) {
      const batch = this.predict(i, q.batchTokens);
      if (q.batchWaitMs + batch > target) continue;
      // Requests queued behind this batch, and those arriving while it runs, wait for it and then
      // for the batches ahead of them (at the same point): a slow batch now is paid by all of them.
      const behind = q.queuedInputs + rate * batch;
      const waited = q.queuedInputs > 0 ? q.queuedWaitMs : 0;
      if (behind < 1 || waited + batch + this.drainMs(i, behind) <= target) return i;
    }
    return 0;
  }

  /** Counts a request's inputs as they arrive (the rate the next batches must keep up with). */
  arrived(inputs: number, now = performance.now()): void {
    this.arrivals = this.arrivals * Math.exp(-(now - this.arrivalsAt) / arrivalWindowMs) + inputs;
    this.arrivalsAt = now;
  }

  /** Inputs per ms arriving lately. */
  arrivalRate(now = performance.now()): number {
    return (this.arrivals * Math.exp(-(now - this.arrivalsAt) / arrivalWindowMs)) / arrivalWindowMs;
  }

  /** Predicted ms to run `inputs` typical inputs at candidate `i`, in batches of at most maxBatch. */
  private drainMs(i: number, inputs: number): number {
    const full = Math.floor(inputs / this.o.maxBatch);
    const rest = inputs - full * this.o.maxBatch;
    return (
      full * this.predict(i, this.o.maxBatch * this.tokensPerInput) +
      (rest > 0 ? this.predict(i, rest * this.tokensPerInput) : 0)
    );
  }

  /** Learns from a finished batch: how long it took and how many inputs and tokens it had. */
  observe(i: number, inputs: number, tokens: number, ms: number): void {
    const f = this.fits[i]!;
    this.ratios[this.observed++ % this.ratios.length] =
      ms / Math.max(1e-3, f.fixedMs + f.perTokenMs * tokens);
    const n = Math.min(this.observed, this.ratios.length);
    const p90 = this.ratios.slice(0, n).sort()[Math.floor(0.9 * (n - 1))]!;
    this.factor = Math.min(8, Math.max(0.25, p90));
    this.tokensPerInput = 0.9 * this.tokensPerInput + 0.1 * (tokens / Math.max(1, inputs));
  }

  /** Learns from requests answered: their latencies from arrival to result, ms. */
  recordLatencies(ms: readonly number[]): void {
    for (const x of ms) this.recent[this.recorded++ % this.recent.length] = x;
    const n = Math.min(this.recorded, this.recent.length);
    if (n < 20) return;
    const p99 = this.recent.slice(0, n).sort()[Math.floor(0.99 * (n - 1))]!;
    if (p99 > this.o.sloMs) this.tail = Math.min(8, this.tail * 1.1);
    else if (p99 < 0.6 * this.o.sloMs) this.tail = Math.max(1, this.tail * 0.97);
  }

  /** How much slower than the start-up table the controller now assumes batches run. */
  get loadFactor(): number {
    return this.factor * this.tail;
  }
}

/** Median of a few timed runs of a batch at a configuration. */
async function timeBatch(m: AnytimeModel, batch: number, seq: number, c: Candidate, runs: number) {
  const items = Array.from({ length: batch }, (_, b) => ({
    ids: Array.from({ length: seq }, (_, j) =>
      j === 0 ? 2 : j === seq - 1 ? 3 : 5 + ((j * 7 + b * 13) % Math.max(1, m.config.vocabSize - 5)),
    ),
    typeIds: new Array<number>(seq).fill(0),
  }));
  const x = padBatch(items);
  const spec = fitLengths(c.spec, seq);
  await m.run(x, spec);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await m.run(x, spec);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

/**
 * The latency table: each candidate timed at one input and at a full batch of `seq` tokens, as a
 * line in the batch's token count.
 */
export async function measureLatencyTable(
  m: AnytimeModel,
  candidates: readonly Candidate[],
  o: { maxBatch: number; seq: number; runs?: number },
): Promise<LatencyFit[]> {
  const fits: LatencyFit[] = [];
  const runs = o.runs ?? 3;
  for (const c of candidates) {
    const one = await timeBatch(m, 1, o.seq, c, runs);
    const many = o.maxBatch > 1 ? await timeBatch(m, o.maxBatch, o.seq, c, runs) : one;
    const perTokenMs = o.maxBatch > 1 ? Math.max(0, many - one) / ((o.maxBatch - 1) * o.seq) : one / o.seq;
    fits.push({ fixedMs: Math.max(0, one - perTokenMs * o.seq), perTokenMs });
  }
  // Noise must not make a cheaper configuration look slower than a costlier one.
  for (let i = fits.length - 2; i >= 0; i--) {
    fits[i]!.perTokenMs = Math.min(fits[i]!.perTokenMs, fits[i + 1]!.perTokenMs);
    fits[i]!.fixedMs = Math.min(fits[i]!.fixedMs, fits[i + 1]!.fixedMs);
  }
  return fits;
}
