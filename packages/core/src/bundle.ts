/**
 * The model bundle: a standalone `model.onnx` plus this JSON sidecar (`lat.json`), written by
 * `lat export` / `exportModel()` and read by the CLI, the playground and any ORT user. Pure data
 * and validation only (no file system), so browsers can use it too.
 */
import { LatError } from './errors.js';

export const bundleSchemaVersion = 1;
export const bundleManifestFile = 'lat.json';

export interface BundleManifest {
  schemaVersion: 1;
  kind: 'lat-bundle';
  /** File name of the ONNX graph, next to the manifest. */
  graph: string;
  model: {
    name: string;
    architecture: 'bert' | 'distilbert' | 'roberta';
    numLayers: number;
    hiddenSize: number;
    numHeads: number;
    intermediateSize: number;
    vocabSize: number;
    maxPositions: number;
    /** A hash of the weights, so frontiers made on other weights are refused. */
    fingerprint: string;
  };
  task: { type: 'classification' | 'regression' | 'span'; labels: string[] };
  /** Graph input/output names and what they hold, for plain ORT users. */
  io: { inputs: Record<string, string>; outputs: Record<string, string> };
  tokenizer: {
    type: 'wordpiece';
    /** The vocabulary, one token per id. */
    vocab: string[];
    doLowerCase: boolean;
    stripAccents?: boolean;
    maxLength: number;
    clsToken: string;
    sepToken: string;
    padToken: string;
    unkToken: string;
  };
  /** The frontier file content (from @lat/search), when one was made. */
  frontier?: unknown;
  /** Example inputs to show in the playground. */
  examples?: string[];
}

/** Checks a parsed manifest's shape; throws LatError naming the field and the fix. */
export function parseBundleManifest(value: unknown, where = bundleManifestFile): BundleManifest {
  const fail = (field: string, msg: string): never => {
    throw new LatError('BAD_FILE', `${msg} (re-export the bundle with \`lat export\`)`, `${where}#${field}`);
  };
  if (typeof value !== 'object' || value === null) return fail('', 'not a JSON object');
  const m = value as Record<string, unknown>;
  if (m['kind'] !== 'lat-bundle') fail('kind', `expected "lat-bundle", got ${JSON.stringify(m['kind'])}`);
  if (m['schemaVersion'] !== bundleSchemaVersion) {
    fail(
      'schemaVersion',
      `this version reads schema ${bundleSchemaVersion}, got ${JSON.stringify(m['schemaVersion'])}`,
    );
  }
  if (typeof m['graph'] !== 'string' || !m['graph']) fail('graph', 'missing the ONNX file name');
  const model = m['model'] as Record<string, unknown> | undefined;
  if (typeof model !== 'object' || model === null) return fail('model', 'missing');
  for (const k of ['numLayers', 'hiddenSize', 'numHeads', 'intermediateSize', 'vocabSize', 'maxPositions']) {
    const v = model[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      fail(`model.${k}`, 'must be a positive integer');
  }
  if (!['bert', 'distilbert', 'roberta'].includes(model['architecture'] as string)) {
    fail('model.architecture', 'must be bert, distilbert or roberta');
  }
  const task = m['task'] as Record<string, unknown> | undefined;
  if (typeof task !== 'object' || task === null) return fail('task', 'missing');
  if (!['classification', 'regression', 'span'].includes(task['type'] as string)) {
    fail('task.type', 'must be classification, regression or span');
  }
  if (!Array.isArray(task['labels'])) fail('task.labels', 'must be an array of label names');
  const tok = m['tokenizer'] as Record<string, unknown> | undefined;
  if (typeof tok !== 'object' || tok === null) return fail('tokenizer', 'missing');
  if (tok['type'] !== 'wordpiece') fail('tokenizer.type', 'only "wordpiece" is supported');
  const vocab = tok['vocab'];
  if (!Array.isArray(vocab) || vocab.length === 0 || vocab.some((t) => typeof t !== 'string')) {
    fail('tokenizer.vocab', 'must be a non-empty array of strings');
  }
  if ((vocab as string[]).length !== model['vocabSize']) {
    fail(
      'tokenizer.vocab',
      `has ${(vocab as string[]).length} tokens but model.vocabSize is ${model['vocabSize']}`,
    );
  }
  for (const k of ['clsToken', 'sepToken', 'padToken', 'unkToken']) {
    if (!(vocab as string[]).includes(tok[k] as string)) fail(`tokenizer.${k}`, 'is not in the vocabulary');
  }
  return value as BundleManifest;
}
