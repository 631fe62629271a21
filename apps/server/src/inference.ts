/**
 * The served model behind a worker thread. The server's thread keeps the tokenizer (requests are
 * tokenised as they arrive, to batch them by size) and hands batches to the worker, which owns
 * the ONNX session; one batch runs at a time. A worker thread that dies (a crash in native code,
 * an uncaught error) fails only the batch it was running and is started again, with backoff.
 */
import { Worker } from 'node:worker_threads';
import { LatError, type LatErrorCode, type LengthSpec } from '@lat/core';
import {
  type Classification,
  type LengthOptions,
  type QuestionAnswer,
  type QuestionInput,
  refuseAdaplerLengths,
  resolveLengths,
} from '@lat/pipeline';
import { type ModelTokenizer, readTokenizer } from '@lat/pipeline/node';
import type { FrontierFile, FrontierPoint } from '@lat/search';
import type { LatencyFit } from './controller.js';
import type { Candidate, ServedModel } from './model.js';
import type { ServeOptions } from './options.js';

export type Tokenised = { ids: number[]; typeIds: number[] };
export type BatchWork =
  | { kind: 'classify'; items: Tokenised[] }
  | { kind: 'answer'; questions: QuestionInput[] };

/** What the worker reports once its session is open and its latency table measured. */
export interface ModelInfo {
  modelName: string;
  task: ServedModel['served']['task'];
  maxLength: number;
  numLayers: number;
  frontier: FrontierFile | undefined;
  /** The configurations the controller may pick (one, the full model, with --full-only). */
  candidates: Candidate[];
  candidateSource: ServedModel['candidateSource'];
  /** The latency table: one line per candidate, measured at `seq` tokens per input. */
  fits: LatencyFit[];
  seq: number;
}

/**
 * What a response needs of a classification: the worker sends only this back (token strings,
 * logits and kept positions would be copied between threads for nothing).
 */
export type ServedClassification = Pick<
  Classification,
  'label' | 'score' | 'probabilities' | 'lengths' | 'macs' | 'fullMacs'
> & { tokenCount: number };
export type BatchResults = ServedClassification[] | QuestionAnswer[];

type WorkerError = { message: string; code?: string };
/** What a worker thread starts with: the server's options, and whether to time the latency table. */
export interface WorkerStart {
  options: ServeOptions;
  /** False on a restart: the controller keeps the table it has corrected while serving. */
  measure: boolean;
}
export type ToWorker =
  | { type: 'run'; id: number; work: BatchWork; options: LengthOptions; crash?: boolean }
  | { type: 'close' };
export type FromWorker =
  | { type: 'ready'; info: ModelInfo }
  | { type: 'failed'; error: WorkerError }
  | { type: 'result'; id: number; results: BatchResults }
  | { type: 'error'; id: number; error: WorkerError }
  | { type: 'closed' };

/** 'restarting': the inference thread died and a new one is starting; 'failed': it could not be restarted. */
export type InferenceState = 'ready' | 'restarting' | 'failed';

/** The inference thread died while running a batch (answered 503: the request may be retried). */
export class InferenceCrashed extends Error {
  readonly code = 'INFERENCE_CRASHED';
}

/** The inference thread could not be restarted (answered 503 until the server is restarted). */
export class InferenceUnavailable extends Error {
  readonly code = 'INFERENCE_UNAVAILABLE';
}

export interface InferenceModel extends ModelInfo {
  tokenizer: ModelTokenizer['tokenizer'];
  /** The configuration a request's options stand for, and the frontier point a budget picked. */
  lengthsFor(options: LengthOptions): { spec?: LengthSpec; point?: FrontierPoint };
  /** Runs one batch in the worker thread (waiting while a crashed one restarts). */
  run(work: BatchWork, options: LengthOptions): Promise<BatchResults>;
  readonly state: InferenceState;
  /** How many times a crashed inference thread was started again. */
  readonly restarts: number;
  /** Test hook: the inference thread dies of an uncaught error as its next batch starts. */
  crashNextBatch(): void;
  /** Releases the session and ends the worker thread. */
  close(): Promise<void>;
}

export interface InferenceHooks {
  /** Crashes and restarts, as events (`inference-crashed`, `inference-restarted`, ...). */
  log?: (event: object) => void;
  /**
   * The wait before each attempt to start a crashed thread again: the n-th attempt in a row waits
   * the n-th. Once they are used up, the model is 'failed'.
   */
  restartDelaysMs?: readonly number[];
}

/** 0.1 s doubling to 6.4 s: about 13 s of attempts before giving up. */
export const defaultRestartDelaysMs = [100, 200, 400, 800, 1_600, 3_200, 6_400];
/** A thread that served this long before dying starts the backoff from its first delay again. */
const stableMs = 30_000;

// Node runs no TypeScript: under Vitest (this module from src/*.ts) the worker is the built one,
// and it must resolve our packages to their builds too, not through the '@lat/source' condition.
const fromSource = import.meta.url.endsWith('.ts');
const workerFile = new URL(
  fromSource ? '../dist/inference-worker.js' : './inference-worker.js',
  import.meta.url,
);
const workerExecArgv = fromSource
  ? process.execArgv.filter(
      (a, i, all) =>
        a !== '--conditions=@lat/source' &&
        !(a === '--conditions' && all[i + 1] === '@lat/source') &&
        !(a === '@lat/source' && all[i - 1] === '--conditions'),
    )
  : process.execArgv;

