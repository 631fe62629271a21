/** `lat data long-squad`: long-context SQuAD for span QA over long inputs (see @lat/qa `longContextSquad`). */
import { readJson } from '@lat/core/node';
import { loadTokenizer } from '@lat/layers/node';
import { longContextSquad } from '@lat/qa';
import { Argument, type Command } from 'commander';
import { writeJson } from '../model.js';
import type { Output } from '../output.js';

export interface LongSquadFlags {
  squad: string;
  out: string;
  minLength: number;
  maxLength: number;
  seed: number;
  /** Count tokens with this model directory's tokenizer (default: whitespace words). */
  model?: string;
  limit?: number;
}

export function longSquadCommand(f: LongSquadFlags, out: Output) {
  const tokenizer = f.model ? loadTokenizer(f.model) : undefined;
  const json = longContextSquad(
    readJson(f.squad),
    {
      seed: f.seed,
      minLength: f.minLength,
      maxLength: f.maxLength,
      ...(tokenizer ? { length: (t: string) => tokenizer.tokenize(t).length, unit: 'tokens' } : {}),
      ...(f.limit !== undefined ? { limit: f.limit } : {}),
    },
    f.squad,
  );
  writeJson(f.out, json);
  const r = json.lat_long_context;
  out.result({ command: 'data long-squad', out: f.out, ...r }, () =>
    out.info(
      `${r.questions} questions in ${r.paragraphs} documents of ${f.minLength}–${f.maxLength} ${r.unit} (mean ${r.meanLength.toFixed(0)}${r.overLong ? `; ${r.overLong} source paragraphs alone were longer` : ''}) → ${f.out}`,
    ),
  );
  return json;
}

export function registerData(
  program: Command,
  out: () => Output,
  int: (name: string) => (v: string) => number,
) {
  program
    .command('data')
    .description(
      "make a data set. long-squad: long-context SQuAD, each paragraph hidden among other articles' paragraphs in documents of --min-length..--max-length, answers at their characters (seeded)",
    )
    .addArgument(new Argument('<kind>', 'the data set to make').choices(['long-squad']))
    .requiredOption('--squad <file>', 'a SQuAD v1.1/v2.0 file, e.g. dev-v1.1.json')
    .requiredOption('--out <file>', 'where to write the SQuAD-format JSON')
    .option('--min-length <n>', 'shortest document', int('--min-length'), 1024)
    .option('--max-length <n>', 'longest document', int('--max-length'), 4096)
    .option('--model <dir>', "count lengths in this model's tokens (default: whitespace words)")
    .option('--limit <n>', 'documents for the first n paragraphs only', int('--limit'))
    .option('--seed <n>', 'random seed', int('--seed'), 1)
    .action((_kind: string, o: LongSquadFlags) => {
      longSquadCommand(o, out());
    });
}
