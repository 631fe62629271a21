/**
 * `lat serve` as a process: one server, or (workers > 1) a node:cluster primary whose workers
 * share the port, each with its own model session, queue and controller. SIGTERM/SIGINT drain
 * every worker: in-flight and queued requests are answered before the process exits.
 */
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry } from 'prom-client';
import { type LatServer, startServer } from './app.js';
import type { ServeOptions } from './options.js';

const optionsEnv = 'LAT_SERVE_OPTIONS';
const metricsRequest = 'lat:cluster-metrics';

/** JSON lines on stderr: what the server is doing, for people and log collectors. */
export function logLine(event: object): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), pid: process.pid, ...event })}\n`);
}

/**
 * Runs until SIGTERM or SIGINT; resolves with the exit code once every request is answered.
 * `onListening` gets the URL (tests, the CLI's banner).
 */
export async function serve(o: ServeOptions, onListening: (url: string) => void = () => {}): Promise<number> {
  if (o.workers <= 1) return serveOne(o, onListening);
  return servePrimary(o, onListening);
}

async function serveOne(
  o: ServeOptions,
  onListening: (url: string) => void,
  inCluster = false,
): Promise<number> {
  let clusterMetrics: (() => Promise<string>) | undefined;
  if (inCluster) clusterMetrics = askPrimaryForMetrics;
  const server = await startServer(o, { log: logLine, ...(clusterMetrics ? { clusterMetrics } : {}) });
  if (inCluster) {
    AggregatorRegistry.setRegistries([server.metrics.registry]);
    new AggregatorRegistry(); // answers the primary's requests for this worker's metrics
  }
  onListening(server.url);
  return drainOnSignal(server, o);
}

function drainOnSignal(server: LatServer, o: ServeOptions): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logLine({ event: 'draining', signal });
      const timer = setTimeout(() => {
        logLine({
          event: 'error',
          message: `requests still in flight after ${o.shutdownTimeoutMs} ms; exiting`,
        });
        resolve(1);
      }, o.shutdownTimeoutMs);
      timer.unref();
      server.close().then(
        () => {
          clearTimeout(timer);
          logLine({ event: 'stopped' });
          resolve(0);
        },
        (e) => {
          logLine({ event: 'error', message: (e as Error).message });
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // In a cluster the primary asks workers to drain with a message (signals reach the whole group too).
    process.on('message', (m: { type?: string }) => {
      if (m?.type === 'lat:drain') stop('primary');
    });
  });
}

/** A worker asks the primary, which gathers every worker's metrics and adds them up. */
let metricsRequests = 0;
function askPrimaryForMetrics(): Promise<string> {
  const id = ++metricsRequests;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off('message', onReply);
      reject(new Error('the cluster primary did not answer with metrics'));
    }, 5_000);
    const onReply = (m: { type?: string; id?: number; text?: string; error?: string }) => {
      if (m?.type !== `${metricsRequest}-reply` || m.id !== id) return;
      clearTimeout(timer);
      process.off('message', onReply);
      if (m.error) reject(new Error(m.error));
      else resolve(m.text ?? '');
    };
    process.on('message', onReply);
    process.send!({ type: metricsRequest, id });
  });
}

async function servePrimary(o: ServeOptions, onListening: (url: string) => void): Promise<number> {
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker.js', import.meta.url)), args: [] });
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let failed = false;
  const fork = () => {
    const w = cluster.fork({ [optionsEnv]: JSON.stringify(o) });
    w.on('message', (m: { type?: string; id?: number }) => {
      if (m?.type !== metricsRequest) return;
      aggregator.clusterMetrics().then(
        (text) => w.send({ type: `${metricsRequest}-reply`, id: m.id, text }),
        (e: Error) => w.send({ type: `${metricsRequest}-reply`, id: m.id, error: e.message }),
      );
    });
    return w;
  };
  const workers = Array.from({ length: o.workers }, fork);
  const urls = await Promise.all(
    workers.map(
      (w) =>
        new Promise<string>((resolve, reject) => {
          w.on(
            'message',
            (m: { type?: string; url?: string }) => m?.type === 'lat:listening' && resolve(m.url!),
          );
          w.once('exit', (code) =>
            reject(new Error(`worker ${w.process.pid} exited with ${code} while starting`)),
          );
        }),
    ),
  );
  onListening(urls[0]!);
  logLine({ event: 'cluster', workers: o.workers, url: urls[0] });
  return new Promise((resolve) => {
    cluster.on('exit', (w, code) => {
      if (code !== 0) failed = true;
      if (!stopping) {
        logLine({ event: 'error', message: `worker ${w.process.pid} exited with ${code}; starting another` });
        fork();
      } else if (Object.keys(cluster.workers ?? {}).length === 0) resolve(failed ? 1 : 0);
    });
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logLine({ event: 'draining', signal, workers: Object.keys(cluster.workers ?? {}).length });
      for (const w of Object.values(cluster.workers ?? {})) w?.send({ type: 'lat:drain' });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** The worker process's main: options from the primary, then serve until drained. */
export async function workerMain(): Promise<void> {
  const o = JSON.parse(process.env[optionsEnv] ?? '{}') as ServeOptions;
  const code = await serveOne(o, (url) => process.send!({ type: 'lat:listening', url }), true);
  process.exit(code);
}
