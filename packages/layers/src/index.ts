export * from './anytime.js';
export * from './batches.js';
export * from './encoder.js';
export * from './length-drop.js';
export * from './lengths.js';
export * from './training.js';
