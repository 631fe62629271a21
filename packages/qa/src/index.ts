export * from './answerer.js';
export * from './anytime-span.js';
export * from './decode.js';
export * from './features.js';
export * from './long-context.js';
export * from './squad.js';
export * from './squad-eval.js';
export * from './squad-metrics.js';
