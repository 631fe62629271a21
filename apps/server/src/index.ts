/** `lat serve`: a length-adaptive model over HTTP, trading accuracy for latency under load. */
export { HttpError, type LatServer, type ServerHooks, startServer } from './app.js';
export { Batcher, type BatcherOptions, type QueuedJob } from './batcher.js';
export { Controller, type LatencyFit, measureLatencyTable, type QueueState } from './controller.js';
export { type BatchWork, type InferenceModel, type ModelInfo, startInference } from './inference.js';
export { type Candidate, frontierCandidates, loadServedModel, type ServedModel } from './model.js';
export { openApiDocument } from './openapi.js';
export {
  defaultLimits,
  parseDurationMs,
  type ServeLimits,
  type ServeOptions,
  serveOptions,
} from './options.js';
export { logLine, serve } from './serve.js';
