// A tiny model directory on disk (both heads), optionally with a frontier, for the server's tests.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@lat/core/node';
import { createRandomWeights, parseModelConfig, toHfConfig, toHfNames } from '@lat/layers';
import { exportModel } from '@lat/layers/node';
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

function tinyConfig(o: { layers?: number; hidden?: number }) {
  return parseModelConfig({
    model_type: 'bert',
    vocab_size: vocab.length,
    hidden_size: o.hidden ?? 32,
    num_hidden_layers: o.layers ?? 2,
    num_attention_heads: 4,
    intermediate_size: 2 * (o.hidden ?? 32),
    max_position_embeddings: 128,
    id2label: { 0: 'negative', 1: 'positive' },
  });
}

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
  const dir = mkdtempSync(join(tmpdir(), 'lat-server-'));
  mkdirSync(dir, { recursive: true });
  const layers = o.layers ?? 2;
  const config = tinyConfig(o);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(config)));
  writeFileSync(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
  writeSafetensors(
    join(dir, 'model.safetensors'),
    toHfNames(createRandomWeights(config, 7, { classifier: true, qa: true }, 0.3), config),
  );
  if (o.frontier) {
    const fingerprint = await weightsFingerprint(join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'frontier.json'), JSON.stringify(tinyFrontier(fingerprint, layers)));
  }
  return dir;
}

/** A classification bundle (lat.json + model.onnx, as `lat export` writes) with a frontier inside. */
export function writeTinyBundle(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lat-server-bundle-'));
  const config = tinyConfig({});
  exportModel(dir, config, createRandomWeights(config, 7, { classifier: true }, 0.3), {
    name: 'tiny-bundle',
    fingerprint: 'tiny',
    task: { type: 'classification', labels: config.labels },
    tokenizer: {
      vocab,
      doLowerCase: true,
      maxLength: 64,
      clsToken: '[CLS]',
      sepToken: '[SEP]',
      padToken: '[PAD]',
      unkToken: '[UNK]',
    },
    frontier: tinyFrontier('tiny', config.numLayers),
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
