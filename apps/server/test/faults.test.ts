/**
 * Hostile clients and shutdown: huge and endless bodies, slowloris-style slow clients, clients
 * that leave mid-request, SIGTERM under load (through the built `lat serve`, two workers). The
 * server stays up, answers every other request, and no request is lost without a trace.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LatServer, serveOptions, startServer } from '../src/index.js';
import { post, text, writeTinyModel } from './tiny-model.js';

let dir: string;
let s: LatServer;

beforeAll(async () => {
  dir = await writeTinyModel({ frontier: true });
  s = await startServer(
    serveOptions({
      model: dir,
      port: 0,
      threads: 1,
      maxWaitMs: 400, // a lone request sits in the queue a while: room to leave mid-request
      limits: { bodyBytes: 64 * 1024, requestTimeoutMs: 2_000, headersTimeoutMs: 1_000 },
    }),
  );
});
afterAll(async () => {
  await s?.close();
});

const ok = async () => {
  const r = await post(`${s.url}/v1/classify`, { inputs: [text(6)] });
  expect(r.status).toBe(200);
};

/** Resolves with what the server wrote before it closed the socket. */
function untilClosed(socket: net.Socket): Promise<string> {
  let got = '';
  socket.on('data', (d) => {
    got += d.toString();
  });
  return new Promise((resolve) => socket.on('close', () => resolve(got)));
}

async function metricValue(name: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('hostile clients', () => {
  it('a huge body is refused with 413, whether announced or streamed without a length', async () => {
    const big = await post(`${s.url}/v1/classify`, { inputs: ['a '.repeat(200_000)] });
    expect(big.status).toBe(413);
    expect(big.json.error.code).toBe('BODY_TOO_LARGE');
    // Chunked: no Content-Length, so the limit is enforced while reading.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${s.url}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write('{"inputs": ["');
      const chunk = 'a '.repeat(8192);
      let sent = 0;
      const pump = () => {
        while (sent < 64 && req.write(chunk)) sent++;
        if (sent < 64) req.once('drain', pump);
        else req.end('"]}');
      };
      pump();
    });
    expect(status).toBe(413);
    await ok();
  });

  /** A client that sends `head`, then a byte or a header every `everyMs`, never finishing. */
  async function slowClient(head: string, drip: string, everyMs: number) {
    const { port } = new URL(s.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    const closed = untilClosed(socket);
    socket.write(head);
    const timer = setInterval(() => socket.writable && socket.write(drip), everyMs);
    const t0 = performance.now();
    await ok(); // others are served meanwhile
    const got = await closed;
    clearInterval(timer);
    expect(performance.now() - t0).toBeLessThan(6_000);
    expect(got).toMatch(/^HTTP\/1.1 408/);
    await ok();
  }

  it('slowloris: headers trickling in are cut off (408), and others are served meanwhile', () =>
    slowClient('POST /v1/classify HTTP/1.1\r\nHost: localhost\r\n', 'X-a: b\r\n', 200));

  it('a body that never finishes is cut off by the request timeout (408)', () =>
    slowClient(
      'POST /v1/classify HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"inputs":',
      ' ',
      300,
    ));

  it('a client that leaves mid-request: its work is dropped and counted (499), others are answered', async () => {
    const inputsBefore = await metricValue('lat_inputs_total');
    const body = JSON.stringify({ inputs: [text(5), text(7)] });
    await new Promise<void>((resolve) => {
      const req = http.request(`${s.url}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.on('error', () => resolve());
      req.end(body);
      // Gone while its request waits for a batch (maxWaitMs 400).
      setTimeout(() => req.destroy(), 100);
    });
    // And one that leaves halfway through sending its body.
    const { port } = new URL(s.url);
    const half = net.connect(Number(port), '127.0.0.1');
    half.write(
      'POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"inp',
    );
    setTimeout(() => half.destroy(), 50);
    await ok();
    await expect
      .poll(() => metricValue('lat_http_requests_total{route="/v1/classify",status="499"}'), {
        timeout: 5_000,
      })
      .toBeGreaterThanOrEqual(1);
    // The two texts of the request that left were never run; the one from ok() was.
    expect((await metricValue('lat_inputs_total')) - inputsBefore).toBe(1);
    await ok();
  });

  it('malformed JSON of every kind is a 400 and the server stays up', async () => {
    for (const body of ['{', '{"inputs": [1,]}', 'null', '"text"', '{"inputs": "a"}', '\u0000\u0001']) {
      const r = await post(`${s.url}/v1/classify`, body);
      expect(r.status).toBe(400);
      expect(r.json.error.code).toMatch(/MALFORMED_JSON|BAD_REQUEST/);
    }
    await ok();
  });
});

describe('SIGTERM under load (built lat serve, two workers)', () => {
  const cli = join(import.meta.dirname, '../../cli');
  const bin = join(cli, 'dist/bin.js');
  let child: ChildProcess | undefined;

  beforeAll(() => {
    for (const d of [join(import.meta.dirname, '..'), cli])
      if (!existsSync(join(d, 'dist')))
        execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: d, stdio: 'inherit' });
  }, 120_000);
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('bad flags and models fail with one line and an exit code, before listening', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [bin, 'serve', ...args], { encoding: 'utf8', timeout: 60_000 });
    const slo = run(['--model', dir, '--slo-p99', 'soon']);
    expect(slo.status).toBe(2);
    expect(slo.stderr).toMatch(/--slo-p99: cannot read 'soon'/);
    const missing = run(['--model', join(dir, 'nope')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('answers every request it accepted, refuses new ones cleanly, and exits 0', async () => {
    child = spawn(
      process.execPath,
      [
        bin,
        'serve',
        '--json',
        '--model',
        dir,
        '--port',
        '0',
        '--workers',
        '2',
        '--threads',
        '1',
        '--max-wait',
        '5000ms',
        '--max-batch',
        '64',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (d) => {
        out += d;
        const m = /"url":"([^"]+)"/.exec(out);
        if (m) resolve(m[1]!);
      });
      child!.on('exit', () => reject(new Error(`lat serve exited early: ${stderr}`)));
    });
    const agent = new http.Agent({ keepAlive: false });
    const send = () =>
      new Promise<number | string>((resolve) => {
        const body = JSON.stringify({ inputs: [text(8)] });
        const req = http.request(`${url}/v1/classify`, {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        req.end(body);
      });
    // 20 requests queued (a batch waits 5 s to fill) when the signal comes.
    const accepted = Array.from({ length: 20 }, send);
    const queued = async () => {
      const m = await (await fetch(`${url}/metrics`)).text();
      return Number(/^lat_queue_depth (\d+)/m.exec(m)?.[1] ?? 0);
    };
    await expect.poll(queued, { timeout: 15_000, interval: 50 }).toBe(20);
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const late = await Promise.all(Array.from({ length: 5 }, send));
    expect(await Promise.all(accepted)).toEqual(new Array(20).fill(200));
    // After the signal: refused at connect or told 503 — never a reset mid-request.
    for (const r of late) expect([503, 'ECONNREFUSED']).toContain(r);
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/"event":"draining"/);
    expect(stderr.match(/"event":"stopped"/g)).toHaveLength(2);
  }, 60_000);
});
