export * from './examples.js';
export * from './tasks.js';
