/** Prometheus metrics of one server (one registry each, so several can live in one process). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

const latencyBuckets = [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5, 10];

export function createMetrics() {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'lat_http_requests_total',
      help: 'HTTP requests by route and status (499: the client closed the connection first)',
      labelNames: ['route', 'status'] as const,
      registers,
    }),
    latency: new Histogram({
      name: 'lat_http_request_duration_seconds',
      help: 'Time from a request arriving to its response, by route',
      labelNames: ['route'] as const,
      buckets: latencyBuckets,
      registers,
    }),
    inputs: new Counter({
      name: 'lat_inputs_total',
      help: 'Texts classified or questions answered',
      registers,
    }),
    batches: new Counter({
      name: 'lat_batches_total',
      help: 'Batches run, by the configuration they ran at (frontier point) and why it was chosen',
      labelNames: ['point', 'cost_ratio', 'source'] as const,
      registers,
    }),
    batchSize: new Histogram({
      name: 'lat_batch_size',
      help: 'Inputs per batch',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers,
    }),
    batchDuration: new Histogram({
      name: 'lat_batch_duration_seconds',
      help: 'Model time per batch',
      buckets: latencyBuckets,
      registers,
    }),
    queueDepth: new Gauge({
      name: 'lat_queue_depth',
      help: 'Inputs waiting for a batch',
      registers,
    }),
    costRatio: new Gauge({
      name: 'lat_cost_ratio',
      help: "Cost (MACs relative to the full model) of the last batch's configuration",
      registers,
      aggregator: 'average',
    }),
    inferenceCrashes: new Counter({
      name: 'lat_inference_crashes_total',
      help: 'Times the inference thread died (its batch answered 503; the thread is started again)',
      registers,
    }),
    loadFactor: new Gauge({
      name: 'lat_controller_load_factor',
      help: 'Observed / start-up batch latency, as the controller corrects its latency table',
      registers,
      aggregator: 'average',
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
