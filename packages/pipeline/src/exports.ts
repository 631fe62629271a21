// What both entry points (Node and browser) export besides `pipeline` itself.
export {
  type BundleFiles,
  bundleFromFiles,
  bundleModel,
  configFromManifest,
  fetchBundle,
  type LoadedBundle,
  readBundle,
  tokenizerFromManifest,
} from './bundle.js';
export {
  inputMacs,
  type LengthOptions,
  macsAt,
  pointLengths,
  refuseAdaplerLengths,
  resolveLengths,
} from './lengths.js';
export type { PipelineMembers } from './loaded.js';
export type { ModelFiles, ModelTask } from './model.js';
export type { ModelSource, Pipeline, PipelineByTask, PipelineOptions, PipelineTask } from './pipeline.js';
export type { QuestionAnswer, QuestionAnsweringPipeline, QuestionInput } from './question-answering.js';
export {
  type Classification,
  softmax,
  type TextClassificationPipeline,
  type TextInput,
} from './text-classification.js';
