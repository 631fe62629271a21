export * from './errors.js';
export { onnx } from './onnx-proto.js';
export * from './runtime.js';
