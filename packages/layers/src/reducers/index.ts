export * from './adapler.js';
export * from './axformer.js';
export * from './lat.js';
export * from './pooling.js';
export * from './reducer.js';
