// Node-only parts of @lat/core (file system access). Browser code imports '@lat/core' alone.
export * from './io/files.js';
export * from './io/hf-cache.js';
export * from './io/json.js';
export * from './io/pickle.js';
export * from './io/safetensors.js';
export * from './io/torch-bin.js';
export * from './io/zip.js';
