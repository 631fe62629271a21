/**
 * Fuzz targets for the training-data loaders: GLUE .tsv, .csv and .jsonl files, damaged or
 * made of random rows, read as a single-sentence (SST-2) and a pair (MRPC) task. Every case
 * loads or fails with a LatError naming the file (see @lat/core/testing's fuzz rules).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkLoaderCase, corruptBytes, fuzzDir, fuzzRuns } from '@lat/core/testing';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { readExamples } from './examples.js';
import { getTask } from './tasks.js';

const dir = fuzzDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const params = { numRuns: fuzzRuns, seed: 18, endOnFailure: true };
const sst2 = getTask('sst2');
const mrpc = getTask('mrpc');

/** Rows of cells drawn from words, labels, separators, quotes, newlines and odd characters. */
const cell = fc.oneof(
  fc.constantFrom(
    '0',
    '1',
    '2',
    '',
    'a film',
    'label',
    'sentence',
    '"',
    '""',
    '\t',
    ',',
    '\n',
    '\r\n',
    '\uFEFF',
    '\uFFFD',
    '{',
    '}',
  ),
  fc.string({ maxLength: 12 }),
);
const rows = fc.array(fc.array(cell, { maxLength: 6 }), { maxLength: 12 });

const formats: [string, (r: string[][]) => string, string][] = [
  [
    'train.tsv',
    (r) => r.map((c) => c.join('\t')).join('\n'),
    'sentence\tlabel\na great film\t1\nit is dull\t0\n',
  ],
  [
    'train.csv',
    (r) => r.map((c) => c.join(',')).join('\n'),
    'sentence,label\n"a great, fine film",1\nit is dull,0\n',
  ],
  [
    'train.jsonl',
    (r) =>
      r
        .map((c) =>
          c.length % 2
            ? JSON.stringify(Object.fromEntries(c.map((v, i) => [['sentence', 'label', 'text'][i % 3], v])))
            : c.join(''),
        )
        .join('\n'),
    '{"sentence": "a great film", "label": 1}\n{"sentence": "it is dull", "label": "0"}\n',
  ],
];

describe('fuzz: data files fail with a LatError naming the file, within time and memory caps', () => {
  for (const [name, render, good] of formats) {
    it(name, () => {
      const path = join(dir, name);
      const cases = fc.tuple(
        fc.oneof(
          rows.map(render),
          corruptBytes(new TextEncoder().encode(good)).map((b) => Buffer.from(b).toString('latin1')),
        ),
        fc.boolean(),
      );
      fc.assert(
        fc.property(cases, ([text, pair]) =>
          checkLoaderCase(path, text, (p) =>
            readExamples(p, pair ? mrpc : sst2, { onBadRow: pair ? 'skip' : 'error' }),
          ),
        ),
        params,
      );
    }, 60_000);
  }
});
