/**
 * Per-layer latency tables for the search's latency objective, measured on the device that will
 * run the model and saved with it (`latency.json` in the model directory, one table per device
 * and input length), so later searches and bundles reuse them.
 *
 * Each layer is timed alone: a graph of just that layer (its own weights) minus a graph with no
 * layer at all (embeddings and head), at several token counts; the no-layer graph at the search's
 * input length is the fixed cost. Total ÷ layers would put the fixed cost inside the layers, so a
 * configuration would seem to save time it cannot save.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime, StateDict } from '@lat/core';
import { createAnytimeModel, type ModelConfig } from '@lat/layers';
import type { LatencyTable } from '@lat/search';
import { benchInput, timeRuns } from './commands/bench.js';
import { type CliModel, writeJson } from './model.js';

export const latencyFile = 'latency.json';

interface LatencyFileContents {
  kind: 'lat-latency';
  /** The weights the tables were measured with (shapes are what matter; kept for provenance). */
  fingerprint: string;
  tables: LatencyTable[];
}

/** The devices --device names: onnxruntime-node, onnxruntime-web wasm here, or in headless Chromium. */
export type LatencyDevice = 'node' | 'wasm' | 'chromium';

/**
 * Opens the device a table is measured on: its runtime, its clock when the runs are not in this
 * process (see timeRuns), and how to shut it down.
 */
export type OpenDevice = () => Promise<{
  runtime: Runtime;
  clock?: () => number;
  close?: () => Promise<void>;
}>;

/** The model's saved table for `device` and `seq`, or a newly measured one on `open()` (then saved). */
export async function latencyTableFor(
  model: CliModel,
  device: string,
  seq: number,
  open: OpenDevice,
  o: { remeasure?: boolean; runs?: number } = {},
): Promise<{ table: LatencyTable; reused: boolean }> {
  const path = join(model.dir, latencyFile);
  const saved = readLatencyFile(path);
  const found = saved?.tables.find((t) => t.device === device && t.seq === seq);
  if (found && !o.remeasure) return { table: found, reused: true };
  const target = await open();
  let table: LatencyTable;
  try {
    table = await measureLatencyTable(
      target.runtime,
      model.config,
      model.weights,
      device,
      seq,
      o.runs ?? 20,
      target.clock,
    );
  } finally {
    await target.close?.();
  }
  const others = (saved?.tables ?? []).filter((t) => !(t.device === device && t.seq === seq));
  writeJson(path, { kind: 'lat-latency', fingerprint: model.fingerprint, tables: [...others, table] });
  return { table, reused: false };
}

function readLatencyFile(path: string): LatencyFileContents | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as LatencyFileContents;
    return v?.kind === 'lat-latency' && Array.isArray(v.tables) ? v : undefined;
  } catch {
    return undefined; // an unreadable table is measured again and rewritten
  }
}

/** Only layer `i` (renamed to layer 0), or no layer at all. */
function partOf(config: ModelConfig, weights: StateDict, layer?: number): [ModelConfig, StateDict] {
  const prefix = `encoder.layer.${layer}.`;
  const part: StateDict = new Map();
  for (const [name, t] of weights) {
    if (!name.startsWith('encoder.layer.')) part.set(name, t);
    else if (layer !== undefined && name.startsWith(prefix))
      part.set(`encoder.layer.0.${name.slice(prefix.length)}`, t);
  }
  return [{ ...config, numLayers: layer === undefined ? 0 : 1 }, part];
}

export async function measureLatencyTable(
  runtime: Runtime,
  config: ModelConfig,
  weights: StateDict,
  device: string,
  seq: number,
  runs = 20,
  /** The device's clock when it is not this process (see timeRuns); wall clock by default. */
  clock?: () => number,
): Promise<LatencyTable> {
  const lengths = [...new Set([1, Math.ceil(seq / 4), Math.ceil(seq / 2), Math.ceil((3 * seq) / 4), seq])];
  const time = async (c: ModelConfig, w: StateDict) => {
    const m = await createAnytimeModel(runtime, c, w, { keptPositions: false });
    try {
      const out: number[] = [];
      for (const l of lengths) out.push(await timeRuns(m, benchInput(c, l, 1), undefined, runs, clock));
      return out;
    } finally {
      await m.release();
    }
  };
  const fixed = await time(...partOf(config, weights));
  const perLayerMs: number[][] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const withLayer = await time(...partOf(config, weights, i));
    // A layer never costs less on more tokens; at tiny sizes noise can say otherwise, and a cost
    // that falls as lengths grow would put the full model below the smallest one. Keep the
    // running maximum over lengths.
    let most = 0;
    perLayerMs.push(withLayer.map((t, j) => (most = Math.max(most, t - fixed[j]!))));
  }
  return { device, seq, lengths, perLayerMs, fixedMs: fixed.at(-1)! };
}
