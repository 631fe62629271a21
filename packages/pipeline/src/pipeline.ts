/**
 * pipeline(): load a model once, then call it at any budget. The Node and browser entry points
 * differ only in how a string source is read (a directory vs a URL) and which runtime is the default.
 */
import { LatError, type Runtime, type SessionOptions } from '@lat/core';
import {
  type AnytimeModel,
  adaplerEta,
  adaplerReducer,
  checkAdaplerWeights,
  createAnytimeModel,
  dtypeFingerprint,
  hasAdaplerWeights,
  type LatSetting,
  type ModelDtype,
  parseModelDtype,
  type TokenReducer,
} from '@lat/layers';
import { type FrontierFile, parseFrontierFile } from '@lat/search';
import { type BundleFiles, bundleModel, readBundle } from './bundle.js';
import type { PipelineBase } from './loaded.js';
import { isModelFiles, type ModelFiles } from './model.js';
import { createQuestionAnswering, type QuestionAnsweringPipeline } from './question-answering.js';
import { createTextClassification, type TextClassificationPipeline } from './text-classification.js';

export type PipelineTask = 'text-classification' | 'question-answering';

/**
 * Where the model comes from. A string is a directory in Node (a Hugging Face model directory, or
 * a bundle directory with lat.json + model.onnx) and a bundle's URL in browsers; `BundleFiles` is
 * a bundle's bytes; `ModelFiles` a model already in memory.
 */
export type ModelSource = string | BundleFiles | ModelFiles;

export interface PipelineOptions {
  /** The ONNX runtime to run on; default onnxruntime-node in Node, onnxruntime-web in browsers. */
  runtime?: Runtime;
  /** Session settings, e.g. `{ threads: 1 }` or `{ executionProviders: ['webgpu'] }`. */
  session?: SessionOptions;
  /** A frontier file's content, replacing the model's own (for `{ budget }` calls). */
  frontier?: unknown;
  /**
   * 'q8': the encoder's matrix products in int8 (weights quantised per channel when the graph is
   * built, activations at run time), with the q8 graph's own frontier; 'fp32' (the default for
   * model directories). A bundle runs the graph it was exported with (`lat export --quantize int8`
   * for q8); asking it for the other dtype is an error.
   */
  dtype?: ModelDtype;
  /** Longest input in tokens; default: what the model was trained or exported with. */
  maxLength?: number;
  /** Inputs (or QA windows) run together in one padded batch; default 32 (QA: 8). */
  batchSize?: number;
  /** Question answering: tokens between the starts of consecutive windows of a long context. */
  docStride?: number;
  /** Question answering: questions are cut to this many tokens (default 64). */
  maxQueryLength?: number;
  /** Question answering: longest answer in tokens (default 30). */
  maxAnswerLength?: number;
  /**
   * Question answering (SQuAD v2 models): answer '' when the null score beats the best span by
   * more than this; default the threshold tuned at training (lat_training.json), else never.
   */
  nullThreshold?: number;
}

export interface PipelineByTask {
  'text-classification': TextClassificationPipeline;
  'question-answering': QuestionAnsweringPipeline;
}

/** What an entry point (Node or browser) supplies. */
export interface Host {
  /** Reads a string source for a task. */
  read(source: string, task: PipelineTask): Promise<ModelFiles>;
  defaultRuntime(): Promise<Runtime>;
}

/**
 * Loads a model for a task — `pipeline('text-classification', source)` or
 * `pipeline('question-answering', source)` — to be called with `{ budget }`, `{ latencyMs }`,
 * `{ ratios }` or `{ lengths }`.
 */
export type Pipeline = <T extends PipelineTask>(
  task: T,
  source: ModelSource,
  options?: PipelineOptions,
) => Promise<PipelineByTask[T]>;

/** The `pipeline` function of an entry point. */
export function pipelineOn(host: Host): Pipeline {
  return (task, source, options) => createPipeline(host, task, source, options);
}

