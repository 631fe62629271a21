#!/usr/bin/env node
/**
 * Load test of `lat serve` on loopback: the same model served (a) at full length only and (b)
 * with the SLO controller, at rising request rates; prints throughput, p50/p99 latency, accuracy
 * on a labelled request set, the mean cost (MACs vs full) and failures per rate.
 *
 *   node apps/server/bench/load-test.mjs --model <dir|bundle> --requests dev.tsv [--frontier f.json]
 *     [--slo 50 | 3x] [--rates auto|10,20,40] [--duration 10] [--connections 64] [--workers 1] [--threads 2]
 *     [--texts-per-request 1] [--idle-requests 1000] [--max-batch 16]
 *
 * Both servers run at once (the idle one costs nothing); each rate is sent to the full-length one
 * and then to lat serve, so both see the same load from other processes on a shared machine.
 * It first measures the idle full-length latency (one connection, one request at a time, over
 * --idle-requests requests: a p99 needs many); `--slo 3x` sets the SLO to 3× that idle p99 — a
 * target the machine can meet when quiet.
 *
 * `--rates auto` first measures the full-length server's closed-loop throughput C and then runs
 * 0.5C … 2C. Each rate is bounded in time (--duration s, so about rate × duration requests).
 *
 * The client is its own, not autocannon: autocannon's `overallRate` opens one connection per
 * request/s, all sending on the same one-second tick (bursts of `rate` requests, not a rate),
 * and its coordinated-omission correction assumes 1 ms between requests, so a 500 ms response
 * was counted as 500 samples from 1 to 500 ms. Here arrivals are Poisson (seeded: the same
 * schedule for both servers) over at most --connections keep-alive connections, and a request's
 * latency runs from when it was due.
 * Needs `pnpm build` (it starts apps/cli/dist/bin.js).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    requests: { type: 'string' },
    frontier: { type: 'string' },
    slo: { type: 'string', default: '50' },
    rates: { type: 'string', default: 'auto' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    workers: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    'max-batch': { type: 'string', default: '16' },
    'max-wait': { type: 'string', default: '5' },
    'texts-per-request': { type: 'string', default: '1' },
    'idle-requests': { type: 'string', default: '1000' },
    json: { type: 'string' },
  },
});
if (!a.model || !a.requests) {
  console.error('usage: load-test.mjs --model <dir|bundle> --requests <labelled .tsv: sentence<TAB>label>');
  process.exit(2);
}
const bin = join(import.meta.dirname, '../../cli/dist/bin.js');
const sloTimesIdle = /^(\d+(?:\.\d+)?)x$/.exec(a.slo);
let slo = sloTimesIdle ? Number.NaN : Number(a.slo);
const duration = Number(a.duration);
const connections = Number(a.connections);
const perRequest = Number(a['texts-per-request']);

/** sentence<TAB>label rows (GLUE SST-2 format, header row). */
const labelled = readFileSync(a.requests, 'utf8')
  .split('\n')
  .slice(1)
  .filter((l) => l.includes('\t'))
  .map((l) => {
    const [text, label] = l.split('\t');
    return { text, label: Number(label) };
  });

async function startServe(fullOnly) {
  const args = [
    bin,
    'serve',
    '--json',
    '--model',
    a.model,
    '--port',
    '0',
    // The full-only server has no controller: its SLO is only reported.
    '--slo-p99',
    `${Number.isFinite(slo) ? slo : 1000}ms`,
    '--workers',
    a.workers,
    '--threads',
    a.threads,
    '--max-batch',
    a['max-batch'],
    '--max-wait',
    `${a['max-wait']}ms`,
    '--max-queue',
    '100000',
    ...(a.frontier ? ['--frontier', a.frontier] : []),
    ...(fullOnly ? ['--full-only'] : []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /"url":"([^"]+)"/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`lat serve exited with ${code}: ${err}`)));
  });
  const stop = () =>
    new Promise((resolve) => {
      child.on('exit', resolve);
      child.kill('SIGTERM');
    });
  return { url, stop };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: connections });

/** POSTs a JSON body; resolves with the status and parsed body (status 0: no answer). */
function post(url, body) {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' }, timeout: 30_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode, text }));
        res.on('error', () => resolve({ status: 0 }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0 }));
    req.end(body);
  });
}

