/**
 * An AdapLeR φ sweep as a frontier file (JSON, versioned): `lat train --method adapler --phi a,b,c`
 * trains one model per length penalty φ and writes `<out>/frontier.json` with one point per φ —
 * the model's directory (relative to the file), its dev metric, mean realised MACs per input and
 * the spread of what the inputs kept per layer. A budget picks among the points (`pick`) as among
 * LAT's length configurations; the difference is that each point is a model of its own.
 */
import { LatError } from '@lat/core';
import { paretoFrontier } from './pareto.js';

export interface AdaplerFrontierPoint {
  phi: number;
  /** The model trained at this φ: a directory relative to the frontier file. */
  model: string;
  /** The dev selection metric, and every dev metric. */
  metric: number;
  metrics: Record<string, number>;
  /** Mean realised MACs per dev input, predictors included. */
  cost: number;
  /** cost / the full model's mean MACs at each input's real length (1 / macsSpeedup). */
  costRatio: number;
  macsSpeedup: number;
  /** Per layer: the mean, smallest and largest number of tokens the dev inputs kept. */
  meanKept: number[];
  minKept: number[];
  maxKept: number[];
  /** No other point scores as well at a lower cost. */
  pareto: boolean;
}

export interface AdaplerFrontierFile {
  schemaVersion: 1;
  kind: 'lat-frontier';
  method: 'adapler';
  /** The model every φ run started from. */
  model: { name: string; fingerprint: string; numLayers: number };
  dataset: string;
  metric: { name: string; higherIsBetter: true };
  costUnit: 'MACs';
  /** Mean MACs of the full model per dev input at its real (unpadded) length. */
  fullCost: number;
  meanInputLength: number;
  /** How the runs were trained (shared settings: epochs, γ, η learning rate, λ schedule, …). */
  training?: unknown;
  /** One per φ, by increasing cost. */
  points: AdaplerFrontierPoint[];
}

/** The file for a sweep's points (given without `pareto`, in any order). */
export function toAdaplerFrontierFile(
  o: Omit<AdaplerFrontierFile, 'schemaVersion' | 'kind' | 'method' | 'points' | 'costUnit'> & {
    points: Omit<AdaplerFrontierPoint, 'pareto'>[];
  },
): AdaplerFrontierFile {
  const front = new Set(paretoFrontier(o.points));
  return {
    schemaVersion: 1,
    kind: 'lat-frontier',
    method: 'adapler',
    ...o,
    costUnit: 'MACs',
    points: [...o.points]
      .sort((a, b) => a.cost - b.cost || a.phi - b.phi)
      .map((p) => ({ ...p, pareto: front.has(p) })),
  };
}

/** Whether a parsed frontier file is an AdapLeR sweep's (it names its method). */
export const isAdaplerFrontier = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && (value as { method?: unknown }).method === 'adapler';

/** Validates a parsed AdapLeR frontier file; errors name `where`#field and the fix, in one line. */
export function parseAdaplerFrontierFile(value: unknown, where = 'frontier.json'): AdaplerFrontierFile {
  const fail = (path: string, msg: string): never => {
    throw new LatError('BAD_FRONTIER', msg, `${where}#${path}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return fail('', 'not a JSON object');
  const f = value as Record<string, unknown>;
  if (f['kind'] !== 'lat-frontier')
    fail(
      'kind',
      'expected "lat-frontier"; is this a frontier file made by `lat train --method adapler --phi …`?',
    );
  if (f['method'] !== 'adapler')
    fail(
      'method',
      `expected "adapler", got ${JSON.stringify(f['method'])}; LAT frontiers are read by \`lat search\`'s loader`,
    );
  if (f['schemaVersion'] !== 1)
    fail('schemaVersion', `this version reads schema 1, got ${JSON.stringify(f['schemaVersion'])}`);
  const model = f['model'] as Record<string, unknown> | undefined;
  const layers = model?.['numLayers'];
  if (typeof layers !== 'number' || !Number.isInteger(layers) || layers < 1)
    fail('model.numLayers', 'must be a whole number ≥ 1');
  const metric = f['metric'] as Record<string, unknown> | undefined;
  if (typeof metric?.['name'] !== 'string') fail('metric.name', 'must be a string');
  for (const k of ['fullCost', 'meanInputLength']) if (!isPositive(f[k])) fail(k, 'must be a number > 0');
  const points = f['points'];
  if (!Array.isArray(points) || points.length === 0) return fail('points', 'must be a non-empty array');
  const phis = new Set<number>();
  points.forEach((p: unknown, i) => {
    const at = `points[${i}]`;
    if (typeof p !== 'object' || p === null) return fail(at, 'must be an object');
    const q = p as Record<string, unknown>;
    if (typeof q['phi'] !== 'number' || !(q['phi'] >= 0)) fail(`${at}.phi`, 'must be a length penalty ≥ 0');
    if (phis.has(q['phi'] as number)) fail(`${at}.phi`, `φ ${q['phi']} appears twice; one point per φ`);
    phis.add(q['phi'] as number);
    const dir = q['model'];
    if (typeof dir !== 'string' || dir === '' || dir.startsWith('/') || dir.split(/[\\/]/).includes('..'))
      fail(
        `${at}.model`,
        'must be a model directory inside the sweep directory (a relative path without ..)',
      );
    for (const k of ['cost', 'costRatio', 'macsSpeedup'])
      if (!isPositive(q[k])) fail(`${at}.${k}`, 'must be a number > 0');
    if (typeof q['metric'] !== 'number' || !Number.isFinite(q['metric']))
      fail(`${at}.metric`, 'must be a number');
    for (const k of ['meanKept', 'minKept', 'maxKept']) {
      const v = q[k];
      if (!Array.isArray(v) || v.length !== layers || v.some((x) => typeof x !== 'number' || !(x >= 0)))
        fail(`${at}.${k}`, `must hold one count ≥ 0 per layer (${layers})`);
    }
  });
  return value as AdaplerFrontierFile;
}

const isPositive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
