/**
 * The HTTP server of one worker: routes, limits and errors (Fastify), the batcher and the
 * controller between them and the model, metrics, and a graceful close.
 */

import type { LengthSpec } from '@lat/core';
import type { QuestionAnswer } from '@lat/pipeline';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { Batcher, type Behind, type QueuedJob } from './batcher.js';
import { Controller } from './controller.js';
import {
  type BatchResults,
  type BatchWork,
  InferenceCrashed,
  type InferenceModel,
  InferenceUnavailable,
  type ServedClassification,
  startInference,
  type Tokenised,
} from './inference.js';
import { createMetrics, type Metrics } from './metrics.js';
import type { Candidate } from './model.js';
import { openApiDocument } from './openapi.js';
import type { ServeOptions } from './options.js';

/** A request's error, answered as `{ error: { code, message, field? } }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

type Work = { kind: 'classify'; items: Tokenised[] } | { kind: 'answer'; question: string; context: string };
type Outcome = {
  results: BatchResults;
  candidate: Candidate;
  source: string;
  queueMs: number;
  inferenceMs: number;
  batchInputs: number;
};

interface Job extends QueuedJob {
  work: Work;
  /** Padded tokens this request adds to a batch (estimated for question answering). */
  tokens: number;
  targetMs: number;
  explicit?: Candidate;
  resolve(o: Outcome): void;
  reject(e: unknown): void;
}

export interface ServerHooks {
  /** Receives lifecycle events (listening, the latency table, warnings, errors, requests with `log`). */
  log?: (event: object) => void;
  /** In a cluster: every worker's metrics added up, served at /metrics instead of this worker's. */
  clusterMetrics?: () => Promise<string>;
  /** Backoff before each attempt to restart a crashed inference thread (default 0.1 s doubling to 6.4 s). */
  restartDelaysMs?: readonly number[];
}

export interface LatServer {
  app: FastifyInstance;
  /** The model's description and tokenizer; its session runs in a worker thread. */
  model: InferenceModel;
  controller: Controller;
  metrics: Metrics;
  /** Listening address, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Stops taking requests, finishes the ones in flight and queued, releases the model. */
  close(): Promise<void>;
}

