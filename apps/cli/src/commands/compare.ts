/**
 * `lat compare`: plain fine-tuning, LAT and every other registered method (compare/methods/)
 * from one checkpoint on one task, side by side: compare.json, compare.md, compare.svg.
 */
import type { Command } from 'commander';
import { type CompareFlags, planCompare, runCompare } from '../compare/harness.js';
import { compareMethods } from '../compare/methods/index.js';
import { budgetTable } from '../compare/report.js';
import type { Output } from '../output.js';

export async function compareCommand(f: CompareFlags, out: Output) {
  // Every check (methods, budgets, model, data, applicability, reuse) before any training.
  const plan = await planCompare(f);
  out.info(`comparing ${plan.methods.map((m) => m.name).join(', ')} on ${plan.task.name} → ${f.out}`);
  const report = await runCompare(plan, out);
  out.result({ command: 'compare', report }, () => {
    out.info(`\n${budgetTable(report)}`);
    out.info(
      `\nreport: ${f.out}/compare.json, compare.md, compare.svg (${report.timing.seconds.toFixed(0)} s)`,
    );
  });
  return report;
}

/** The command's flags; `int`/`num` are the program's number parsers. */
export function registerCompare(
  program: Command,
  o: {
    int: (name: string) => (v: string) => number;
    num: (name: string) => (v: string) => number;
    run: (flags: CompareFlags) => Promise<unknown>;
  },
) {
  const { int, num } = o;
  program
    .command('compare')
    .description('train every method from one checkpoint on one task and compare them: one table, one plot')
    .requiredOption('--model <dir>', 'the starting checkpoint (Hugging Face model directory)')
    .requiredOption('--task <name>', 'sst2, cola, mrpc, qqp, qnli, rte, mnli, stsb')
    .requiredOption('--train <file>', 'training data (GLUE .tsv, .csv or .jsonl)')
    .requiredOption('--dev <file>', 'dev data: every method is scored and timed on it')
    .option(
      '--methods <list>',
      `methods, comma-separated (${compareMethods.map((m) => m.name).join(', ')})`,
      'plain,lat',
    )
    .option(
      '--budget-grid <list>',
      'budgets: fractions of the full model’s MACs (1 is always added)',
      '0.3,0.5,0.7',
    )
    .option('--out <dir>', 'report directory (methods already there are reused)', 'report')
    .option('--epochs <n>', 'epochs for every method', int('--epochs'), 3)
    .option('--batch-size <n>', 'batch size', int('--batch-size'), 32)
    .option('--lr <x>', 'peak learning rate', num('--lr'), 2e-5)
    .option('--max-length <n>', 'max tokens per input', int('--max-length'), 128)
    .option('--seed <n>', 'random seed', int('--seed'), 42)
    .option(
      '--checkpoint-every <n>',
      'training checkpoint every N steps (a killed run resumes there)',
      int('--checkpoint-every'),
      100,
    )
    .option('--length-drop-ratio <p>', 'lat: LengthDrop ratio bound', num('--length-drop-ratio'), 0.4)
    .option(
      '--search-ratio-bound <p>',
      'lat: how far below full length the search may go per layer',
      num('--search-ratio-bound'),
      0.9,
    )
    .option('--iterations <n>', 'lat: search iterations', int('--iterations'), 30)
    .option(
      '--adapler-phi <list>',
      'adapler: length penalties φ, comma-separated, one model each',
      (v: string) => v.split(',').map(num('--adapler-phi')),
      [0.0005, 0.005],
    )
    .option(
      '--epsilon <x>',
      'axformer, axformer+lat: tolerated selection-metric drop per accepted removal',
      num('--epsilon'),
      0,
    )
    .option('--runs <n>', 'timed runs per configuration (median)', int('--runs'), 5)
    .action(async (flags) => {
      await o.run(flags);
    });
}
