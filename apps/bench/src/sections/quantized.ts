/**
 * int8 vs fp32: the same random weights as the plain BERT graph and as lat's anytime graph, each
 * in fp32 and q8, run in turn (`alternating`) so every ratio compares runs made under the same
 * load; each ratio is reported as its median over rounds with the spread.
 */
import type { Runtime } from '@lat/core';
import { type AnytimeModel, createAnytimeModel, createRandomWeights } from '@lat/layers';
import type { Report } from '../report.js';
import {
  alternating,
  batchOf,
  chosen,
  configOf,
  roundMs,
  roundRatio,
  type Size,
  type Turns,
  threads,
  turns,
} from '../setup.js';

export async function quantized(
  report: Report,
  runtime: Runtime,
  runtimeName: string,
  which: Size[],
  shapes: [number, number][],
  { rounds, runs }: Turns = turns('int8'),
) {
  report.heading(
    `int8 (q8) vs fp32, ${runtimeName}, ${rounds} rounds of ${runs} steps in turn, median (min–max) over rounds`,
  );
  report.push(
    'Within each round every graph runs once per step on the same input in a fresh seeded random order, never twice in a row, sessions not spinning, so a ratio compares runs made under the same load; on a shared machine rounds differ, hence the spread. Each cell: the ratio of medians, then of fastest runs (the least disturbed). plain: BERT without selection ops; lat: the anytime graph at full length (lat / plain is the fixed cost of the selection ops); q8 r=0.5: the q8 anytime graph with every layer keeping half the tokens.\n',
  );
  report.table(
    'model | batch × seq | fp32 lat ms (median, fastest) | q8 lat ms | fp32 lat / q8 lat | fp32 plain / q8 plain | fp32 lat / fp32 plain | q8 lat / q8 plain | fp32 plain / q8 r=0.5',
  );
  for (const s of which.filter(chosen)) {
    const c = configOf(s);
    const w = createRandomWeights(c, 1);
    const open = (dtype: 'fp32' | 'q8', selection: boolean) =>
      createAnytimeModel(runtime, c, w, { dtype, selection, keptPositions: false, session: { threads } });
    const models: Record<string, AnytimeModel> = {
      fp32Plain: await open('fp32', false),
      q8Plain: await open('q8', false),
      fp32Lat: await open('fp32', true),
      q8Lat: await open('q8', true),
    };
    for (const [batch, seq] of shapes) {
      const x = batchOf(batch, seq);
      const half = { form: 'ratio' as const, ratios: new Array(c.numLayers).fill(0.5) };
      const ms = await alternating(
        {
          ...Object.fromEntries(Object.entries(models).map(([k, m]) => [k, () => m.run(x)])),
          q8Half: () => models['q8Lat']!.run(x, half),
        },
        rounds,
        runs,
      );
      const ratio = (a: string, b: string) => roundRatio(ms, a, b);
      const ms2 = (k: string) => roundMs(ms, k);
      const line = `| ${s.name} | ${batch} × ${seq} | ${ms2('fp32Lat')} | ${ms2('q8Lat')} | ${ratio('fp32Lat', 'q8Lat')} | ${ratio('fp32Plain', 'q8Plain')} | ${ratio('fp32Lat', 'fp32Plain')} | ${ratio('q8Lat', 'q8Plain')} | ${ratio('fp32Plain', 'q8Half')} |`;
      report.push(line);
      console.log(line);
    }
    for (const m of Object.values(models)) await m.release();
  }
}
