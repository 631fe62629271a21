/** Loading a model directory (or a bundle, for predict and eval) the way every command needs it. */
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { bundleManifestFile, LatError, type Runtime } from '@lat/core';
import { readJson, writeFileAtomic } from '@lat/core/node';
import type { KdDirection, ModelDtype } from '@lat/layers';
import { createRandomWeights, dtypeFingerprint } from '@lat/layers';
import { bundleModel, pipeline } from '@lat/pipeline';
import {
  frontierFileFor,
  type ModelDir,
  modelDirFiles,
  type TrainingInfo as PipelineTrainingInfo,
  readBundleDir,
  readFrontierJson,
  readModelDir,
  trainingInfoFile,
} from '@lat/pipeline/node';
import { createNodeRuntime, hasOnnxruntimeNode, installOnnxruntimeNode } from '@lat/runtime-node';
import { createWebRuntime } from '@lat/runtime-web';
import { type FrontierFile, parseFrontierFile } from '@lat/search';
import { type BestEpoch, bestCheckpointDirName, checkpointDirName } from '@lat/train';
import type { AdaplerRun } from './commands/adapler.js';

export { frontierFile, frontierFileFor, trainingInfoFile } from '@lat/pipeline/node';

/** What `lat train` records next to the weights (lat_training.json), with the recipe typed. */
export interface TrainingInfo extends PipelineTrainingInfo {
  /** How the weights were trained (absent in files written before it was recorded). */
  recipe?: TrainingRecipe;
}

/** The training choices that change results (REFERENCE.md §1), recorded with the model. */
export interface TrainingRecipe {
  method: 'lengthdrop' | 'plain' | 'adapler' | 'pooling';
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
  /** AdapLeR's hyper-parameters and where its saliency targets came from. */
  adapler?: AdaplerRun['recipe'];
  /** Pooling on span QA: the weight of the auxiliary scorer loss, when one was used. */
  scorerLoss?: number;
}

export type CliModel = Omit<ModelDir, 'info'> & { info?: TrainingInfo };

/**
 * What eval reads of a model besides running it: all of it for a model directory (a CliModel);
 * a bundle gives its config, tokenizer, task and lengths, but no training record.
 */
export type ModelView = Pick<CliModel, 'config' | 'tokenizer' | 'span'> & {
  info?: Partial<Pick<TrainingInfo, 'maxLength' | 'task' | 'nullThreshold' | 'recipe'>>;
};

/** Present while a `lat train` into the directory has not finished (interrupted, or running). */
export const incompleteFile = 'lat_incomplete.json';

/** How far `lat train` into `dir` got: a finished model, a checkpoint to resume from, or nothing. */
export function trainingState(dir: string): 'finished' | 'checkpoint' | 'none' {
  if (
    existsSync(join(dir, 'model.safetensors')) &&
    existsSync(join(dir, trainingInfoFile)) &&
    !existsSync(join(dir, incompleteFile))
  )
    return 'finished';
  // A checkpoint, or one left between its renames by a kill (loadCheckpoint picks the newest).
  return existsSync(dir) &&
    readdirSync(dir).some((n) => n.startsWith(checkpointDirName) && n !== bestCheckpointDirName)
    ? 'checkpoint'
    : 'none';
}

/** Global loading switches (`--allow-unused`) and where warnings go; set by the program. */
export const loading: { allowUnused: boolean; warn: (line: string) => void } = {
  allowUnused: false,
  warn: (line) => process.stderr.write(`lat: warning: ${line}\n`),
};

/**
 * Loads a model directory. Span (SQuAD) models — trained by `lat train --task squad`, or loaded
 * with `span` for such training — get a span head, freshly initialised when the checkpoint has none.
 */
export async function loadCliModel(dir: string, o: { span?: boolean } = {}): Promise<CliModel> {
  const incomplete = join(dir, incompleteFile);
  if (existsSync(incomplete)) {
    const why = (readJson(incomplete) as { reason?: string }).reason ?? 'its training did not finish';
    throw new LatError(
      'INTERRUPTED',
      `this model is incomplete (${why}); finish it with lat train --resume --out ${dir} (same arguments)`,
      dir,
    );
  }
  const m = await readModelDir(dir, {
    ...o,
    unused: {
      allowUnused: loading.allowUnused,
      onUnused: (names) =>
        loading.warn(
          `${dir}: ignoring ${names.length} tensors config.json has no place for (${names[0]}, …)`,
        ),
    },
  });
  if (m.span && !m.weights.has('qa_outputs.weight')) {
    const fresh = createRandomWeights(m.config, 1, { qa: true, classifier: false });
    for (const n of ['qa_outputs.weight', 'qa_outputs.bias']) m.weights.set(n, fresh.get(n)!);
  }
  return m as CliModel;
}

