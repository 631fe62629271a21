// A tiny model directory on disk (both heads), optionally with a frontier, for the server's tests.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyAdaplerModel, tinyModel, writeBundle, writeModelDir } from '@lat/layers/testing';
import { weightsFingerprint } from '@lat/pipeline/node';

const vocab = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  'fast',
  'slow',
  'server',
  'queue',
  'batch',
  'late',
  'on',
  'time',
  'where',
  'is',
  'it',
  'ran',
  'in',
  'oslo',
  '?',
  '.',
];

/** A BERT with both heads, 128 positions, `layers` layers of width `hidden`. */
const tiny = (o: { layers?: number; hidden?: number }) => tinyModel({ vocab, maxPositions: 128, ...o });

/** A frontier file of three ratio points (the last is the full model) for weights of `fingerprint`. */
function tinyFrontier(fingerprint: string, layers: number) {
  const point = (r: number, metric: number) => ({
    lengths: new Array(layers).fill(r),
    cost: r,
    costRatio: r,
    metric,
  });
  return {
    schemaVersion: 1,
    kind: 'lat-frontier',
    model: { name: 'tiny', fingerprint, numLayers: layers },
    dataset: 'dev.tsv',
    metric: { name: 'accuracy', higherIsBetter: true },
    lengthForm: 'ratio',
    maxLength: 100,
    costUnit: 'MACs',
    fullCost: 1,
    points: [point(0.3, 0.7), point(0.6, 0.8), point(1, 0.85)],
    area: 0,
    search: { seed: 1, iterations: 1, evaluated: 3, params: {} },
  };
}

/** Writes config.json, vocab.txt and model.safetensors; with `frontier`, a frontier.json. */
export async function writeTinyModel(
  o: { frontier?: boolean; layers?: number; hidden?: number } = {},
): Promise<string> {
  const dir = writeModelDir(mkdtempSync(join(tmpdir(), 'lat-server-')), tiny(o));
  if (o.frontier) {
    const fingerprint = await weightsFingerprint(join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'frontier.json'), JSON.stringify(tinyFrontier(fingerprint, o.layers ?? 2)));
  }
  return dir;
}

/** An AdapLeR model directory (adapler.safetensors beside the weights) whose inputs keep different counts. */
export function writeTinyAdaplerModel(): string {
  const m = tinyAdaplerModel({ vocab, maxPositions: 128, eta: 0.9, scale: 10 });
  return writeModelDir(mkdtempSync(join(tmpdir(), 'lat-server-adapler-')), m);
}

/** A classification bundle (lat.json + model.onnx, as `lat export` writes) with a frontier inside. */
export function writeTinyBundle(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lat-server-bundle-'));
  const m = tiny({});
  writeBundle(dir, m, {
    task: 'classification',
    name: 'tiny-bundle',
    frontier: tinyFrontier('tiny', m.config.numLayers),
  });
  return dir;
}

/** A text of `words` words from the tiny vocabulary. */
export function text(words: number, seed = 0): string {
  return Array.from({ length: words }, (_, i) => vocab[4 + ((i * 5 + seed) % (vocab.length - 4))]).join(' ');
}

// biome-ignore lint/suspicious/noExplicitAny: responses are checked field by field
type Json = Record<string, any>;

export async function getJson(url: string): Promise<Json> {
  return (await fetch(url)).json() as Promise<Json>;
}

export async function post(
  url: string,
  body: unknown,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; json: Json }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Json };
}