/** Seeded exponential gaps (mulberry32): Poisson arrivals, the same schedule for both servers. */
function poissonGaps(ratePerS, seed) {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let x = Math.imul(t ^ (t >>> 15), 1 | t);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    const u = ((x ^ (x >>> 14)) >>> 0) / 4294967296;
    return (-Math.log(1 - u) / ratePerS) * 1000;
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * One run. Open loop at `rate` req/s: Poisson arrivals for `seconds` s, each request's latency
 * counted from the moment it was due (so a late client or a full connection pool counts
 * against the server, and nothing is left out: no coordinated omission). Closed loop
 * (`rate` undefined): `conns` clients each send the next request when the last is answered, for
 * `seconds` s or `amount` requests in all. Sentences go out in order from the first.
 */
async function run(url, rate, seconds, conns, amount = Number.POSITIVE_INFINITY) {
  let next = 0;
  let correct = 0;
  let macs = 0;
  let fullMacs = 0;
  let failures = 0;
  const latencies = [];
  const points = new Map();
  const t0 = performance.now();
  let last = t0;
  async function one(due) {
    const first = (next++ * perRequest) % labelled.length;
    const ids = Array.from({ length: perRequest }, (_, k) => (first + k) % labelled.length);
    const r = await post(`${url}/v1/classify`, JSON.stringify({ inputs: ids.map((i) => labelled[i].text) }));
    last = performance.now();
    if (r.status !== 200) {
      failures++;
      return;
    }
    latencies.push(last - due);
    const body = JSON.parse(r.text);
    body.results.forEach((result, k) => {
      const predicted = result.label === 'positive' || result.label === '1' ? 1 : 0;
      if (predicted === labelled[ids[k]].label) correct++;
    });
    macs += body.macs;
    fullMacs += body.fullMacs;
    points.set(body.configuration.name, (points.get(body.configuration.name) ?? 0) + 1);
  }
  const end = t0 + seconds * 1000;
  if (rate) {
    const gap = poissonGaps(rate, 42);
    const inFlight = [];
    for (let due = t0 + gap(); due < end; due += gap()) {
      await sleep(due - performance.now());
      inFlight.push(one(due));
    }
    await Promise.all(inFlight);
  } else {
    let sent = 0;
    await Promise.all(
      Array.from({ length: conns }, async () => {
        while (performance.now() < end && sent < amount) {
          sent++;
          await one(performance.now());
        }
      }),
    );
  }
  latencies.sort((x, y) => x - y);
  const pct = (q) =>
    latencies.length ? Math.round(latencies[Math.ceil(q * latencies.length) - 1]) : Number.NaN;
  const answered = latencies.length;
  return {
    rate: rate ?? null,
    loadAverage: loadavg()[0],
    sent: answered + failures,
    answered,
    throughput: answered / ((last - t0) / 1000),
    p50: pct(0.5),
    p99: pct(0.99),
    max: Math.round(latencies.at(-1) ?? Number.NaN),
    accuracy: answered ? correct / (answered * perRequest) : Number.NaN,
    costRatio: fullMacs ? macs / fullMacs : Number.NaN,
    failures,
    points: Object.fromEntries(points),
  };
}

const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');

const loadBefore = loadavg()[0];
const full = await startServe(true);
let adaptive;
let rates;
const fullRows = [];
const lat = [];
let idle;
try {
  await run(full.url, undefined, 2, 4); // warm-up
  // Bounded by count (at most 120 s): the SLO is 3× this p99, so it needs enough samples.
  idle = await run(full.url, undefined, 120, 1, Number(a['idle-requests']));
  console.error(
    `idle full-length latency (1 connection, ${idle.answered} requests): p50 ${idle.p50} ms, p99 ${idle.p99} ms`,
  );
  if (sloTimesIdle) slo = Math.ceil(Number(sloTimesIdle[1]) * idle.p99);
  if (a.rates === 'auto') {
    const c = await run(full.url, undefined, 5, 16);
    console.error(`full-length closed-loop throughput: ${fmt(c.throughput)} req/s`);
    rates = [0.5, 0.8, 1, 1.25, 1.5, 2].map((k) => Math.max(1, Math.round(k * c.throughput)));
  } else rates = a.rates.split(',').map(Number);
  adaptive = await startServe(false);
  await run(adaptive.url, undefined, 2, 4); // warm-up
  // Each rate against both servers back to back, so the pair sees the same load from other jobs.
  for (const r of rates) {
    fullRows.push(await run(full.url, r, duration, connections));
    lat.push(await run(adaptive.url, r, duration, connections));
    console.error(`${r} req/s: p99 full ${fullRows.at(-1).p99} ms, lat serve ${lat.at(-1).p99} ms`);
  }
} finally {
  await full.stop();
  await adaptive?.stop();
}

const rows = fullRows.map((f, i) => [f, lat[i]]);
console.log(
  `\nlat serve load test: ${a.model}, ${labelled.length} labelled texts (${perRequest} per request), SLO p99 ${slo} ms ` +
    `(idle full-length p50 ${idle.p50} ms, p99 ${idle.p99} ms over ${idle.answered} requests), ` +
    `${a.workers} worker(s) × ${a.threads} thread(s), max batch ${a['max-batch']}, ${connections} connections, ${duration} s per rate; ` +
    `${cpus().length} cores, load average ${fmt(loadBefore)} before and ${fmt(loadavg()[0])} after (other processes share the cores)\n`,
);
console.log(
  '| rate (req/s) | full: req/s | full: p50 / p99 ms | full: acc | full: failed | lat serve: req/s | lat serve: p50 / p99 ms | lat serve: acc | cost vs full | answered at full | lat serve: failed | load avg (full / lat) |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const [f, l] of rows) {
  console.log(
    `| ${f.rate} | ${fmt(f.throughput)} | ${f.p50} / ${f.p99} | ${fmt(f.accuracy * 100)}% | ${f.failures} | ${fmt(l.throughput)} | ${l.p50} / ${l.p99} | ${fmt(l.accuracy * 100)}% | ${fmt(l.costRatio * 100, 0)}% | ${fmt(((l.points.full ?? 0) / Math.max(1, l.answered)) * 100, 0)}% | ${l.failures} | ${fmt(f.loadAverage)} / ${fmt(l.loadAverage)} |`,
  );
}
const target = rows.find(([f]) => f.p99 >= 3 * slo);
if (target) {
  const [f, l] = target;
  const loss = (f.accuracy - l.accuracy) * 100;
  console.log(
    `\nat ${f.rate} req/s full-length p99 is ${f.p99} ms (≥ 3× the SLO); lat serve p99 ${l.p99} ms ` +
      `(${l.p99 <= slo ? 'within' : 'OVER'} the SLO), accuracy ${fmt(loss, 2)} points lower, ${l.failures} failed`,
  );
} else console.log(`\nno rate pushed full-length p99 to 3× the SLO (${3 * slo} ms); raise --rates`);
if (a.json) writeFileSync(a.json, JSON.stringify({ slo, idle, rates, full: fullRows, lat }, null, 2));
