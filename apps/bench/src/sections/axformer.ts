/**
 * AxFormer on fine-tuned SST-2 models (`--sections axformer --sst2 <dir> --axformer-models a,b`):
 * for each model and each seed of the selection split, `lat axformer` (the built CLI) prunes on a
 * split of train.tsv and reports dev accuracy of the fine-tuned model, the pruned one and the
 * random-removal control of the same size, parameters, bytes, MACs and the measured latency of
 * both models in the same run. Bounded: `--axformer-fraction` (default 0.005, i.e. the 500-example
 * minimum of SST-2's 67k) sets the selection size.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fmt, type Report } from '../report.js';
import { flag, numFlag, repo, threads } from '../setup.js';

interface Summary {
  dev: {
    before: number;
    after: number;
    control: number;
    latency: { beforeMs: number; afterMs: number; speedup: number };
  };
  parameters: { before: number; after: number };
  bytes: { before: number; after: number };
  macs: { before: number; after: number; length: number };
  accepted: unknown[];
  layers: { attention: boolean; removedHeads: number[]; ffn: boolean; hardAttentionK: number | null }[];
  evaluations: number;
  seconds: number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const pm = (xs: number[], scale = 100) => `${fmt(mean(xs) * scale, 1)} ± ${fmt(std(xs) * scale, 1)}`;

export async function axformerRuns(report: Report) {
  const path = (p: string | undefined) => (p && !existsSync(p) ? resolve(repo, p) : p);
  const data = path(flag('sst2'));
  const models = flag('axformer-models')?.split(',').map(path) as string[] | undefined;
  const bin = join(repo, 'apps/cli/dist/bin.js');
  if (!data || !models?.length || !existsSync(bin)) {
    const why =
      'AxFormer skipped: build the CLI and pass --sst2 <GLUE SST-2 dir> --axformer-models <dir,dir>';
    console.log(`  ${why}`);
    report.push(`\n${why}.`);
    return;
  }
  const seeds = numFlag('axformer-seeds', 3);
  const fraction = numFlag('axformer-fraction', 0.005, false);
  const out = mkdtempSync(join(tmpdir(), 'lat-bench-axformer-'));
  report.push(
    `\n### AxFormer on SST-2 (selection: stratified ${fraction * 100}% of train.tsv, at least 500 examples; ${seeds} seeds; ε = 0, hard attention; dev = GLUE dev, never decided on)`,
    '\n| model | dev acc fine-tuned | dev acc AxFormer | dev acc random control | params | bytes | MMACs @128 | ms/example (batch 1) | speed-up | removed |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const model of models) {
    const runs: Summary[] = [];
    for (let seed = 0; seed < seeds; seed++) {
      const args = [bin, 'axformer', '--model', model, '--task', 'sst2', '--train', join(data, 'train.tsv')]
        .concat(['--dev', join(data, 'dev.tsv'), '--out', join(out, `${basename(model)}-${seed}`)])
        .concat(['--seed', String(seed), '--selection-fraction', String(fraction), '--hard-attention'])
        .concat(['--threads', String(threads), '--json']);
      console.log(`  ${basename(model)} seed ${seed}`);
      const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
      if (r.status !== 0) throw new Error(`lat axformer failed: ${r.stderr}`);
      runs.push(JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Summary);
      const s = runs.at(-1)!;
      console.log(
        `    dev ${fmt(s.dev.before * 100, 1)} → ${fmt(s.dev.after * 100, 1)} (control ${fmt(s.dev.control * 100, 1)}), params ${s.parameters.before} → ${s.parameters.after}, ${fmt(s.dev.latency.speedup)}× measured, ${s.evaluations} evaluations in ${fmt(s.seconds, 0)} s`,
      );
    }
    const removed = runs
      .map((s) =>
        s.layers
          .map((l, i) =>
            [
              l.ffn ? '' : `F${i}`,
              l.attention ? (l.removedHeads.length ? `h${i}:${l.removedHeads.join('')}` : '') : `A${i}`,
              l.hardAttentionK ? `k${i}=${l.hardAttentionK}` : '',
            ]
              .filter(Boolean)
              .join(' '),
          )
          .filter(Boolean)
          .join(' '),
      )
      .join(' / ');
    const f = runs;
    report.push(
      `| ${basename(model)} | ${pm(f.map((s) => s.dev.before))} | ${pm(f.map((s) => s.dev.after))} | ${pm(f.map((s) => s.dev.control))} | ${f[0]!.parameters.before.toLocaleString('en-US')} → ${pm(
        f.map((s) => s.parameters.after),
        1e-6,
      )} M | ${fmt(f[0]!.bytes.before / 1e6, 1)} → ${pm(
        f.map((s) => s.bytes.after),
        1e-6,
      )} MB | ${fmt(f[0]!.macs.before / 1e6, 0)} → ${pm(
        f.map((s) => s.macs.after),
        1e-6,
      )} | ${fmt(mean(f.map((s) => s.dev.latency.beforeMs)), 3)} → ${fmt(mean(f.map((s) => s.dev.latency.afterMs)), 3)} | ${pm(
        f.map((s) => s.dev.latency.speedup),
        1,
      )}× | ${removed} |`,
    );
  }
  report.push(
    '\nremoved: F = feed-forward block, A = attention block, h<layer>:<heads>, k<layer> = hard-attention k; one group per seed. Latency: plain graphs of both models, alternating, median of 3 rounds over 300 dev examples.',
  );
  console.log(`  pruned models (and their lat_axformer.json) in ${out}`);
}
