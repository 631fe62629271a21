export * from './autodiff.js';
export * from './graph.js';
export * from './inline.js';
export * from './pooling.js';
export * from './serialize.js';
