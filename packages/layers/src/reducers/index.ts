export * from './lat.js';
export * from './reducer.js';
