export * from './cache.js';
export * from './examples.js';
export * from './tasks.js';
