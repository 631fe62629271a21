export * from './tensors.js';