/** Loads the model in a worker thread, measures its latency table there and listens. */
export async function startServer(o: ServeOptions, hooks: ServerHooks = {}): Promise<LatServer> {
  const log = hooks.log ?? (() => {});
  const metrics = createMetrics();
  const model = await startInference(o, {
    log: (event) => {
      if ((event as { event?: string }).event === 'inference-crashed') metrics.inferenceCrashes.inc();
      log(event);
    },
    ...(hooks.restartDelaysMs ? { restartDelaysMs: hooks.restartDelaysMs } : {}),
  });
  const { candidates, fits, seq } = model;
  if (model.candidateSource === 'uniform-fallback' && !o.fullOnly)
    log({
      event: 'warning',
      message: 'the model has no frontier (run `lat search`); the controller uses uniform ratios',
    });
  const controller = new Controller(candidates, fits, { sloMs: o.sloP99Ms, maxBatch: o.maxBatch });
  log({
    event: 'latency-table',
    seq,
    maxBatch: o.maxBatch,
    candidates: candidates.map((c, i) => ({ name: c.name, costRatio: c.costRatio, ...fits[i] })),
  });
  let closing = false;

  const batcher = new Batcher<Job>({
    maxBatch: o.maxBatch,
    maxWaitMs: o.maxWaitMs,
    maxQueuedInputs: o.limits.queuedInputs,
    execute: (batch, behind) => runBatch(batch, behind),
  });

  async function runBatch(batch: Job[], behind: Behind) {
    const start = performance.now();
    const inputs = batch.reduce((a, j) => a + j.inputs, 0);
    const tokens = batch.reduce((a, j) => a + j.tokens, 0);
    let index = -1;
    let candidate: Candidate;
    let source: string;
    if (batch[0]!.explicit) {
      candidate = batch[0]!.explicit;
      source = 'budget';
    } else {
      index = controller.choose({
        batchTokens: tokens,
        batchWaitMs: start - batch[0]!.arrival,
        queuedInputs: behind.inputs,
        queuedWaitMs: behind.oldestArrival === undefined ? 0 : start - behind.oldestArrival,
        targetMs: Math.min(...batch.map((j) => j.targetMs)),
      });
      candidate = candidates[index]!;
      source =
        model.candidateSource === 'adapler'
          ? 'adapler-per-input'
          : o.fullOnly
            ? 'full-only'
            : model.candidateSource === 'frontier'
              ? 'controller'
              : 'controller-uniform-fallback';
    }
    metrics.queueDepth.set(batcher.queuedInputs);
    try {
      const results = await model.run(batchWork(batch), candidate.options);
      const ms = performance.now() - start;
      if (index >= 0) controller.observe(index, inputs, tokens, ms);
      metrics.batches.inc({ point: candidate.name, cost_ratio: candidate.costRatio.toFixed(3), source });
      metrics.batchSize.observe(inputs);
      metrics.batchDuration.observe(ms / 1000);
      metrics.costRatio.set(candidate.costRatio);
      metrics.loadFactor.set(controller.loadFactor);
      metrics.inputs.inc(inputs);
      const end = performance.now();
      controller.recordLatencies(batch.map((j) => end - j.arrival));
      let at = 0;
      for (const job of batch) {
        job.resolve({
          results: results.slice(at, at + job.inputs) as Outcome['results'],
          candidate,
          source,
          queueMs: start - job.arrival,
          inferenceMs: ms,
          batchInputs: inputs,
        });
        at += job.inputs;
      }
    } catch (e) {
      // Only this batch's requests fail when the inference thread dies; it is started again.
      const error =
        e instanceof InferenceCrashed || e instanceof InferenceUnavailable
          ? new HttpError(503, e.code, e.message)
          : e;
      for (const job of batch) job.reject(error);
    }
  }

  function batchWork(batch: Job[]): BatchWork {
    if (model.task === 'text-classification')
      return {
        kind: 'classify',
        items: batch.flatMap((j) => (j.work.kind === 'classify' ? j.work.items : [])),
      };
    return {
      kind: 'answer',
      questions: batch.flatMap((j) =>
        j.work.kind === 'answer' ? [{ question: j.work.question, context: j.work.context }] : [],
      ),
    };
  }

  /** A request's explicit budget as a configuration (400 when it cannot be met). */
  function explicitCandidate(budget: unknown): Candidate | undefined {
    if (budget === undefined) return undefined;
    if (typeof budget !== 'number' && typeof budget !== 'string')
      throw new HttpError(
        400,
        'BAD_REQUEST',
        "give a cost fraction (0.5, '50%'), a latency ('10ms') or a metric floor ('acc>=0.9')",
        'budget',
      );
    let chosen: { spec?: LengthSpec; point?: { costRatio: number; metric: number } };
    try {
      chosen = model.lengthsFor({ budget });
    } catch (e) {
      throw new HttpError(400, (e as { code?: string }).code ?? 'BAD_BUDGET', (e as Error).message, 'budget');
    }
    const spec = chosen.spec;
    const point = chosen.point;
    const i = point ? (model.frontier?.points.indexOf(point as never) ?? -1) : -1;
    return {
      name: i >= 0 ? `frontier[${i}]` : 'budget',
      options: !spec ? {} : spec.form === 'ratio' ? { ratios: spec.ratios } : { lengths: spec.lengths },
      ...(spec ? { spec } : {}),
      costRatio: point?.costRatio ?? 1,
      ...(point ? { metric: point.metric } : {}),
    };
  }

  function enqueue(
    reply: FastifyReply,
    work: Work,
    inputs: number,
    tokens: number,
    budget: unknown,
    deadlineMs?: number,
  ): Promise<Outcome> {
    if (closing)
      throw new HttpError(503, 'SHUTTING_DOWN', 'the server is shutting down; retry on another replica');
    if (model.state === 'failed')
      throw new HttpError(
        503,
        'INFERENCE_UNAVAILABLE',
        'the inference thread crashed and could not be restarted; retry on another replica',
      );
    const explicit = explicitCandidate(budget);
    // When the request came in: its wait includes reading and tokenising it, as its client sees.
    const arrival = performance.now() - reply.elapsedTime;
    return new Promise<Outcome>((resolve, reject) => {
      const job: Job = {
        work,
        inputs,
        tokens,
        key: explicit ? `budget:${JSON.stringify(explicit.options)}` : 'auto',
        arrival,
        targetMs: Math.min(o.sloP99Ms, deadlineMs ?? Number.POSITIVE_INFINITY),
        ...(deadlineMs !== undefined ? { expiresAt: arrival + deadlineMs } : {}),
        ...(explicit ? { explicit } : {}),
        expire: () =>
          reject(
            new HttpError(
              504,
              'DEADLINE_EXCEEDED',
              `waited longer than deadlineMs ${deadlineMs} in the queue`,
              'deadlineMs',
            ),
          ),
        resolve,
        reject,
      };
      controller.arrived(inputs, arrival);
      if (!batcher.submit(job))
        return reject(
          new HttpError(
            429,
            'QUEUE_FULL',
            `more than ${o.limits.queuedInputs} inputs are waiting; retry later`,
          ),
        );
      metrics.queueDepth.set(batcher.queuedInputs);
      // A client that leaves while queued frees its place: its inputs are never run, and the
      // request is counted with status 499 (onRequestAbort), not answered.
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) batcher.cancel(job);
      });
    });
  }

  const app = Fastify({
    bodyLimit: o.limits.bodyBytes,
    requestTimeout: o.limits.requestTimeoutMs,
    connectionTimeout: o.limits.requestTimeoutMs,
    keepAliveTimeout: 5_000,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    http: { headersTimeout: o.limits.headersTimeoutMs, connectionsCheckingInterval: 1_000 },
    logger: false,
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ route, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
    if (o.log)
      log({ event: 'request', route, status: reply.statusCode, ms: Number(reply.elapsedTime.toFixed(2)) });
  });
  app.addHook('onRequestAbort', async (request) => {
    metrics.requests.inc({ route: request.routeOptions.url ?? 'unknown', status: '499' });
  });

  app.setErrorHandler((error: FastifyError | HttpError, _request, reply) => {
    if (error instanceof HttpError) return sendError(reply, error);
    const status = error.statusCode ?? 500;
    const code =
      error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? 'BODY_TOO_LARGE'
        : error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError
          ? 'MALFORMED_JSON'
          : error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
            ? 'UNSUPPORTED_MEDIA_TYPE'
            : status < 500
              ? 'BAD_REQUEST'
              : 'INTERNAL';
    const message =
      code === 'BODY_TOO_LARGE'
        ? `the body is larger than ${o.limits.bodyBytes} bytes`
        : status < 500
          ? error.message
          : 'internal error';
    if (status >= 500) log({ event: 'error', message: error.message, stack: error.stack });
    return sendError(reply, new HttpError(status, code, message));
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new HttpError(404, 'NOT_FOUND', `no route ${request.method} ${request.url}; see /openapi.json`),
    ),
  );

  const info = () => ({
    model: model.modelName,
    task: model.task,
    sloP99Ms: o.sloP99Ms,
    maxBatch: o.maxBatch,
    maxWaitMs: o.maxWaitMs,
    mode: o.fullOnly ? 'full-only' : 'adaptive',
    configurations: model.candidateSource,
    ...(model.candidateSource === 'adapler'
      ? {
          note: "an AdapLeR model: each input keeps its own tokens per layer (its predictors and η), so the SLO controller does not pick lengths and requests take no budget; each result's lengths and macs are that input's",
        }
      : {}),
    candidates: candidates.map((c, i) => ({
      name: c.name,
      costRatio: c.costRatio,
      metric: c.metric ?? null,
      predictedBatchMs: Number(controller.predict(i, o.maxBatch * seq).toFixed(2)),
    })),
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (closing) return reply.code(503).send({ status: 'shutting down' });
    // Requests sent while the inference thread restarts wait in the queue; a balancer should
    // prefer other replicas until it is back.
    if (model.state !== 'ready')
      return reply.code(503).send({ status: model.state, restarts: model.restarts });
    return { status: 'ready', ...info() };
  });
  app.get('/metrics', async (_request, reply) => {
    metrics.queueDepth.set(batcher.queuedInputs);
    const text = await (hooks.clusterMetrics ? hooks.clusterMetrics() : metrics.registry.metrics());
    return reply.type(metrics.registry.contentType).send(text);
  });
  app.get('/openapi.json', async () => openApiDocument(o));

  app.post('/v1/classify', async (request, reply) => {
    if (model.task !== 'text-classification')
      throw new HttpError(
        404,
        'WRONG_TASK',
        `${model.modelName} is a question-answering model; use POST /v1/answer`,
      );
    const body = objectBody(request.body);
    const inputs = body['inputs'];
    if (!Array.isArray(inputs) || inputs.length === 0)
      throw new HttpError(
        400,
        'BAD_REQUEST',
        'give a non-empty array of texts (or {text, textPair} objects)',
        'inputs',
      );
    if (inputs.length > o.limits.inputs)
      throw new HttpError(
        400,
        'TOO_MANY_INPUTS',
        `at most ${o.limits.inputs} inputs per request; split the request`,
        'inputs',
      );
    const deadlineMs = optionalDeadline(body['deadlineMs']);
    const tokenizer = model.tokenizer;
    const items = inputs.map((t: unknown, i) => {
      const [a, b] =
        typeof t === 'string'
          ? [t, undefined]
          : [(t as { text?: unknown })?.text, (t as { textPair?: unknown })?.textPair];
      if (typeof a !== 'string' || (b !== undefined && typeof b !== 'string'))
        throw new HttpError(
          400,
          'BAD_REQUEST',
          'give a string or { text, textPair? } of strings',
          `inputs[${i}]`,
        );
      if (a.length + (b?.length ?? 0) > o.limits.textChars)
        throw new HttpError(
          400,
          'TEXT_TOO_LONG',
          `longer than ${o.limits.textChars} characters`,
          `inputs[${i}]`,
        );
      const e = tokenizer.encode(a, b, { maxLength: model.maxLength });
      return { ids: e.ids, typeIds: e.typeIds };
    });
    const outcome = await enqueue(
      reply,
      { kind: 'classify', items },
      items.length,
      paddedTokens(items.map((x) => x.ids.length)),
      body['budget'],
      deadlineMs,
    );
    const results = outcome.results as ServedClassification[];
    return {
      model: model.modelName,
      results: results.map((r) => ({
        label: r.label,
        score: r.score,
        probabilities: r.probabilities,
        tokens: r.tokenCount,
        kept: r.lengths,
        macs: r.macs,
        fullMacs: r.fullMacs,
      })),
      ...summary(outcome, results, reply),
    };
  });

  app.post('/v1/answer', async (request, reply) => {
    if (model.task !== 'question-answering')
      throw new HttpError(
        404,
        'WRONG_TASK',
        `${model.modelName} is a classification model; use POST /v1/classify`,
      );
    const body = objectBody(request.body);
    const { question, context } = body;
    if (typeof question !== 'string' || question.trim() === '')
      throw new HttpError(400, 'BAD_REQUEST', 'give the question as a non-empty string', 'question');
    if (typeof context !== 'string' || context.trim() === '')
      throw new HttpError(400, 'BAD_REQUEST', 'give the context as a non-empty string', 'context');
    if (question.length > o.limits.textChars)
      throw new HttpError(400, 'TEXT_TOO_LONG', `longer than ${o.limits.textChars} characters`, 'question');
    if (context.length > o.limits.contextChars)
      throw new HttpError(400, 'TEXT_TOO_LONG', `longer than ${o.limits.contextChars} characters`, 'context');
    const deadlineMs = optionalDeadline(body['deadlineMs']);
    // Windows of maxLength tokens, a third of it apart (the pipeline's default doc stride).
    const words = context.split(/\s+/).length + question.split(/\s+/).length;
    const windows =
      1 +
      Math.ceil(Math.max(0, words * 1.3 - model.maxLength) / Math.max(16, Math.floor(model.maxLength / 3)));
    const outcome = await enqueue(
      reply,
      { kind: 'answer', question, context },
      1,
      windows * model.maxLength,
      body['budget'],
      deadlineMs,
    );
    const [a] = outcome.results as QuestionAnswer[];
    return {
      model: model.modelName,
      answer: a!.answer,
      score: a!.score,
      start: a!.start,
      end: a!.end,
      windows: a!.windows,
      kept: a!.lengths,
      ...summary(outcome, [a!], reply),
    };
  });

  try {
    await app.listen({ host: o.host, port: o.port });
  } catch (e) {
    await model.close(); // the worker thread would keep the process alive
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  log({ event: 'listening', url: `http://${o.host}:${port}`, ...info() });

  return {
    app,
    model,
    controller,
    metrics,
    url: `http://${o.host === '0.0.0.0' ? '127.0.0.1' : o.host}:${port}`,
    async close() {
      closing = true;
      batcher.drain();
      // Fastify stops accepting, answers 503 to new requests on open connections and waits for
      // those in flight; the batcher keeps running until they are answered.
      await app.close();
      await batcher.idle();
      await model.close();
    },
  };
}

