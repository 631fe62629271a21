export * from './decode.js';
export * from './squad-eval.js';
export * from './squad-metrics.js';
