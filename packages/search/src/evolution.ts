/**
 * The LAT evolutionary search (REFERENCE.md §1). Genes are non-increasing per-layer lengths out
 * of `maxLength`. Each iteration keeps the Pareto frontier of (cost ↓, metric ↑) over everything
 * evaluated so far and breeds mutants and crossovers from it; only configurations whose cost lies
 * between the smallest and the full model count. Seeded; results never depend on the order in
 * which concurrent evaluations finish.
 */
import { SearchError } from './errors.js';
import { frontierArea, type Point, paretoFrontier } from './pareto.js';
import { randInt, seededRandom } from './random.js';

export interface SearchOptions {
  numLayers: number;
  /** Genes are lengths in [minLength, maxLength]; for ratio-form frontiers, ratio = gene / maxLength. */
  maxLength: number;
  minLength?: number;
  /** LengthDrop's ratio bound: defines the smallest model (the lower cost bound). */
  ratioBound?: number;
  iterations?: number;
  populationSize?: number;
  mutations?: number;
  crossovers?: number;
  mutationProb?: number;
  seed?: number;
  /** How many evaluations may run at once. */
  concurrency?: number;
  /** Cost of a configuration (MACs, or latency from a table). */
  cost: (lengths: readonly number[]) => number;
  /** The metric of a configuration (higher is better), e.g. dev accuracy. */
  evaluate: (lengths: readonly number[]) => Promise<number> | number;
  onProgress?: (p: SearchProgress) => void;
}

export interface SearchProgress {
  iteration: number;
  iterations: number;
  evaluated: number;
  frontierSize: number;
  best: Point;
}

export interface SearchResult {
  frontier: Point[];
  evaluated: Point[];
  area: number;
  lowerCost: number;
  upperCost: number;
  params: Required<Omit<SearchOptions, 'cost' | 'evaluate' | 'onProgress'>>;
}

/** The smallest LengthDrop configuration: each layer keeps ceil((1 − p) · previous). */
export function smallestConfig(
  maxLength: number,
  numLayers: number,
  ratioBound: number,
  minLength: number,
): number[] {
  const out: number[] = [];
  let prev = maxLength;
  for (let i = 0; i < numLayers; i++) {
    prev = Math.max(Math.min(minLength, prev), Math.ceil(prev * (1 - ratioBound)));
    out.push(prev);
  }
  return out;
}

/** Mutation: each layer, with probability `prob`, redrawn within [next layer, previous layer]. */
export function mutate(
  parent: readonly number[],
  random: () => number,
  prob: number,
  maxLength: number,
  minLength: number,
): number[] {
  const child = [...parent];
  for (let i = 0; i < child.length; i++) {
    if (random() >= prob) continue;
    const hi = i === 0 ? maxLength : child[i - 1]!;
    const lo = i + 1 < child.length ? child[i + 1]! : minLength;
    child[i] = randInt(random, Math.min(lo, hi), hi);
  }
  return child;
}

/** Crossover: the element-wise rounded-up mean of two parents (non-increasing stays so). */
export function crossover(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => Math.floor((x + b[i]! + 1) / 2));
}

export async function evolutionarySearch(o: SearchOptions): Promise<SearchResult> {
  const params = {
    numLayers: o.numLayers,
    maxLength: o.maxLength,
    minLength: o.minLength ?? 1,
    ratioBound: o.ratioBound ?? 0.2,
    iterations: o.iterations ?? 30,
    populationSize: o.populationSize ?? 20,
    mutations: o.mutations ?? 30,
    crossovers: o.crossovers ?? 30,
    mutationProb: o.mutationProb ?? 0.5,
    seed: o.seed ?? 42,
    concurrency: o.concurrency ?? 1,
  };
  if (!Number.isInteger(params.numLayers) || params.numLayers < 1) {
    throw new SearchError(
      'BAD_CONFIG',
      `numLayers must be a whole number ≥ 1, got ${params.numLayers}`,
      'numLayers',
    );
  }
  if (!Number.isInteger(params.maxLength) || params.maxLength < params.minLength) {
    throw new SearchError(
      'BAD_CONFIG',
      `maxLength must be a whole number ≥ minLength, got ${params.maxLength}`,
      'maxLength',
    );
  }
  const random = seededRandom(params.seed);
  const full = new Array<number>(params.numLayers).fill(params.maxLength);
  const smallest = smallestConfig(params.maxLength, params.numLayers, params.ratioBound, params.minLength);
  const upperCost = o.cost(full);
  const lowerCost = o.cost(smallest);
  const cache = new Map<string, Point>();

  /** Evaluates the configurations not seen before, `concurrency` at a time, in a fixed order. */
  const evaluateAll = async (configs: number[][]) => {
    const fresh: number[][] = [];
    for (const c of configs) {
      const key = c.join(',');
      if (cache.has(key) || fresh.some((f) => f.join(',') === key)) continue;
      const cost = o.cost(c);
      if (cost < lowerCost - 1e-9 || cost > upperCost + 1e-9) continue;
      fresh.push(c);
    }
    let next = 0;
    const worker = async () => {
      while (next < fresh.length) {
        const c = fresh[next++]!;
        const metric = await o.evaluate(c);
        cache.set(c.join(','), { lengths: c, cost: o.cost(c), metric });
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, params.concurrency) }, worker));
  };

  // Initial population: smallest, full, and configurations shrinking by one uniform ratio per layer.
  const initial = [smallest, full];
  for (let k = 1; k <= params.populationSize; k++) {
    const r = 1 - (params.ratioBound * k) / (params.populationSize + 1);
    let prev = params.maxLength;
    initial.push(
      Array.from({ length: params.numLayers }, () => {
        prev = Math.max(params.minLength, Math.min(prev, Math.ceil(prev * r)));
        return prev;
      }),
    );
  }
  await evaluateAll(initial);
  const sortedPoints = () =>
    [...cache.values()].sort((a, b) => a.lengths.join(',').localeCompare(b.lengths.join(',')));

  for (let it = 0; it < params.iterations; it++) {
    const parents = paretoFrontier(sortedPoints());
    const children: number[][] = [];
    for (let m = 0; m < params.mutations; m++) {
      children.push(
        mutate(
          parents[randInt(random, 0, parents.length - 1)]!.lengths,
          random,
          params.mutationProb,
          params.maxLength,
          params.minLength,
        ),
      );
    }
    for (let c = 0; c < params.crossovers; c++) {
      const a = parents[randInt(random, 0, parents.length - 1)]!.lengths;
      const b = parents[randInt(random, 0, parents.length - 1)]!.lengths;
      children.push(crossover(a, b));
    }
    await evaluateAll(children);
    const frontier = paretoFrontier(sortedPoints());
    o.onProgress?.({
      iteration: it + 1,
      iterations: params.iterations,
      evaluated: cache.size,
      frontierSize: frontier.length,
      best: frontier.reduce((a, b) => (b.metric > a.metric ? b : a)),
    });
  }
  const evaluated = sortedPoints();
  const frontier = paretoFrontier(evaluated);
  return {
    frontier,
    evaluated,
    area: frontierArea(frontier, lowerCost, upperCost),
    lowerCost,
    upperCost,
    params,
  };
}
