/**
 * A searched frontier's measured dev-set speed-up: every dev sentence (batches of `--frontier-batch`
 * sentences of similar length, as `lat eval` batches them) runs through the plain fp32 graph of the
 * original checkpoint (the baseline), and through the LAT model in fp32 and q8 at full length and
 * at every point of its frontier.json / frontier-q8.json. Configurations run in turn on each batch
 * (interleaved, so every ratio compares runs made under the same load); a pass sums each
 * configuration's time over the dev set, and the ratios are the median over passes. Accuracy is
 * computed from the same runs' logits.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import type { LengthSpec } from '@lat/core';
import { type AnytimeModel, createAnytimeModel, padBatch } from '@lat/layers';
import { loadModelDir, tokenizerOf } from '@lat/layers/node';
import { createNodeRuntime } from '@lat/runtime-node';
import { encodeExamples, getTask, readExamples } from '@lat/train';
import type { Report } from '../report.js';
import { flag, median, numFlag, repo, threads } from '../setup.js';

interface FrontierPoint {
  lengths: number[];
  costRatio: number;
  metric: number;
}

interface Config {
  name: string;
  model: AnytimeModel;
  spec?: LengthSpec;
  macsRatio: number;
}

export async function frontierSpeed(report: Report) {
  const path = (p: string | undefined) => (p && !existsSync(p) ? resolve(repo, p) : p);
  const dataDir = path(flag('sst2'));
  const baseDir = path(flag('model'));
  const latDir = path(flag('lat-model'));
  if (!dataDir || !baseDir || !latDir) {
    const why =
      'frontier speed-up skipped: pass --sst2 <GLUE SST-2 dir>, --model <original checkpoint> and --lat-model <lat train output with frontier.json>';
    console.log(`  ${why}`);
    report.push(`\n${why}.`);
    return;
  }
  const batch = numFlag('frontier-batch', 1);
  const passes = numFlag('frontier-passes', 3);
  const base = loadModelDir(baseDir);
  const lat = loadModelDir(latDir);
  const info = JSON.parse(readFileSync(join(latDir, 'lat_training.json'), 'utf8')) as { maxLength?: number };
  const task = getTask('sst2');
  const dev = encodeExamples(
    readExamples(join(dataDir, 'dev.tsv'), task).examples,
    tokenizerOf(lat),
    info.maxLength ?? 128,
  );
  const order = dev.map((_, i) => i).sort((a, b) => dev[a]!.ids.length - dev[b]!.ids.length);
  const groups: number[][] = [];
  for (let i = 0; i < order.length; i += batch) groups.push(order.slice(i, i + batch));
  const batches = groups.map((g) => padBatch(g.map((i) => dev[i]!)));

  const runtime = createNodeRuntime({ threads });
  const session = { session: { threads }, keptPositions: false };
  const basePlain = await createAnytimeModel(runtime, base.config, base.weights, {
    ...session,
    selection: false,
  });
  const configs: Config[] = [
    { name: 'fp32 plain ORT (original checkpoint)', model: basePlain, macsRatio: 1 },
  ];
  // Points searched below --frontier-min-metric are left out (they are far past the targets).
  const minMetric = Number(flag('frontier-min-metric') ?? 0);
  const frontierOf = (file: string) => {
    if (!existsSync(file)) return undefined;
    const f = JSON.parse(readFileSync(file, 'utf8')) as { lengthForm: string; points: FrontierPoint[] };
    if (f.lengthForm !== 'ratio') throw new Error(`${file}: only ratio frontiers are timed here`);
    return f.points.filter((p) => p.metric >= minMetric);
  };
  const fp32Points = frontierOf(join(latDir, 'frontier.json')) ?? [];
  for (const dtype of ['fp32', 'q8'] as const) {
    const m = await createAnytimeModel(runtime, lat.config, lat.weights, { ...session, dtype });
    configs.push({ name: `${dtype} LAT full length`, model: m, macsRatio: 1 });
    // q8 runs its own frontier's points (when searched) and the fp32 frontier's points.
    const own = dtype === 'q8' ? (frontierOf(join(latDir, 'frontier-q8.json')) ?? []) : fp32Points;
    const points =
      dtype === 'q8'
        ? [
            ...own.map((p) => ({ p, tag: 'q8 frontier' })),
            ...fp32Points.map((p) => ({ p, tag: 'fp32 frontier' })),
          ]
        : own.map((p) => ({ p, tag: 'frontier' }));
    for (const { p, tag } of points)
      configs.push({
        name: `${dtype} LAT ${p.lengths.map((l) => l.toFixed(2)).join(' ')} (${tag}, searched ${(100 * p.metric).toFixed(2)}%)`,
        model: m,
        spec: { form: 'ratio', ratios: p.lengths },
        macsRatio: p.costRatio,
      });
  }

  // Accuracy from the first pass's logits; time summed over the dev set, per pass.
  const correct = new Array<number>(configs.length).fill(0);
  const totals: number[][] = configs.map(() => []);
  for (let pass = 0; pass <= passes; pass++) {
    const sums = new Array<number>(configs.length).fill(0);
    for (const [gi, x] of batches.entries()) {
      for (const [ci, c] of configs.entries()) {
        const t0 = performance.now();
        const r = await c.model.run(x, c.spec);
        sums[ci] += performance.now() - t0;
        if (pass === 0)
          groups[gi]!.forEach((i, b) => {
            const l = r.logits!;
            if (Number(l[b * 2 + 1]! > l[b * 2]!) === dev[i]!.label) correct[ci]++;
          });
      }
    }
    if (pass > 0) sums.forEach((s, ci) => totals[ci]!.push(s)); // pass 0 warms up
    console.log(`  pass ${pass}: baseline ${sums[0]!.toFixed(0)} ms over ${dev.length} sentences`);
  }
  const baseAcc = correct[0]! / dev.length;
  report.heading(
    `Searched frontier, measured on SST-2 dev (${dev.length} sentences, batch ${batch}): ${latDir.replace(/\/+$/, '').split('/').at(-1)} (${lat.config.numLayers} layers × ${lat.config.hiddenSize})`,
  );
  report.push(
    `${threads} thread(s); load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' ',
      )}. Baseline: the original checkpoint as a plain fp32 graph (no selection ops), accuracy ${(100 * baseAcc).toFixed(2)}%. Every configuration runs on each batch in turn; speed-up = baseline time ÷ the configuration's time over the whole dev set, median of ${passes} passes (min–max). MACs speed-up: 1 ÷ the frontier's cost ratio (MACs over real lengths).\n`,
  );
  report.push(
    '| configuration | dev accuracy | loss vs baseline (pt) | MACs speed-up | measured speed-up | dev-set ms |',
  );
  report.push('|---|---|---|---|---|---|');
  for (const [ci, c] of configs.entries()) {
    const ratios = totals[ci]!.map((t, p) => totals[0]![p]! / t).sort((a, b) => a - b);
    const acc = correct[ci]! / dev.length;
    const line = `| ${c.name} | ${(100 * acc).toFixed(2)}% | ${(100 * (baseAcc - acc)).toFixed(2)} | ${(1 / c.macsRatio).toFixed(2)}× | ${median(ratios).toFixed(2)}× (${ratios[0]!.toFixed(2)}–${ratios.at(-1)!.toFixed(2)}) | ${median(totals[ci]!).toFixed(0)} |`;
    report.push(line);
    console.log(line);
  }
  for (const m of new Set(configs.map((c) => c.model))) await m.release();
}
