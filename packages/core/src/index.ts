export * from './bundle.js';
export * from './cost.js';
export * from './errors.js';
export * from './finite.js';
export * from './graph/index.js';
export * from './io/index.js';
export * from './lengths.js';
/** The ONNX protobuf schema generated from onnx.proto, for `@bufbuild/protobuf`'s `create` / `toBinary` / `fromBinary`. */
export * as onnx from './onnx/index.js';
export * from './random.js';
export * from './runtime.js';
export * from './tokenizers/index.js';
