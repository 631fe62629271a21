/** Loading and checking a bundle (lat.json + model.onnx) from the server or from the user's files. */

import type { ModelConfig } from '@lat/core';
import {
  type BundleManifest,
  bundleManifestFile,
  checkBundleGraph,
  LatError,
  parseBundleManifest,
} from '@lat/core';

export interface LoadedBundle {
  manifest: BundleManifest;
  model: Uint8Array;
  source: string;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LatError(
      'BAD_FILE',
      `not valid JSON (${(e as Error).message}); pick the lat.json of a bundle made by \`lat export\``,
      where,
    );
  }
}

/** ONNX files start with a protobuf field tag; catch an obviously wrong file before ORT does. */
function checkOnnx(bytes: Uint8Array, where: string) {
  if (bytes.length < 16 || bytes[0] !== 0x08) {
    throw new LatError(
      'BAD_FILE',
      'this is not an ONNX model; pick the model.onnx written by `lat export`',
      where,
    );
  }
}

export async function fetchBundle(base: string): Promise<LoadedBundle> {
  const url = (f: string) => new URL(f, new URL(base, location.href)).href;
  const res = await fetch(url(bundleManifestFile));
  if (!res.ok)
    throw new LatError(
      'NOT_FOUND',
      `no bundle here (HTTP ${res.status}); run \`pnpm demo\` to make the default bundle`,
      url(bundleManifestFile),
    );
  const manifest = parseBundleManifest(parseJson(await res.text(), bundleManifestFile));
  const model = await fetch(url(manifest.graph));
  if (!model.ok)
    throw new LatError(
      'NOT_FOUND',
      `the bundle's graph is missing (HTTP ${model.status})`,
      url(manifest.graph),
    );
  const bytes = new Uint8Array(await model.arrayBuffer());
  checkOnnx(bytes, manifest.graph);
  await checkBundleGraph(manifest, bytes);
  return { manifest, model: bytes, source: base };
}

/** A bundle picked or dropped by the user: its lat.json and the .onnx file it names. */
export async function filesBundle(files: File[]): Promise<LoadedBundle> {
  const json = files.find((f) => f.name.endsWith('.json'));
  if (!json) throw new LatError('BAD_INPUT', 'pick both files of a bundle: lat.json and model.onnx', 'files');
  const manifest = parseBundleManifest(parseJson(await json.text(), json.name), json.name);
  const onnx = files.find((f) => f.name === manifest.graph) ?? files.find((f) => f.name.endsWith('.onnx'));
  if (!onnx)
    throw new LatError(
      'BAD_INPUT',
      `the bundle's graph ${manifest.graph} was not among the files; pick it too`,
      'files',
    );
  const bytes = new Uint8Array(await onnx.arrayBuffer());
  checkOnnx(bytes, onnx.name);
  await checkBundleGraph(manifest, bytes, onnx.name);
  return { manifest, model: bytes, source: json.name };
}

/** The parts of a model config the graph's host code needs, from the manifest. */
export function configFromManifest(m: BundleManifest): ModelConfig {
  const labels = m.task.labels;
  return {
    architecture: m.model.architecture,
    vocabSize: m.model.vocabSize,
    hiddenSize: m.model.hiddenSize,
    numLayers: m.model.numLayers,
    numHeads: m.model.numHeads,
    intermediateSize: m.model.intermediateSize,
    maxPositions: m.model.maxPositions,
    typeVocabSize: m.io.inputs['token_type_ids'] ? 2 : 0,
    layerNormEps: 1e-12,
    hiddenAct: 'gelu',
    numLabels: m.task.type === 'regression' ? 1 : labels.length,
    labels,
    padTokenId: 0,
    positionOffset: 0,
    hiddenDropout: 0,
    attentionDropout: 0,
  };
}
