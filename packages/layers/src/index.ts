export * from './anytime.js';
export * from './architectures/index.js';
export * from './batches.js';
export type { Blocks } from './blocks/context.js';
export { dimOf, gatherRows, range } from './blocks/rows.js';
export * from './encoder.js';
export * from './quantize.js';
export * from './reducers/index.js';
export * from './training.js';