async function createPipeline<T extends PipelineTask>(
  host: Host,
  task: T,
  source: ModelSource,
  options: PipelineOptions = {},
): Promise<PipelineByTask[T]> {
  if (task !== 'text-classification' && task !== 'question-answering') {
    throw new LatError(
      'UNSUPPORTED',
      `unknown task '${String(task)}'; use 'text-classification' or 'question-answering'`,
      'task',
    );
  }
  const files = await modelFiles(host, task, source);
  const span = task === 'question-answering';
  checkTask(files, span);
  const dtype = dtypeOf(files, options.dtype);
  // A model directory's q8 graph is built here from its fp32 weights: its frontier is the q8 one.
  const built = files.graph === undefined;
  const frontierJson = options.frontier ?? (built && dtype === 'q8' ? files.q8Frontier : files.frontier);
  const fingerprint =
    files.fingerprint && (built ? dtypeFingerprint(files.fingerprint, dtype) : files.fingerprint);
  const frontier: FrontierFile | undefined =
    frontierJson === undefined
      ? undefined
      : parseFrontierFile(
          frontierJson,
          options.frontier !== undefined ? 'frontier' : `${files.name}: frontier`,
          {
            numLayers: files.config.numLayers,
            ...(fingerprint ? { fingerprint } : {}),
          },
        );
  const runtime = options.runtime ?? (await host.defaultRuntime());
  const model = await openModel(runtime, files, span, dtype, options.session);
  const positions = files.config.maxPositions - files.config.positionOffset;
  const maxLength = Math.min(options.maxLength ?? files.maxLength ?? (span ? 384 : 128), positions);
  // The session holds the weights now: keep only the description, so weights and graph bytes can be freed.
  const { weights: _weights, graph: _graph, ...described } = files;
  const base: PipelineBase = { files: described, runtime, model, frontier, maxLength, options, dtype };
  return (span ? createQuestionAnswering(base) : createTextClassification(base)) as PipelineByTask[T];
}

/** In-memory weights with AdapLeR's predictors and η are an AdapLeR model, said or not. */
function withAdapler(files: ModelFiles): ModelFiles {
  if (files.adapler || !files.weights || !hasAdaplerWeights(files.weights)) return files;
  checkAdaplerWeights(files.weights, files.config, files.name);
  return { ...files, adapler: { eta: adaplerEta(files.weights) } };
}

async function modelFiles(host: Host, task: PipelineTask, source: ModelSource): Promise<ModelFiles> {
  if (typeof source === 'string') return host.read(source, task);
  if (typeof source === 'object' && source !== null) {
    if (isModelFiles(source)) return withAdapler(source);
    if ('manifest' in source && 'model' in source) return bundleModel(await readBundle(source));
  }
  throw new LatError(
    'BAD_INPUT',
    'give a model directory (Node), a bundle URL (browsers), { manifest, model } bundle bytes, or a model in memory',
    'source',
  );
}

/** The dtype the pipeline runs in: the one asked for (weights), or the bundle's, which must match it. */
function dtypeOf(files: ModelFiles, asked: unknown): ModelDtype {
  const wanted = asked === undefined ? undefined : parseModelDtype(asked, 'dtype');
  if (files.graph === undefined) return wanted ?? 'fp32';
  const has = files.dtype ?? 'fp32';
  if (wanted && wanted !== has)
    throw new LatError(
      'BAD_INPUT',
      `${files.name} is an exported ${has} graph and cannot run as ${wanted}; ${
        wanted === 'q8'
          ? "export a q8 bundle with `lat export --quantize int8`, or load the model directory with { dtype: 'q8' }"
          : 'export the bundle again without --quantize, or load the model directory'
      }`,
      'dtype',
    );
  return has;
}

function checkTask(files: ModelFiles, span: boolean) {
  const other = span ? "pipeline('text-classification', …)" : "pipeline('question-answering', …)";
  if (files.task !== undefined && (files.task === 'span') !== span) {
    throw new LatError(
      'BAD_INPUT',
      `${files.name} is a ${files.task === 'span' ? 'question-answering' : files.task} model; use ${other}`,
      'task',
    );
  }
  if (files.weights) {
    const head = span ? 'qa_outputs.' : 'classifier.';
    if (![...files.weights.keys()].some((n) => n.startsWith(head))) {
      throw new LatError(
        'MISSING_TENSORS',
        `the checkpoint has no ${span ? 'question-answering' : 'classification'} head (${head}*); fine-tune it for the task first (lat train)`,
        files.name,
      );
    }
  }
  if (files.adapler && span)
    throw new LatError(
      'UNSUPPORTED',
      `${files.name} is an AdapLeR model, which lat trains for text classification; use pipeline('text-classification', …)`,
      'task',
    );
  if (!files.weights && !files.graph)
    throw new LatError('BAD_INPUT', 'the model has neither weights nor an ONNX graph', files.name);
}

async function openModel(
  runtime: Runtime,
  files: ModelFiles,
  span: boolean,
  dtype: ModelDtype,
  session: SessionOptions | undefined,
): Promise<AnytimeModel> {
  return createAnytimeModel(runtime, files.config, files.weights ?? new Map(), {
    head: span ? 'span' : 'classification',
    keptPositions: true,
    dtype,
    ...(files.graph ? { model: files.graph } : {}),
    ...(session ? { session } : {}),
    // AdapLeR: hard per-input removal by the predictors (no length setting to feed).
    ...(files.adapler
      ? { reducer: adaplerReducer as TokenReducer<unknown> as TokenReducer<LatSetting> }
      : {}),
  });
}
