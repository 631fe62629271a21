/** compare.json as Markdown tables (compare.md) and the table `lat compare` prints. */
import type { CompareReport, ConfigurationReport } from '@lat/search';
import { table } from '../output.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const times = (x: number) => `${x.toFixed(2)}×`;

/** The best configuration of each method under each budget, as table rows. */
function budgetRows(r: CompareReport): string[][] {
  return r.budgets.map((b, i) => [
    pct(b),
    ...r.methods.map((m) => {
      const c = m.best[i]!.configuration;
      if (c === null) return '–';
      const conf = m.configurations[c]!;
      return `${conf.metric.toFixed(4)} @ ${pct(conf.macsRatio)} MACs, ${times(conf.timing.batch32Speedup)}`;
    }),
  ]);
}

/** The table `lat compare` prints. */
export function budgetTable(r: CompareReport): string {
  return [
    `best ${r.metric} under each budget (real-length MACs of the starting checkpoint; speed-up measured at batch 32)`,
    table(budgetRows(r), ['budget', ...r.methods.map((m) => m.name)]),
  ].join('\n');
}

/** compare.md: the settings, the budget table, every configuration of every method. */
export function compareMarkdown(r: CompareReport): string {
  const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const head = (cells: string[]) => [row(cells), row(cells.map(() => '---'))];
  const s = r.settings;
  const t = r.timing;
  const lines = [
    `# lat compare: ${r.task} on ${r.model.dir}`,
    '',
    `Every method starts from the same checkpoint (${r.model.numLayers} layers × ${r.model.hidden}, ${r.model.params.toLocaleString('en-US')} parameters, fingerprint \`${r.model.fingerprint}\`) and trains on the same data with the same seed and epochs.`,
    '',
    `- train: \`${r.data.train}\` (sha256 ${r.data.trainSha256.slice(0, 12)}…); dev: \`${r.data.dev}\` (${r.data.devExamples} examples, sha256 ${r.data.devSha256.slice(0, 12)}…)`,
    `- seed ${s.seed}, ${s.epochs} epochs, batch ${s.batchSize}, lr ${s.lr}, max length ${s.maxLength}; method options: ${Object.entries(
      s.options,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `- MACs: average per dev example over its real length, as a fraction of the starting checkpoint at full length (${(r.reference.macs / 1e6).toFixed(2)} MMACs); padded: one input padded to ${s.maxLength} tokens (${(r.reference.paddedMacs / 1e6).toFixed(2)} MMACs).`,
    `- Latency on this machine (${t.machine.cpu}, ${t.machine.cores} cores, onnxruntime threads ${t.machine.threads ?? 'all'}, Node ${t.machine.node}), ${t.date}: batch 1 = mean ms per input over ${s.latency.batch1Inputs} dev inputs run one at a time; batch 32 = one batch of ${s.latency.batch32Inputs} dev inputs; median of ${s.latency.runs} runs, each alternated with the starting checkpoint at full length (${t.referenceBatch1Ms.toFixed(2)} ms / ${t.referenceBatch32Ms.toFixed(2)} ms), which speed-ups are relative to.`,
    '',
    '![accuracy vs measured speed-up](compare.svg)',
    '',
    `## Best ${r.metric} under each budget`,
    '',
    'Budget: real-length MACs as a fraction of the starting checkpoint’s. Cell: metric @ MACs, measured batch-32 speed-up.',
    '',
    ...head(['budget', ...r.methods.map((m) => m.name)]),
    ...budgetRows(r).map(row),
  ];
  for (const m of r.methods) {
    // Methods that drop tokens: what each layer keeps of each input, mean (10th–90th percentile).
    const kept = m.configurations.some((c) => c.kept);
    const keptCell = (c: ConfigurationReport) =>
      (c.kept ?? []).map((k) => `${pct(k.mean)} (${pct(k.p10)}–${pct(k.p90)})`).join(' / ') || 'all';
    lines.push(
      '',
      `## ${m.name}`,
      '',
      `${m.summary}. ${m.params.toLocaleString('en-US')} parameters, ${(m.bytes / 1e6).toFixed(2)} MB of weights.`,
      '',
      ...head([
        'configuration',
        r.metric,
        'MACs',
        `padded MACs (${s.maxLength})`,
        'batch 1 ms',
        'batch 1 speed-up',
        'batch 32 ms',
        'batch 32 speed-up',
        ...(kept ? ['kept per layer: mean (p10–p90)'] : []),
      ]),
      ...m.configurations.map((c) =>
        row([
          c.label,
          c.metric.toFixed(4),
          pct(c.macsRatio),
          pct(c.paddedMacsRatio),
          c.timing.batch1Ms.toFixed(2),
          times(c.timing.batch1Speedup),
          c.timing.batch32Ms.toFixed(2),
          times(c.timing.batch32Speedup),
          ...(kept ? [keptCell(c)] : []),
        ]),
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}
