export * from './bpe.js';
export * from './spec.js';
export * from './tokenizer.js';
export * from './tokenizer-json.js';
export * from './wordpiece.js';
