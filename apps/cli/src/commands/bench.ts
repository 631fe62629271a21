import { join } from 'node:path';
import { LatError, type LengthSpec } from '@lat/core';
import { type AnytimeModel, type ModelConfig, padBatch } from '@lat/layers';
import { inputMacs, pointLengths } from '@lat/pipeline';
import { deviceFor } from '../device.js';
import type { LatencyDevice } from '../latency.js';
import { type LengthFlags, lengthOptionsFromFlags } from '../lengths.js';
import { frontierFileFor, loadCliModel, loadFrontier, openPipeline, writeJson } from '../model.js';
import { type Output, table } from '../output.js';
import { adaplerBench } from './adapler.js';
import { adaplerModelDir } from './adapler-sweep.js';

export interface BenchFlags extends LengthFlags {
  model: string;
  frontier?: string;
  /** Tokens per input; default 128 (a pooled model: its input length), or fewer when the model has fewer positions. */
  seq?: number;
  batch: number;
  runs: number;
  threads?: number;
  /** Write the measured latencies into the frontier file, so --latency budgets work. */
  save?: boolean;
  /** AdapLeR models: the inputs to time (their kept tokens depend on the text). */
  dev?: string;
  task?: string;
  /** Where to run: onnxruntime-node (default), onnxruntime-web wasm in this process, or in headless Chromium. */
  device?: LatencyDevice;
}

/**
 * A batch of `batch` inputs of exactly `seq` tokens ([CLS] … [SEP]). A model that keeps the first
 * segment through pooling gets question-and-context pairs: a first segment of at most 16 tokens.
 */
export function benchInput(config: ModelConfig, seq: number, batch: number) {
  const p = config.pooling;
  const first = p?.keepFirstSegment ? Math.min(16, p.schedule.at(-1)![1], seq) : seq;
  const items = Array.from({ length: batch }, (_, b) => {
    const ids = Array.from({ length: seq }, (_, j) =>
      j === 0 ? 2 : j === seq - 1 ? 3 : 5 + ((j * 7 + b * 13) % Math.max(1, config.vocabSize - 5)),
    );
    return { ids, typeIds: Array.from({ length: seq }, (_, j) => (j < first ? 0 : 1)) };
  });
  return padBatch(items);
}

/**
 * Median ms of `runs` calls after two warm-up calls, on `clock` (wall clock by default; a device's
 * own clock when the model runs elsewhere, e.g. in a browser page).
 */
export async function timeRuns(
  m: AnytimeModel,
  x: ReturnType<typeof benchInput>,
  spec: LengthSpec | undefined,
  runs: number,
  clock: () => number = () => performance.now(),
) {
  for (let i = 0; i < 2; i++) await m.run(x, spec);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = clock();
    await m.run(x, spec);
    times.push(clock() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

export async function benchCommand(f: BenchFlags, out: Output) {
  const adapler = adaplerModelDir(f, out);
  if (adapler) return adaplerBench({ ...f, model: adapler }, out);
  const model = await loadCliModel(f.model);
  const frontier = loadFrontier(model, f.frontier, f.dtype);
  // One configuration from --lengths/--ratios/--budget, else every frontier point.
  const seq =
    f.seq ??
    model.config.pooling?.inputLength ??
    Math.min(128, model.config.maxPositions - model.config.positionOffset);
  const options = lengthOptionsFromFlags(f, model.config, frontier !== undefined, seq);
  if (f.save && (f.device ?? 'node') !== 'node')
    throw new LatError(
      'BAD_INPUT',
      `--save stores onnxruntime-node latencies in the frontier file; drop it to time on ${f.device}`,
      '--save',
    );
  const device = deviceFor(f.device ?? 'node', f.threads);
  const opened = await device.open();
  const p = await openPipeline(model, {
    threads: f.threads,
    frontier,
    runtime: opened.runtime,
    ...(f.dtype ? { dtype: f.dtype } : {}),
  });
  const m = p.model;
  const x = benchInput(model.config, seq, f.batch);
  try {
    const chosen = p.lengthsFor(options);
    const full = await timeRuns(m, x, undefined, f.runs, opened.clock);
    const fullMacs = inputMacs(model.config, seq);
    const rows: {
      lengths: number[] | 'full';
      ms: number;
      speedup: number;
      macsRatio: number;
      metric?: number;
    }[] = [{ lengths: 'full', ms: full, speedup: 1, macsRatio: 1 }];
    const targets = chosen.spec
      ? [{ spec: chosen.spec, point: chosen.point }]
      : (frontier?.points ?? []).map((point) => ({ spec: pointLengths(frontier!, point), point }));
    for (const { spec, point } of targets) {
      const ms = await timeRuns(m, x, spec, f.runs, opened.clock);
      const counts = (await m.run(x, spec)).keepCounts[0]!;
      const lengths = spec.form === 'ratio' ? [...spec.ratios] : [...spec.lengths];
      rows.push({
        lengths,
        ms,
        speedup: full / ms,
        macsRatio: inputMacs(model.config, seq, counts) / fullMacs,
        ...(point ? { metric: point.metric } : {}),
      });
      if (point && !chosen.spec) point.latencyMs = ms;
    }
    if (f.save && frontier && f.batch === 1)
      writeJson(f.frontier ?? join(model.dir, frontierFileFor(p.dtype)), frontier);
    out.result(
      {
        command: 'bench',
        seq,
        batch: f.batch,
        threads: f.threads ?? null,
        dtype: p.dtype,
        device: device.name,
        rows,
      },
      () => {
        out.info(
          `latency at seq ${seq}, batch ${f.batch}, ${p.dtype}, ${device.name} (median of ${f.runs} runs)`,
        );
        out.info(
          table(
            rows.map((r) => [
              r.lengths === 'full' ? 'full' : r.lengths.map((l) => l.toFixed(2)).join(' '),
              r.ms.toFixed(2),
              `${r.speedup.toFixed(2)}×`,
              `${(1 / r.macsRatio).toFixed(2)}×`,
              r.metric?.toFixed(4) ?? '',
            ]),
            ['configuration', 'ms', 'speed-up', 'MACs speed-up', 'metric'],
          ),
        );
      },
    );
    return rows;
  } finally {
    await p.dispose();
    await opened.close?.();
  }
}
