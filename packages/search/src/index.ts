export * from './budget.js';
export * from './config.js';
export * from './errors.js';
export * from './evolution.js';
export * from './frontier-file.js';
export * from './latency.js';
export * from './pareto.js';
export * from './random.js';
