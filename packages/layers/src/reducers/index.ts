export * from './adapler.js';
export * from './lat.js';
export * from './reducer.js';
