export * from './squad-metrics.js';
