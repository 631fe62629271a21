export * from './data/index.js';
export * from './metrics.js';
export * from './schedule.js';
