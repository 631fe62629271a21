export * from './data/index.js';
export * from './metrics.js';
export * from './optim.js';
export * from './rng.js';
export * from './schedule.js';
