import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WordPieceTokenizer } from '@lat/core';
import { describe, expect, it } from 'vitest';
import { encodeExamples } from '../batches.js';
import { generateSentimentTask, syntheticVocab } from '../synthetic.js';
import { readTokenized } from './cache.js';
import { readExamples } from './examples.js';
import { getTask } from './tasks.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-cache-'));
const tok = new WordPieceTokenizer(syntheticVocab);
const sst2 = getTask('sst2');
const tsv = (rows: string[]) => `sentence\tlabel\n${rows.join('\n')}\n`;
const rows = generateSentimentTask({ seed: 4, train: 300, dev: 0 }).train.map(
  (e) => `${e.textA}\t${e.label}`,
);

describe('readTokenized', () => {
  it('gives the same ids from the cache as from tokenising, and only tokenises once', () => {
    const data = join(dir, 'train.tsv');
    writeFileSync(data, tsv([...rows, '\t1'])); // one bad row, skipped
    const cacheDir = join(dir, 'cache');
    const options = { maxLength: 16, cacheDir, onBadRow: 'skip' as const };
    const first = readTokenized(data, sst2, tok, options);
    const again = readTokenized(data, sst2, tok, options);
    expect(first.fromCache).toBe(false);
    expect(again.fromCache).toBe(true);
    expect(again).toEqual({ ...first, fromCache: true });
    expect(first.data).toEqual(encodeExamples(readExamples(data, sst2, options).examples, tok, 16));
    expect(again.skipped).toBe(1);
    expect(again.data.some((e) => e.ids.length === 16)).toBe(true); // truncation applied
    expect(readdirSync(cacheDir)).toHaveLength(1);
  });

  it('misses when the data, the tokenizer or maxLength change, and rebuilds a damaged file', () => {
    const data = join(dir, 'dev.tsv');
    const cacheDir = join(dir, 'cache2');
    writeFileSync(data, tsv(rows.slice(0, 20)));
    const base = readTokenized(data, sst2, tok, { maxLength: 32, cacheDir });
    expect(readTokenized(data, sst2, tok, { maxLength: 24, cacheDir }).fromCache).toBe(false);
    const upper = new WordPieceTokenizer(syntheticVocab, { doLowerCase: false });
    expect(readTokenized(data, sst2, upper, { maxLength: 32, cacheDir }).fromCache).toBe(false);
    writeFileSync(data, tsv(rows.slice(0, 21)));
    const grown = readTokenized(data, sst2, tok, { maxLength: 32, cacheDir });
    expect(grown.fromCache).toBe(false);
    expect(grown.data).toHaveLength(21);
    writeFileSync(data, tsv(rows.slice(0, 20)));
    const hit = readTokenized(data, sst2, tok, { maxLength: 32, cacheDir });
    expect(hit).toEqual({ ...base, fromCache: true });
    const single = join(dir, 'cache3');
    readTokenized(data, sst2, tok, { maxLength: 32, cacheDir: single });
    const [file] = readdirSync(single).map((f) => join(single, f));
    writeFileSync(file!, readFileSync(file!).subarray(0, 100)); // truncated
    const rebuilt = readTokenized(data, sst2, tok, { maxLength: 32, cacheDir: single });
    expect(rebuilt).toEqual({ ...base, fromCache: false });
    expect(readTokenized(data, sst2, tok, { maxLength: 32, cacheDir: single }).fromCache).toBe(true);
  });

  it('names the data file when it is missing', () => {
    expect(() => readTokenized(join(dir, 'nope.tsv'), sst2, tok, { maxLength: 8, cacheDir: dir })).toThrow(
      /nope\.tsv.*cannot read data file|cannot read data file.*check the path/,
    );
  });
});
