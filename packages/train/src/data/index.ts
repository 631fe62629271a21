export * from './cache.js';
export * from './examples.js';
export * from './split.js';
export * from './tasks.js';