const asError = (e: WorkerError) =>
  e.code ? new LatError(e.code as LatErrorCode, e.message) : new Error(e.message);

type Pending = { resolve(r: BatchResults): void; reject(e: Error): void };

/** One worker thread holding a session: its start, its batches, and how it ended. */
class InferenceThread {
  readonly ready: Promise<ModelInfo>;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private lastError: Error | undefined;
  private closing = false;
  private exited = false;
  private started = false;
  private closed: (() => void) | undefined;

  /** `onDeath` runs when a started thread ends without being closed, after its batches were failed. */
  constructor(start: WorkerStart, onDeath: (why: Error) => void) {
    this.worker = new Worker(workerFile, { workerData: start, execArgv: workerExecArgv });
    this.ready = new Promise<ModelInfo>((resolve, reject) => {
      this.worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          this.started = true;
          resolve(m.info);
        } else if (m.type === 'failed') reject(asError(m.error));
        else if (m.type === 'closed') this.closed?.();
        else {
          const p = this.pending.get(m.id);
          this.pending.delete(m.id);
          if (m.type === 'result') p?.resolve(m.results);
          else p?.reject(asError(m.error));
        }
      });
      this.worker.on('error', (e) => {
        this.lastError = e;
      });
      this.worker.on('exit', (code) => {
        this.exited = true;
        const why = new Error(
          `the inference thread exited with code ${code}${this.lastError ? ` (${this.lastError.message})` : ''}`,
        );
        reject(this.lastError ?? why);
        this.closed?.();
        // A thread that never started is the concern of whoever awaits `ready`.
        if (this.closing || !this.started) return;
        for (const p of this.pending.values())
          p.reject(
            new InferenceCrashed(
              `the inference thread crashed while running this request's batch (${why.message}); it is being restarted: retry`,
            ),
          );
        this.pending.clear();
        onDeath(why);
      });
    });
    this.ready.catch(() => {}); // a failed start is handled by whoever awaits it
  }

  run(work: BatchWork, options: LengthOptions, crash: boolean): Promise<BatchResults> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({
        type: 'run',
        id,
        work,
        options,
        ...(crash ? { crash } : {}),
      } satisfies ToWorker);
    });
  }

  /** Asks the thread to release its session and end; resolves once it has. */
  close(): Promise<void> {
    this.closing = true;
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.closed = resolve;
      this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    });
  }

  /** Ends a thread that failed to start. */
  async terminate(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the worker thread and resolves once the model is ready to serve. */
export async function startInference(o: ServeOptions, hooks: InferenceHooks = {}): Promise<InferenceModel> {
  const log = hooks.log ?? (() => {});
  const delays = hooks.restartDelaysMs ?? defaultRestartDelaysMs;
  let state: InferenceState = 'ready';
  let restarts = 0;
  let crashNext = false;
  let closing = false;
  /** Consecutive deaths of threads that had not been up for `stableMs`: where the backoff is. */
  let streak = 0;
  let upSince = Number.NEGATIVE_INFINITY; // the first thread: its death starts the backoff afresh
  /** Settles when the restart under way ends (ready or failed). */
  let restarted: Promise<void> = Promise.resolve();

  const onDeath = (why: Error) => {
    if (closing) return;
    streak = performance.now() - upSince < stableMs ? streak + 1 : 0;
    state = 'restarting';
    log({ event: 'inference-crashed', message: why.message, restarts });
    restarted = restart();
  };

  async function restart(): Promise<void> {
    for (let attempt = streak; attempt < delays.length; attempt++) {
      await sleep(delays[attempt]!);
      if (closing) return;
      const t = new InferenceThread({ options: o, measure: false }, onDeath);
      try {
        await t.ready;
      } catch (e) {
        log({ event: 'inference-restart-failed', attempt: attempt + 1, message: (e as Error).message });
        await t.terminate();
        continue;
      }
      thread = t;
      state = 'ready';
      restarts++;
      upSince = performance.now();
      log({ event: 'inference-restarted', restarts });
      return;
    }
    state = 'failed';
    log({
      event: 'inference-failed',
      message: `the inference thread could not be restarted (${delays.length} attempts)`,
    });
  }

  let thread = new InferenceThread({ options: o, measure: true }, onDeath);
  let info: ModelInfo;
  try {
    info = await thread.ready;
  } catch (e) {
    await thread.terminate();
    throw e;
  }
  // The server's thread tokenises: it reads only the tokenizer's files (the worker holds the weights).
  const { tokenizer } = readTokenizer(o.model);
  return {
    ...info,
    tokenizer,
    lengthsFor: (options) => {
      if (info.candidateSource === 'adapler') refuseAdaplerLengths(options);
      return resolveLengths(options, info.numLayers, info.frontier);
    },
    get state() {
      return state;
    },
    get restarts() {
      return restarts;
    },
    crashNextBatch() {
      crashNext = true;
    },
    async run(work, options) {
      if (state === 'restarting') await restarted;
      if (state !== 'ready')
        throw new InferenceUnavailable(
          'the inference thread crashed and could not be restarted; restart the server',
        );
      const crash = crashNext;
      crashNext = false;
      return thread.run(work, options, crash);
    },
    async close() {
      closing = true;
      await restarted;
      await thread.close();
    },
  };
}
