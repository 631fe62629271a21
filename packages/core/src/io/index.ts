export * from './config.js';
export * from './weights.js';
