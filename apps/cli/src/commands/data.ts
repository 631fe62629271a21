/** `lat data long-squad`: long-context SQuAD for span QA over long inputs (see @lat/qa `longContextSquad`). */
import { readJson } from '@lat/core/node';
import { loadTokenizer } from '@lat/layers/node';
import { factQaSquad, longContextSquad } from '@lat/qa';
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
  /** long-facts: documents to make and facts per document. */
  documents?: number;
  facts?: number;
}

/** Seed and document lengths, counted in --model's tokens when given (else whitespace words). */
function lengthOptions(f: LongSquadFlags) {
  const tokenizer = f.model ? loadTokenizer(f.model) : undefined;
  return {
    seed: f.seed,
    minLength: f.minLength,
    maxLength: f.maxLength,
    ...(tokenizer ? { length: (t: string) => tokenizer.tokenize(t).length, unit: 'tokens' } : {}),
  };
}

export function longSquadCommand(f: LongSquadFlags, out: Output) {
  const json = longContextSquad(
    readJson(f.squad),
    { ...lengthOptions(f), ...(f.limit !== undefined ? { limit: f.limit } : {}) },
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

/** `lat data long-facts`: generated long-context fact retrieval (see @lat/qa `factQaSquad`). */
export function longFactsCommand(f: LongSquadFlags, out: Output) {
  const json = factQaSquad(
    readJson(f.squad),
    {
      ...lengthOptions(f),
      documents: f.documents ?? 1000,
      ...(f.facts !== undefined ? { facts: f.facts } : {}),
    },
    f.squad,
  );
  writeJson(f.out, json);
  const r = json.lat_long_facts;
  out.result({ command: 'data long-facts', out: f.out, ...r }, () =>
    out.info(
      `${r.documents} documents of ${f.minLength}–${f.maxLength} ${r.unit} (mean ${r.meanLength.toFixed(0)}), ${r.facts} fact(s) each, one asked → ${f.out}`,
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
      "make a data set (seeded, SQuAD JSON, answers at their characters). long-squad: long-context SQuAD, each paragraph hidden among other articles' paragraphs in documents of --min-length..--max-length; long-facts: generated fact retrieval, --facts sentences 'The <relation> of <Name> is <value>.' among the file's sentences, one asked",
    )
    .addArgument(new Argument('<kind>', 'the data set to make').choices(['long-squad', 'long-facts']))
    .requiredOption(
      '--squad <file>',
      'a SQuAD v1.1/v2.0 file, e.g. dev-v1.1.json (long-facts: the source of its text)',
    )
    .requiredOption('--out <file>', 'where to write the SQuAD-format JSON')
    .option('--min-length <n>', 'shortest document', int('--min-length'), 1024)
    .option('--max-length <n>', 'longest document', int('--max-length'), 4096)
    .option('--model <dir>', "count lengths in this model's tokens (default: whitespace words)")
    .option('--limit <n>', 'long-squad: documents for the first n paragraphs only', int('--limit'))
    .option('--documents <n>', 'long-facts: documents to make (one question each)', int('--documents'), 1000)
    .option('--facts <n>', 'long-facts: facts per document, one asked (default 4)', int('--facts'))
    .option('--seed <n>', 'random seed', int('--seed'), 1)
    .action((kind: string, o: LongSquadFlags) => {
      if (kind === 'long-facts') longFactsCommand(o, out());
      else longSquadCommand(o, out());
    });
}
