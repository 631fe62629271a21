/**
 * The LAT evolutionary search (REFERENCE.md §1). Genes are non-increasing per-layer lengths out
 * of `maxLength`. Each iteration keeps the Pareto frontier of (cost ↓, metric ↑) over everything
 * evaluated so far and breeds from it, as the reference does: it keeps drawing until `mutations`
 * new valid mutants and `crossovers` new valid crossovers (of two distinct parents) were added —
 * a child counts when it was never seen and its cost lies between the smallest and the full
 * model — and children join the parent pool as they are added. Seeded; results never depend on
 * the order in which concurrent evaluations finish.
 */
import { LatError, lengthDefaults, Rng, smallestLengths } from '@lat/core';
import { frontierArea, type Point, paretoFrontier } from './pareto.js';

/** Options of `evolutionarySearch`: the search space, its budget, and the injected cost and metric. */
export interface SearchOptions {
  numLayers: number;
  /** Genes are lengths in [minLength, maxLength]; for ratio-form frontiers, ratio = gene / maxLength. */
  maxLength: number;
  /** Smallest length of any layer (the reference's last-layer minimum, 2, by default). */
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
  /**
   * Checkpointing: `save` gets the search's state after every evaluation (write it atomically);
   * `resume` continues from a saved state, giving exactly the result of an uninterrupted search.
   */
  checkpoint?: { resume?: SearchState; save: (state: SearchState) => void };
}

/**
 * Where a search stands, to resume it exactly. Rounds: the initial population, then each
 * iteration. Breeding is replayed from the Rng state and the points of the finished rounds, so the
 * same children come out; the metrics already measured for them are taken from `pending`.
 */
export interface SearchState {
  kind: 'lat-search-state';
  /** The search's parameters: a state resumes only the search it was saved by. */
  params: SearchResult['params'];
  /** Rounds finished: 0 none, 1 the initial population, 1 + k after k iterations. */
  rounds: number;
  /** The Rng's state words when the last finished round ended. */
  rng: number[];
  /** Every configuration evaluated in the finished rounds, in sorted order. */
  evaluated: { lengths: number[]; metric: number }[];
  /** Configurations of the round under way already evaluated (a kill loses none of them). */
  pending: { lengths: number[]; metric: number }[];
}

/** Reported after each iteration. */
export interface SearchProgress {
  iteration: number;
  iterations: number;
  evaluated: number;
  /** New children this iteration (fewer than asked only when the space ran out). */
  added: { mutants: number; crossovers: number };
  frontierSize: number;
  best: Point;
}

/** The Pareto frontier found and every configuration evaluated. */
export interface SearchResult {
  frontier: Point[];
  evaluated: Point[];
  area: number;
  lowerCost: number;
  upperCost: number;
  params: Required<Omit<SearchOptions, 'cost' | 'evaluate' | 'onProgress' | 'checkpoint'>>;
}

