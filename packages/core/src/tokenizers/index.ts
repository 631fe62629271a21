export * from './tokenizer-json.js';
export * from './wordpiece.js';
