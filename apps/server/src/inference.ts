/**
 * The served model behind a worker thread. The server's thread keeps the tokenizer (requests are
 * tokenised as they arrive, to batch them by size) and hands batches to the worker, which owns
 * the ONNX session; one batch runs at a time.
 */
import { Worker } from 'node:worker_threads';
import { LatError, type LatErrorCode, type LengthSpec } from '@lat/core';
import {
  type Classification,
  type LengthOptions,
  type ModelFiles,
  type QuestionAnswer,
  type QuestionInput,
  resolveLengths,
} from '@lat/pipeline';
import type { FrontierFile, FrontierPoint } from '@lat/search';
import type { LatencyFit } from './controller.js';
import { type Candidate, readServedFiles, type ServedModel } from './model.js';
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

type WorkerError = { message: string; code?: string };
export type ToWorker =
  | { type: 'run'; id: number; work: BatchWork; options: LengthOptions }
  | { type: 'close' };
export type FromWorker =
  | { type: 'ready'; info: ModelInfo }
  | { type: 'failed'; error: WorkerError }
  | { type: 'result'; id: number; results: Classification[] | QuestionAnswer[] }
  | { type: 'error'; id: number; error: WorkerError }
  | { type: 'closed' };

export interface InferenceModel extends ModelInfo {
  tokenizer: ModelFiles['tokenizer'];
  /** The configuration a request's options stand for, and the frontier point a budget picked. */
  lengthsFor(options: LengthOptions): { spec?: LengthSpec; point?: FrontierPoint };
  /** Runs one batch in the worker thread. */
  run(work: BatchWork, options: LengthOptions): Promise<Classification[] | QuestionAnswer[]>;
  /** Releases the session and ends the worker thread. */
  close(): Promise<void>;
}

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

/** Starts the worker thread and resolves once the model is ready to serve. */
export async function startInference(o: ServeOptions): Promise<InferenceModel> {
  const worker = new Worker(workerFile, { workerData: o, execArgv: workerExecArgv });
  const pending = new Map<
    number,
    { resolve(r: Classification[] | QuestionAnswer[]): void; reject(e: Error): void }
  >();
  let nextId = 0;
  let dead: Error | undefined;
  let closed: (() => void) | undefined;
  const failAll = (e: Error) => {
    dead = e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  const ready = new Promise<ModelInfo>((resolve, reject) => {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'ready') resolve(m.info);
      else if (m.type === 'failed') reject(asError(m.error));
      else if (m.type === 'closed') closed?.();
      else {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.type === 'result') p?.resolve(m.results);
        else p?.reject(asError(m.error));
      }
    });
    worker.on('error', (e) => {
      reject(e);
      failAll(e);
    });
    worker.on('exit', (code) => {
      const e = new Error(`the inference worker exited with code ${code}`);
      reject(e);
      failAll(e);
      closed?.();
    });
  });
  let info: ModelInfo;
  try {
    info = await ready;
  } catch (e) {
    await worker.terminate();
    throw e;
  }
  // Only the tokenizer is kept: the weights read here are dropped (the worker holds the session).
  const { tokenizer } = await readServedFiles(o);
  return {
    ...info,
    tokenizer,
    lengthsFor: (options) => resolveLengths(options, info.numLayers, info.frontier),
    run(work, options) {
      if (dead) return Promise.reject(dead);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ type: 'run', id, work, options } satisfies ToWorker);
      });
    },
    close() {
      if (dead) return Promise.resolve();
      return new Promise((resolve) => {
        closed = resolve;
        worker.postMessage({ type: 'close' } satisfies ToWorker);
      });
    },
  };
}