/** Uniform integer in [lo, hi]. */
function randInt(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

/**
 * Two different indices in [0, n), uniform over ordered pairs: a crossover's parents, which the
 * reference draws without replacement (a parent crossed with itself would be wasted on a duplicate).
 */
export function distinctParents(random: () => number, n: number): [number, number] {
  const a = randInt(random, 0, n - 1);
  const b = randInt(random, 0, n - 2);
  return [a, b >= a ? b + 1 : b];
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

/** Draws per child before a search decides its space is exhausted. */
const maxAttemptsPerChild = 200;

/** The LAT evolutionary search: from a seeded population, keep the Pareto frontier of (cost ↓, metric ↑) and breed mutants and crossovers of it for `iterations` rounds. */
export async function evolutionarySearch(o: SearchOptions): Promise<SearchResult> {
  const params = {
    numLayers: o.numLayers,
    maxLength: o.maxLength,
    minLength: o.minLength ?? lengthDefaults.minLength,
    ratioBound: o.ratioBound ?? lengthDefaults.ratioBound,
    iterations: o.iterations ?? 30,
    populationSize: o.populationSize ?? 20,
    mutations: o.mutations ?? 30,
    crossovers: o.crossovers ?? 30,
    mutationProb: o.mutationProb ?? 0.5,
    seed: o.seed ?? 42,
    concurrency: o.concurrency ?? 1,
  };
  if (!Number.isInteger(params.numLayers) || params.numLayers < 1) {
    throw new LatError(
      'BAD_CONFIG',
      `numLayers must be a whole number ≥ 1, got ${params.numLayers}`,
      'numLayers',
    );
  }
  if (!Number.isInteger(params.maxLength) || params.maxLength < params.minLength) {
    throw new LatError(
      'BAD_CONFIG',
      `maxLength must be a whole number ≥ minLength, got ${params.maxLength}`,
      'maxLength',
    );
  }
  const resume = o.checkpoint?.resume;
  if (resume && JSON.stringify(resume.params) !== JSON.stringify(params))
    throw new LatError(
      'RUN_MISMATCH',
      `the saved search state was made with other parameters (${JSON.stringify(resume.params)})`,
      'checkpoint',
    );
  let rng = new Rng(params.seed);
  const random = () => rng.next();
  const full = new Array<number>(params.numLayers).fill(params.maxLength);
  const smallest = smallestLengths(params.maxLength, params.numLayers, params);
  const upperCost = o.cost(full);
  const lowerCost = o.cost(smallest);
  if (!(upperCost >= lowerCost))
    throw new LatError(
      'BAD_CONFIG',
      `the full model costs ${upperCost}, less than the smallest configuration (${lowerCost}): the cost must not fall as lengths grow`,
      'cost',
    );
  const cache = new Map<string, Point>();
  /** Metrics measured in the round under way (saved in `pending`; a resumed round reads them back). */
  const pending = new Map<string, number>(resume?.pending.map((p) => [p.lengths.join(','), p.metric]));
  let rounds = 0;
  let roundRng = rng.state();
  let roundPoints: SearchState['evaluated'] = [];
  const save = () =>
    o.checkpoint?.save({
      kind: 'lat-search-state',
      params,
      rounds,
      rng: roundRng,
      evaluated: roundPoints,
      pending: [...pending].map(([k, metric]) => ({ lengths: k.split(',').map(Number), metric })),
    });
  /** A round is over: its points join the finished ones and the state moves past it. */
  const finishRound = () => {
    rounds++;
    roundRng = rng.state();
    roundPoints = sortedPoints().map((p) => ({ lengths: [...p.lengths], metric: p.metric }));
    pending.clear();
    save();
  };

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
        const key = c.join(',');
        let metric = pending.get(key);
        if (metric === undefined) {
          metric = await o.evaluate(c);
          pending.set(key, metric);
          save();
        }
        cache.set(key, { lengths: c, cost: o.cost(c), metric });
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, params.concurrency) }, worker));
  };
  const sortedPoints = () =>
    [...cache.values()].sort((a, b) => a.lengths.join(',').localeCompare(b.lengths.join(',')));

  // Initial population: smallest, full, and configurations of one uniform drop ratio per layer
  // whose costs are evenly spaced between them (the reference spaces an approximate cost, the mean
  // length; we space the cost being searched).
  const uniform = (x: number) =>
    smallestLengths(params.maxLength, params.numLayers, { ratioBound: x, minLength: params.minLength });
  const initial = [smallest, full];
  for (let k = 1; k <= params.populationSize; k++) {
    const target = lowerCost + ((upperCost - lowerCost) * k) / (params.populationSize + 1);
    let lo = 0; // cost(uniform(lo)) ≥ target > cost(uniform(hi)), costs fall as x grows
    let hi = params.ratioBound;
    for (let step = 0; step < 40; step++) {
      const mid = (lo + hi) / 2;
      if (o.cost(uniform(mid)) >= target) lo = mid;
      else hi = mid;
    }
    initial.push(uniform(lo));
  }
  if (resume && resume.rounds > 0) {
    for (const p of resume.evaluated)
      cache.set(p.lengths.join(','), { lengths: p.lengths, cost: o.cost(p.lengths), metric: p.metric });
    rounds = resume.rounds;
    rng = new Rng(resume.rng);
    roundRng = rng.state();
    roundPoints = resume.evaluated;
  } else {
    await evaluateAll(initial);
    finishRound();
  }

  const inBounds = (c: readonly number[]) => {
    const cost = o.cost(c);
    return cost >= lowerCost - 1e-9 && cost <= upperCost + 1e-9;
  };
  for (let it = rounds - 1; it < params.iterations; it++) {
    const pool = paretoFrontier(sortedPoints()).map((p) => p.lengths);
    const children: number[][] = [];
    const taken = new Set(cache.keys());
    /** Draws with `make` until `target` new valid children were added (or the space runs out). */
    const breed = (target: number, make: () => number[] | undefined) => {
      let added = 0;
      for (let attempt = 0; added < target && attempt < target * maxAttemptsPerChild; attempt++) {
        const child = make();
        if (!child || taken.has(child.join(',')) || !inBounds(child)) continue;
        taken.add(child.join(','));
        children.push(child);
        pool.push(child);
        added++;
      }
      return added;
    };
    const mutants = breed(params.mutations, () =>
      mutate(
        pool[randInt(random, 0, pool.length - 1)]!,
        random,
        params.mutationProb,
        params.maxLength,
        params.minLength,
      ),
    );
    const crossovers = breed(params.crossovers, () => {
      if (pool.length < 2) return undefined;
      const [a, b] = distinctParents(random, pool.length);
      return crossover(pool[a]!, pool[b]!);
    });
    await evaluateAll(children);
    finishRound();
    const frontier = paretoFrontier(sortedPoints());
    o.onProgress?.({
      iteration: it + 1,
      iterations: params.iterations,
      evaluated: cache.size,
      added: { mutants, crossovers },
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
