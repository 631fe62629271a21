import { parseDurationMs, serve, serveOptions } from '@lat/server';
import type { Output } from '../output.js';

export interface ServeFlags {
  model: string;
  frontier?: string;
  task?: 'text-classification' | 'question-answering';
  host: string;
  port: number;
  sloP99: string;
  maxBatch: number;
  maxWait: string;
  workers: number;
  fullOnly?: boolean;
  maxBody: number;
  maxInputs: number;
  maxQueue: number;
  logRequests?: boolean;
  threads?: number;
}

/** Serves the model until SIGTERM/SIGINT; resolves once every request in flight is answered. */
export async function serveCommand(f: ServeFlags, out: Output): Promise<number> {
  const o = serveOptions({
    model: f.model,
    ...(f.frontier ? { frontier: f.frontier } : {}),
    ...(f.task ? { task: f.task } : {}),
    host: f.host,
    port: f.port,
    sloP99Ms: parseDurationMs(f.sloP99, '--slo-p99'),
    maxBatch: f.maxBatch,
    maxWaitMs: parseDurationMs(f.maxWait, '--max-wait'),
    workers: f.workers,
    ...(f.threads ? { threads: f.threads } : {}),
    fullOnly: Boolean(f.fullOnly),
    log: Boolean(f.logRequests),
    limits: { bodyBytes: f.maxBody, inputs: f.maxInputs, queuedInputs: f.maxQueue },
  });
  return serve(o, (url) =>
    out.result({ command: 'serve', url, workers: o.workers, sloP99Ms: o.sloP99Ms }, () =>
      out.info(
        `lat serve: ${url} (${o.workers} worker${o.workers > 1 ? 's' : ''}, p99 SLO ${o.sloP99Ms} ms); SIGTERM or Ctrl-C drains and stops`,
      ),
    ),
  );
}
