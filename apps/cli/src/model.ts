/** Loading a model directory the way every command needs it: weights, tokenizer, task, frontier. */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createRandomWeights, LatError, WordPieceTokenizer } from '@lat/core';
import { type LoadedModel, loadModelDir, readJson, writeFileAtomic } from '@lat/core/node';
import type { KdDirection } from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import { type FrontierFile, parseFrontierFile } from '@lat/search';
import { type BestEpoch, getTask, type MetricName, type TaskSpec } from '@lat/train';

/** What `lat train` records next to the weights, so later commands know the task. */
export interface TrainingInfo {
  task: string;
  metrics: MetricName[];
  maxLength: number;
  lengthDrop: unknown;
  /** How the weights were trained (absent in files written before it was recorded). */
  recipe?: TrainingRecipe;
  /** SQuAD v2: the null-score threshold tuned on dev (answer "" when null beats the best span by more). */
  nullThreshold?: number;
}

/** The training choices that change results (REFERENCE.md §1), recorded with the model. */
export interface TrainingRecipe {
  method: 'lengthdrop' | 'plain';
  epochs: number;
  batchSize: number;
  learningRate: number;
  warmupRatio: number;
  weightDecay: number;
  seed: number;
  layerDrop: number;
  kd: KdDirection;
  lengthSampling: 'per-example' | 'per-batch';
  keep: 'best' | 'last';
  /** With keep 'best': the epoch the weights come from. */
  best?: BestEpoch;
  /** Two-stage training: the model these weights started from, and how it was trained. */
  initFrom?: { dir: string; fingerprint: string; recipe?: TrainingRecipe };
}

export const trainingInfoFile = 'lat_training.json';
/** Present while a `lat train` into the directory has not finished (interrupted, or running). */
export const incompleteFile = 'lat_incomplete.json';

/** Global loading switches (`--allow-unused`) and where warnings go; set by the program. */
export const loading: { allowUnused: boolean; warn: (line: string) => void } = {
  allowUnused: false,
  warn: (line) => process.stderr.write(`lat: warning: ${line}\n`),
};
export const frontierFile = 'frontier.json';

export interface CliModel extends LoadedModel {
  tokenizer: WordPieceTokenizer;
  fingerprint: string;
  info?: TrainingInfo;
  name: string;
  /** A span (question-answering) model. */
  span: boolean;
}

/**
 * Loads a model directory. Span (SQuAD) models — trained by `lat train --task squad`, or loaded
 * with `span` for such training — get a span head, freshly initialised when the checkpoint has none.
 */
export async function loadCliModel(dir: string, o: { span?: boolean } = {}): Promise<CliModel> {
  const infoPath = join(dir, trainingInfoFile);
  const info = existsSync(infoPath) ? (readJson(infoPath) as TrainingInfo) : undefined;
  const span = o.span ?? info?.task === 'squad';
  const incomplete = join(dir, incompleteFile);
  if (existsSync(incomplete)) {
    const why = (readJson(incomplete) as { reason?: string }).reason ?? 'its training did not finish';
    throw new LatError(
      'INTERRUPTED',
      `this model is incomplete (${why}); finish it with lat train --resume --out ${dir} (same arguments)`,
      dir,
    );
  }
  const m = loadModelDir(dir, span ? { qa: true, classifier: false } : {}, {
    allowUnused: loading.allowUnused,
    onUnused: (names) =>
      loading.warn(`${dir}: ignoring ${names.length} tensors config.json has no place for (${names[0]}, …)`),
  });
  if (span && !m.weights.has('qa_outputs.weight')) {
    const fresh = createRandomWeights(m.config, 1, { qa: true, classifier: false });
    for (const n of ['qa_outputs.weight', 'qa_outputs.bias']) m.weights.set(n, fresh.get(n)!);
  }
  if (!m.vocab) {
    throw new LatError(
      'NOT_FOUND',
      'the model directory has no vocab.txt; lat needs a WordPiece vocabulary',
      dir,
    );
  }
  const tokenizer = new WordPieceTokenizer(m.vocab, {
    doLowerCase: m.doLowerCase,
    where: join(dir, 'vocab.txt'),
  });
  const name = dir.replace(/\/+$/, '').split('/').at(-1) ?? 'model';
  return {
    ...m,
    tokenizer,
    span,
    fingerprint: await fingerprint(
      join(dir, existsSync(join(dir, 'model.safetensors')) ? 'model.safetensors' : 'pytorch_model.bin'),
    ),
    ...(info ? { info } : {}),
    name,
  };
}

/** A short hash of the weights file: frontiers remember which weights they were made on. */
export function fingerprint(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex').slice(0, 16)))
      .on('error', reject);
  });
}

/** The length inputs are padded to for this model: absolute lengths and padded MACs refer to it. */
export function paddedLengthOf(model: CliModel): number {
  return model.info?.maxLength ?? (model.span ? 384 : 128);
}

export function runtimeFor(threads?: number) {
  return createNodeRuntime({ threads: threads ?? availableParallelism() });
}

export function resolveTask(model: CliModel, task?: string): TaskSpec {
  const name = task ?? model.info?.task;
  if (name === 'squad') {
    throw new LatError(
      'BAD_INPUT',
      'squad is a span task: use a SQuAD .json file (this command path is for GLUE-style data)',
      '--task',
    );
  }
  if (!name) {
    throw new LatError(
      'BAD_INPUT',
      `the model was not trained by lat train, so say which task it is (--task sst2, …)`,
      '--task',
    );
  }
  return getTask(name);
}

/** The model's frontier: --frontier <file>, or frontier.json in the model directory. */
export function loadFrontier(model: CliModel, path?: string): FrontierFile | undefined {
  const p = path ?? join(model.dir, frontierFile);
  if (!existsSync(p)) {
    if (path) throw new LatError('NOT_FOUND', 'no such frontier file; run `lat search` first', path);
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    throw new LatError('BAD_FILE', 'not valid JSON; run `lat search` to make a frontier file', p);
  }
  return parseFrontierFile(json, p, { numLayers: model.config.numLayers, fingerprint: model.fingerprint });
}

/** Writes JSON atomically: a temporary file renamed over the target. */
export function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
