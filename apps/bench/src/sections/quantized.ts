/**
 * int8 vs fp32: the same random weights as the plain BERT graph and as lat's anytime graph, each
 * in fp32 and q8, timed round-robin in one process so every ratio compares runs made under the
 * same load; the rounds are repeated and each ratio is reported as its median with the spread.
 */
import type { Runtime } from '@lat/core';
import { type AnytimeModel, createAnytimeModel, createRandomWeights } from '@lat/layers';
import type { Report } from '../report.js';
import { batchOf, chosen, configOf, quick, type Size, threads, time } from '../setup.js';

/** Median, min and max of the ratios measured in each round. */
function spread(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const med = s[Math.floor(s.length / 2)]!;
  return `${med.toFixed(2)}× (${s[0]!.toFixed(2)}–${s.at(-1)!.toFixed(2)})`;
}

export async function quantized(
  report: Report,
  runtime: Runtime,
  runtimeName: string,
  which: Size[],
  shapes: [number, number][],
  rounds = quick ? 2 : 3,
) {
  report.heading(`int8 (q8) vs fp32, ${runtimeName}, median of ${rounds} rounds (min–max)`);
  report.push(
    'Each round times every graph in turn on the same input (median of its runs), so a ratio compares runs made under the same load; the machine is shared, so rounds differ. plain: BERT without selection ops; lat: the anytime graph at full length; lat q8 r=0.5: every layer keeps half the tokens.\n',
  );
  report.push(
    '| model | batch × seq | fp32 lat ms | q8 lat ms | fp32 lat / q8 lat | fp32 plain / q8 plain | q8 lat / q8 plain | fp32 plain / q8 lat r=0.5 |',
  );
  report.push('|---|---|---|---|---|---|---|---|');
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
      const ms: Record<string, number[]> = {};
      const add = (k: string, t: number) => (ms[k] ??= []).push(t);
      for (let r = 0; r < rounds; r++) {
        for (const [k, m] of Object.entries(models)) add(k, await time(() => m.run(x)));
        add('q8Half', await time(() => models['q8Lat']!.run(x, half)));
      }
      const ratio = (a: string, b: string) => ms[a]!.map((t, i) => t / ms[b]![i]!);
      const median = (k: string) => [...ms[k]!].sort((a, b) => a - b)[Math.floor(rounds / 2)]!.toFixed(2);
      const line = `| ${s.name} | ${batch} × ${seq} | ${median('fp32Lat')} | ${median('q8Lat')} | ${spread(ratio('fp32Lat', 'q8Lat'))} | ${spread(ratio('fp32Plain', 'q8Plain'))} | ${spread(ratio('q8Lat', 'q8Plain'))} | ${spread(ratio('fp32Plain', 'q8Half'))} |`;
      report.push(line);
      console.log(line);
    }
    for (const m of Object.values(models)) await m.release();
  }
}
