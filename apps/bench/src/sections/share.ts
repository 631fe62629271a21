/**
 * The realised share of the MACs saving (issue 26): lat's speed-up at a reduced length over the
 * plain graph, divided by the speed-up the cost model (`encoderMacs`) predicts. Plain, lat at full
 * length and lat at every layer keeping r of the tokens run in turn, in a fresh random order per
 * step (`alternating`), so every ratio compares runs made under the same load. With
 * `--share-compare <checkout>` the anytime graph built by another checkout's `@lat/layers` (same
 * weights) runs in the same turns: a before/after in one run.
 */
import { join, resolve } from 'node:path';
import { encoderMacs, LatError, type Runtime, type StateDict } from '@lat/core';
import { createAnytimeModel, createRandomWeights, type ModelConfig } from '@lat/layers';
import type { Report } from '../report.js';
import {
  alternating,
  batchOf,
  chosen,
  configOf,
  cpuMs,
  everyLayer,
  flag,
  keepRatios,
  median,
  plainAndLat,
  type RoundTimes,
  type Size,
  spread,
  threads,
  turns,
} from '../setup.js';

/** Another checkout's graph builder, for the before/after columns. */
type BuildGraph = (c: ModelConfig, w: StateDict) => Uint8Array;

async function otherBuild(dir: string): Promise<BuildGraph> {
  const root = resolve(dir);
  const layers = await import(join(root, 'packages/layers/dist/index.js'));
  const core = await import(join(root, 'packages/core/dist/index.js'));
  return (c, w) => core.toModelProto(layers.buildAnytimeGraph(c, w, { keptPositions: false }));
}

/** Per round: plain / config, ÷ the MACs speed-up, from the medians and from the fastest runs. */
function shares(ms: RoundTimes, config: string, macs: number): { median: number[]; fastest: number[] } {
  const per = (f: 'median' | 'min') => ms[config]!.map((t, i) => ms['plain']![i]![f] / t[f] / macs);
  return { median: per('median'), fastest: per('min') };
}

export async function realisedShare(
  report: Report,
  runtime: Runtime,
  which: Size[],
  shapes: [number, number][],
) {
  const compareDir = flag('share-compare');
  const other = compareDir ? await otherBuild(compareDir) : undefined;
  const only = flag('share-shapes')?.split(',');
  for (const shape of only ?? [])
    if (!shapes.some(([b, n]) => `${b}x${n}` === shape))
      throw new LatError(
        'BAD_INPUT',
        `unknown shape ${shape} (${shapes.map(([b, n]) => `${b}x${n}`).join(', ')})`,
        '--share-shapes',
      );
  const { rounds, runs } = turns('share');
  // Process CPU time: with one thread (LAT_BENCH_THREADS=1) the work a run does, which a loaded
  // machine changes far less than wall time.
  const clock = flag('share-clock') ?? 'wall';
  if (clock !== 'wall' && clock !== 'cpu')
    throw new LatError('BAD_INPUT', `must be wall or cpu, got ${clock}`, '--share-clock');
  const cpu = clock === 'cpu';
  report.heading(
    `Realised share of the MACs saving (onnxruntime-node, ${threads} threads, ${cpu ? 'process CPU time' : 'wall time'}; configurations in turn, ${rounds} rounds of ${runs} steps)`,
  );
  report.push(
    `Each cell: speed-up over the plain graph (ratio of medians, median over rounds); MACs speed-up; realised share = speed-up ÷ MACs speed-up, median (min–max) over rounds, from the medians and then from the fastest runs.${compareDir ? ` "before": the anytime graph of \`${compareDir}\` (\`--share-compare\`), same weights, same turns.` : ''}\n`,
  );
  const cols = keepRatios.flatMap((r) => [`r=${r}`, ...(other ? [`r=${r} before`] : [])]);
  report.table(
    `model | batch × seq | plain ${cpu ? 'CPU ' : ''}ms | lat full / plain${other ? ' | lat full before / plain' : ''} | ${cols.join(' | ')}`,
  );
  for (const s of which.filter(chosen)) {
    const c = configOf(s);
    const w = createRandomWeights(c, 1);
    for (const [batch, seq] of shapes) {
      if (only && !only.includes(`${batch}x${seq}`)) continue;
      const x = batchOf(batch, seq);
      const { plain, lat } = await plainAndLat(runtime, c, w);
      const before =
        other && (await createAnytimeModel(runtime, c, w, { model: other(c, w), session: { threads } }));
      const runners: Record<string, () => Promise<unknown>> = {
        plain: () => plain.run(x),
        full: () => lat.run(x),
        ...(before && { 'full before': () => before.run(x) }),
      };
      for (const r of keepRatios) {
        runners[`r=${r}`] = () => lat.run(x, everyLayer(c, r));
        if (before) runners[`r=${r} before`] = () => before.run(x, everyLayer(c, r));
      }
      const ms = await alternating(runners, rounds, runs, cpu ? cpuMs : undefined);
      await Promise.all([plain.release(), lat.release(), before?.release()]);
      const cells = keepRatios.flatMap((r) => {
        const macs =
          encoderMacs(c, seq) / encoderMacs(c, seq, new Array(c.numLayers).fill(Math.ceil(r * seq)));
        return [`r=${r}`, ...(before ? [`r=${r} before`] : [])].map((k) => {
          const sh = shares(ms, k, macs);
          return `${(median(sh.median) * macs).toFixed(2)}× (MACs ${macs.toFixed(2)}×): ${spread(sh.median, true)}; ${spread(sh.fastest, true)}`;
        });
      });
      const plainMs = median(ms['plain']!.map((t) => t.median));
      const fullOver = (k: string) => spread(ms[k]!.map((t, i) => t.median / ms['plain']![i]!.median));
      const full = [fullOver('full'), ...(before ? [fullOver('full before')] : [])].join(' | ');
      const line = `| ${s.name} | ${batch} × ${seq} | ${plainMs.toFixed(1)} | ${full} | ${cells.join(' | ')} |`;
      report.push(line);
      console.log(line);
    }
  }
}