function sendError(reply: FastifyReply, e: HttpError) {
  if (e.status === 429 || e.status === 503) reply.header('retry-after', '1');
  return reply
    .code(e.status)
    .send({ error: { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) } });
}

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(
      400,
      'BAD_REQUEST',
      'the body must be a JSON object (Content-Type: application/json)',
    );
  return body as Record<string, unknown>;
}

function optionalDeadline(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v > 0 && v <= 600_000))
    throw new HttpError(400, 'BAD_REQUEST', 'a number of milliseconds in (0, 600000]', 'deadlineMs');
  return v;
}

/** Tokens of inputs padded in batches of similar lengths, as the pipeline runs them. */
function paddedTokens(lengths: number[]): number {
  return Math.max(...lengths) * lengths.length;
}

/** The response's configuration, cost and timing, also as a Server-Timing header. */
function summary(o: Outcome, results: { macs: number; fullMacs: number }[], reply: FastifyReply) {
  const totalMs = reply.elapsedTime;
  reply.header(
    'server-timing',
    `queue;dur=${o.queueMs.toFixed(2)}, inference;dur=${o.inferenceMs.toFixed(2)}, total;dur=${totalMs.toFixed(2)}`,
  );
  const c = o.candidate;
  const spec = c.spec;
  const macs = results.reduce((a, r) => a + r.macs, 0);
  const fullMacs = results.reduce((a, r) => a + r.fullMacs, 0);
  return {
    configuration: {
      name: c.name,
      source: o.source,
      // AdapLeR's cost is what these inputs' own lengths cost.
      costRatio: o.source === 'adapler-per-input' ? macs / fullMacs : c.costRatio,
      metric: c.metric ?? null,
      lengthForm: spec?.form ?? null,
      lengths: spec ? (spec.form === 'ratio' ? spec.ratios : spec.lengths) : null,
    },
    macs,
    fullMacs,
    timing: {
      queueMs: round(o.queueMs),
      inferenceMs: round(o.inferenceMs),
      totalMs: round(totalMs),
      batchInputs: o.batchInputs,
    },
  };
}

const round = (x: number) => Math.round(x * 100) / 100;
