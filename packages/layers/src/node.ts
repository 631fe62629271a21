// Node-only parts of @lat/layers (file system access).
export * from './export.js';
export * from './model-dir.js';
