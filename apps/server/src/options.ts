/** What `lat serve` is started with, and the defaults a user gets without flags. */
import { availableParallelism } from 'node:os';
import { LatError } from '@lat/core';

export interface ServeLimits {
  /** Largest request body in bytes (413 beyond it). */
  bodyBytes: number;
  /** Most texts in one /v1/classify request. */
  inputs: number;
  /** Longest text (characters) in /v1/classify; question in /v1/answer. */
  textChars: number;
  /** Longest context (characters) in /v1/answer. */
  contextChars: number;
  /** Most inputs waiting in a worker's queue; beyond it requests get 429. */
  queuedInputs: number;
  /** A request must arrive whole within this (slow clients get 408 and are disconnected). */
  requestTimeoutMs: number;
  /** Headers must arrive within this. */
  headersTimeoutMs: number;
}

export interface ServeOptions {
  /** A Hugging Face model directory (fine-tuned by `lat train`) or a bundle directory (`lat export`). */
  model: string;
  /** A frontier file; default: the model's own (frontier.json in the directory, or the bundle's). */
  frontier?: string;
  /** Which head to serve; default: what the model was trained for. */
  task?: 'text-classification' | 'question-answering';
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** The p99 latency the controller keeps requests under, in ms. */
  sloP99Ms: number;
  /** Most inputs run together in one batch. */
  maxBatch: number;
  /** How long the first request of a batch may wait for others, in ms. */
  maxWaitMs: number;
  /** onnxruntime threads per worker. */
  threads: number;
  /** Processes sharing the port (node:cluster). */
  workers: number;
  /** Always run the full model (no controller): the baseline to compare against. */
  fullOnly: boolean;
  limits: ServeLimits;
  /** In-flight requests get this long to finish after SIGTERM. */
  shutdownTimeoutMs: number;
  /** Log requests and lifecycle as JSON lines on stderr. */
  log: boolean;
}

export const defaultLimits: ServeLimits = {
  bodyBytes: 1 << 20,
  inputs: 64,
  textChars: 10_000,
  contextChars: 100_000,
  queuedInputs: 1024,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
};

/** Fills in defaults: threads are the cores shared out over the workers. */
export function serveOptions(
  o: Partial<Omit<ServeOptions, 'limits'>> & { model: string; limits?: Partial<ServeLimits> },
): ServeOptions {
  const workers = o.workers ?? 1;
  const s: ServeOptions = {
    host: '127.0.0.1',
    port: 8080,
    sloP99Ms: 50,
    maxBatch: 16,
    maxWaitMs: 5,
    workers,
    threads: Math.max(1, Math.floor(availableParallelism() / workers)),
    fullOnly: false,
    shutdownTimeoutMs: 30_000,
    log: false,
    ...o,
    limits: { ...defaultLimits, ...o.limits },
  };
  const positive = { sloP99Ms: s.sloP99Ms, maxBatch: s.maxBatch, threads: s.threads, workers: s.workers };
  for (const [k, v] of Object.entries(positive))
    if (!(v > 0 && Number.isFinite(v))) throw new LatError('BAD_INPUT', `must be positive, got ${v}`, k);
  if (!(s.maxWaitMs >= 0)) throw new LatError('BAD_INPUT', `must be ≥ 0, got ${s.maxWaitMs}`, 'maxWaitMs');
  return s;
}

/** '50ms', '0.2s' or a bare number of milliseconds. */
export function parseDurationMs(text: string, where: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/i.exec(text);
  if (!m)
    throw new LatError('BAD_INPUT', `cannot read '${text}'; give a duration such as 50ms or 0.2s`, where);
  return Number(m[1]) * (m[2]?.toLowerCase() === 's' ? 1000 : 1);
}
