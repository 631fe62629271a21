export * from './adapler-frontier.js';
export * from './axformer.js';
export * from './budget.js';
export * from './compare-report.js';
export * from './config.js';
// mutate and crossover are the search's internals (tested in place), not API.
export {
  evolutionarySearch,
  type SearchOptions,
  type SearchProgress,
  type SearchResult,
  type SearchState,
} from './evolution.js';
export * from './frontier-file.js';
export * from './latency.js';
export * from './pareto.js';