/** The length inputs are padded to for this model: absolute lengths and padded MACs refer to it. */
export function paddedLengthOf(model: ModelView): number {
  return model.info?.maxLength ?? (model.span ? 384 : 128);
}

let warnedWasm = false;

/**
 * onnxruntime-node when it is installed (an optional peer: its install script downloads CUDA
 * libraries on Linux x64, so a plain `npm i -g @lat/cli` leaves it out); else onnxruntime-web's
 * wasm backend, which runs everywhere, more slowly. The fallback is said once, on stderr.
 */
export function runtimeFor(threads?: number) {
  const options = { threads: threads ?? availableParallelism() };
  if (hasOnnxruntimeNode()) return createNodeRuntime(options);
  if (!warnedWasm) {
    warnedWasm = true;
    process.stderr.write(
      `lat: onnxruntime-node is not installed, running on onnxruntime-web (wasm, slower); for native speed: ${installOnnxruntimeNode}\n`,
    );
  }
  return createWebRuntime(options);
}

/**
 * The model as a pipeline (question answering for span models), at the frontier given, in fp32 or
 * q8, on `runtime` (default: {@link runtimeFor} the threads).
 */
export function openPipeline(
  model: CliModel,
  o: {
    threads?: number;
    frontier?: FrontierFile;
    maxLength?: number;
    dtype?: ModelDtype;
    runtime?: Runtime;
  } = {},
) {
  const options = {
    runtime: o.runtime ?? runtimeFor(o.threads),
    ...(o.frontier ? { frontier: o.frontier } : {}),
    ...(o.maxLength ? { maxLength: o.maxLength } : {}),
    ...(o.dtype ? { dtype: o.dtype } : {}),
  };
  const files = modelDirFiles(model);
  return model.span
    ? pipeline('question-answering', files, options)
    : pipeline('text-classification', files, options);
}

/**
 * A model directory or a bundle directory (lat.json + model.onnx, from `lat export`) as a
 * pipeline; --frontier replaces the model's own frontier.
 */
export async function openModelOrBundle(
  path: string,
  o: { threads?: number; frontier?: string; maxLength?: number; dtype?: ModelDtype },
) {
  return (await openModelView(path, o)).pipeline;
}

/** {@link openModelOrBundle}'s pipeline, and what the model directory or bundle says of the model. */
export async function openModelView(
  path: string,
  o: { threads?: number; frontier?: string; maxLength?: number; dtype?: ModelDtype },
): Promise<{ model: ModelView; pipeline: Awaited<ReturnType<typeof openPipeline>> }> {
  if (!existsSync(join(path, bundleManifestFile))) {
    const model = await loadCliModel(path);
    const p = await openPipeline(model, { ...o, frontier: loadFrontier(model, o.frontier, o.dtype) });
    return { model, pipeline: p };
  }
  const files = bundleModel(await readBundleDir(path));
  const options = {
    runtime: runtimeFor(o.threads),
    ...(o.frontier ? { frontier: readFrontierJson(path, o.frontier) } : {}),
    ...(o.maxLength ? { maxLength: o.maxLength } : {}),
    ...(o.dtype ? { dtype: o.dtype } : {}),
  };
  const span = files.task === 'span';
  const model: ModelView = {
    config: files.config,
    tokenizer: files.tokenizer,
    span,
    info: {
      maxLength: files.maxLength!,
      ...(files.nullThreshold !== undefined ? { nullThreshold: files.nullThreshold } : {}),
    },
  };
  const p = span
    ? await pipeline('question-answering', files, options)
    : await pipeline('text-classification', files, options);
  return { model, pipeline: p };
}

/**
 * The model's frontier for a dtype: --frontier <file>, or the model directory's frontier.json
 * (fp32) or frontier-q8.json (q8) — a frontier searched on the other dtype is refused.
 */
export function loadFrontier(
  model: CliModel,
  path?: string,
  dtype: ModelDtype = 'fp32',
): FrontierFile | undefined {
  const json = readFrontierJson(model.dir, path, dtype);
  if (json === undefined) return undefined;
  return parseFrontierFile(json, path ?? join(model.dir, frontierFileFor(dtype)), {
    numLayers: model.config.numLayers,
    fingerprint: dtypeFingerprint(model.fingerprint, dtype),
  });
}

/** Writes JSON atomically: a temporary file renamed over the target. */
export function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
