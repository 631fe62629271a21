// Node-only parts of @lat/core (file system access). Browser code imports '@lat/core' alone.
export * from './io/model-dir.js';
export * from './io/safetensors.js';
