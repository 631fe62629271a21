/**
 * Bundles (`lat.json` + `model.onnx`, written by `lat export`) in memory: from bytes, from a URL
 * (fetch) or from files a user picked. No file system here, so browsers use it as it is; the Node
 * directory reader is in `./node`.
 */
import {
  type BundleManifest,
  bundleManifestFile,
  checkBundleGraph,
  LatError,
  parseBundleManifest,
  type Tokenizer,
  tokenizerFromSpec,
} from '@lat/core';
import { checkPooling, type ModelConfig } from '@lat/layers';
import type { ModelFiles } from './model.js';

/** A bundle's two files: the manifest (parsed, as text or as bytes) and the ONNX graph's bytes. */
export interface BundleFiles {
  manifest: unknown;
  model: Uint8Array | ArrayBuffer;
}

/** A bundle checked and ready to run. */
export interface LoadedBundle {
  manifest: BundleManifest;
  model: Uint8Array;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LatError(
      'BAD_FILE',
      `not valid JSON (${(e as Error).message}); use the lat.json of a bundle made by \`lat export\``,
      where,
    );
  }
}

/** ONNX files start with a protobuf field tag; catch an obviously wrong file before ORT does. */
function checkOnnx(bytes: Uint8Array, where: string) {
  if (bytes.length < 16 || bytes[0] !== 0x08) {
    throw new LatError(
      'BAD_FILE',
      'this is not an ONNX model; use the model.onnx written by `lat export`',
      where,
    );
  }
}

/** Checks a bundle given as bytes or objects: the manifest's fields and the graph against it. */
export async function readBundle(files: BundleFiles, where = bundleManifestFile): Promise<LoadedBundle> {
  let json = files.manifest;
  if (json instanceof Uint8Array) json = new TextDecoder().decode(json);
  if (typeof json === 'string') json = parseJson(json, where);
  const manifest = parseBundleManifest(json, where);
  const model = files.model instanceof Uint8Array ? files.model : new Uint8Array(files.model);
  checkOnnx(model, manifest.graph);
  await checkBundleGraph(manifest, model);
  return { manifest, model };
}

/** Downloads a bundle: `base` is the URL of the directory holding lat.json and the graph it names. */
export async function fetchBundle(base: string | URL): Promise<LoadedBundle> {
  const here = (globalThis as { location?: { href: string } }).location?.href;
  const root = here ? new URL(base, here) : new URL(base);
  const url = (f: string) => new URL(f, root).href;
  const res = await fetch(url(bundleManifestFile));
  if (!res.ok)
    throw new LatError(
      'NOT_FOUND',
      `no bundle here (HTTP ${res.status}); export one with \`lat export\``,
      url(bundleManifestFile),
    );
  const manifest = parseBundleManifest(parseJson(await res.text(), bundleManifestFile));
  const graph = await fetch(url(manifest.graph));
  if (!graph.ok)
    throw new LatError(
      'NOT_FOUND',
      `the bundle's graph is missing (HTTP ${graph.status})`,
      url(manifest.graph),
    );
  return readBundle({ manifest, model: await graph.arrayBuffer() });
}

/** A bundle picked or dropped by the user: its lat.json and the .onnx file it names. */
export async function bundleFromFiles(files: readonly Blob[]): Promise<LoadedBundle> {
  const named = files.map((f) => ({ f, name: (f as { name?: string }).name ?? '' }));
  const json = named.find((x) => x.name.endsWith('.json'));
  if (!json) throw new LatError('BAD_INPUT', 'pick both files of a bundle: lat.json and model.onnx', 'files');
  const manifest = parseBundleManifest(parseJson(await json.f.text(), json.name), json.name);
  const onnx = named.find((x) => x.name === manifest.graph) ?? named.find((x) => x.name.endsWith('.onnx'));
  if (!onnx)
    throw new LatError(
      'BAD_INPUT',
      `the bundle's graph ${manifest.graph} was not among the files; pick it too`,
      'files',
    );
  return readBundle({ manifest, model: await onnx.f.arrayBuffer() }, json.name);
}

/**
 * The model config the host code needs (feeds, outputs, cost), from the manifest. Bundles written
 * before the manifest recorded position offsets and norms get BERT's, or RoBERTa's by architecture.
 */
export function configFromManifest(m: BundleManifest): ModelConfig {
  const roberta = m.model.architecture === 'roberta';
  const offset = m.model.positionOffset ?? (roberta ? (m.model.padTokenId ?? 1) + 1 : 0);
  if (m.model.pooling)
    checkPooling(m.model.pooling, { ...m.model, positionOffset: offset }, 'lat.json#model.pooling');
  const labels = m.task.type === 'classification' ? m.task.labels : [];
  const padTokenId = m.model.padTokenId ?? (roberta ? 1 : 0);
  return {
    architecture: m.model.architecture,
    vocabSize: m.model.vocabSize,
    hiddenSize: m.model.hiddenSize,
    numLayers: m.model.numLayers,
    numHeads: m.model.numHeads,
    intermediateSize: m.model.intermediateSize,
    maxPositions: m.model.maxPositions,
    typeVocabSize: m.model.typeVocabSize ?? (m.io.inputs['token_type_ids'] ? 2 : 0),
    layerNormEps: m.model.layerNormEps ?? (roberta ? 1e-5 : 1e-12),
    hiddenAct: m.model.hiddenAct ?? 'gelu',
    numLabels: m.task.type === 'regression' ? 1 : Math.max(1, labels.length),
    labels,
    padTokenId,
    positionOffset: m.model.positionOffset ?? (roberta ? padTokenId + 1 : 0),
    hiddenDropout: 0,
    attentionDropout: 0,
    ...(m.model.layers ? { layers: m.model.layers } : {}),
    ...(m.model.pooling ? { pooling: m.model.pooling } : {}),
  };
}

/** The bundle's tokenizer (WordPiece or byte-level BPE), as it was when the model was exported. */
export function tokenizerFromManifest(m: BundleManifest, where = bundleManifestFile): Tokenizer {
  return tokenizerFromSpec(m.tokenizer, where);
}

/** A checked bundle as the pipeline's model source. */
export function bundleModel(b: LoadedBundle): ModelFiles {
  return {
    name: b.manifest.model.name,
    config: configFromManifest(b.manifest),
    tokenizer: tokenizerFromManifest(b.manifest),
    graph: b.model,
    task: b.manifest.task.type,
    maxLength: b.manifest.tokenizer.maxLength,
    fingerprint: b.manifest.model.fingerprint,
    dtype: b.manifest.model.dtype ?? 'fp32',
    ...(b.manifest.task.nullThreshold !== undefined ? { nullThreshold: b.manifest.task.nullThreshold } : {}),
    ...(b.manifest.frontier !== undefined ? { frontier: b.manifest.frontier } : {}),
    ...(b.manifest.model.adapler ? { adapler: { eta: b.manifest.model.adapler.eta } } : {}),
  };
}
