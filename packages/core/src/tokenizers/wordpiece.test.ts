import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WordPieceTokenizer } from './wordpiece.js';

// A small vocabulary; expected ids below follow BERT's BasicTokenizer + WordPiece rules by hand
// (the same rules Hugging Face's BertTokenizer applies).
const vocab = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  'the',
  'cafe',
  'un',
  '##aff',
  '##able',
  ',',
  '!',
  '中',
  '文',
  'hello',
  '##s',
  'naive',
  '.',
  '"',
];
const tok = new WordPieceTokenizer(vocab);
const ids = (s: string) => tok.encode(s).ids;

describe('WordPieceTokenizer', () => {
  it('splits punctuation and CJK, lower-cases and strips accents', () => {
    expect(ids('The CAFÉ, unaffable!')).toEqual([2, 4, 5, 9, 6, 7, 8, 10, 3]);
    expect(ids('Naïve 中文')).toEqual([2, 15, 11, 12, 3]);
    expect(ids('cafe\u0301')).toEqual([2, 5, 3]); // decomposed accent
    expect(ids('"hellos."')).toEqual([2, 17, 13, 14, 16, 17, 3]);
  });
  it('maps unknown and over-long words to [UNK], emoji included', () => {
    expect(ids('unknownword 😀')).toEqual([2, 1, 1, 3]);
    expect(ids(`un${'aff'.repeat(40)}`)).toEqual([2, 1, 3]);
    expect(ids('')).toEqual([2, 3]);
    expect(ids(' \t\n ')).toEqual([2, 3]);
  });
  it('keeps exact character offsets, through accents and surrogate pairs', () => {
    const text = '😀 Café, unaffable';
    const e = tok.encode(text);
    const spans = e.offsets.map(([s, t]) => text.slice(s, t));
    expect(spans).toEqual(['', '😀', 'Café', ',', 'un', 'aff', 'able', '']);
  });
  it('encodes pairs with token types, truncates and pads', () => {
    const e = tok.encode('the cafe the cafe', 'hello hello', { maxLength: 7, padding: 'max_length' });
    expect(e.ids).toEqual([2, 4, 5, 3, 13, 13, 3]);
    expect(e.typeIds).toEqual([0, 0, 0, 0, 1, 1, 1]);
    const p = tok.encode('the', undefined, { maxLength: 5, padding: 'max_length' });
    expect(p.ids).toEqual([2, 4, 3, 0, 0]);
    expect(p.attentionMask).toEqual([1, 1, 1, 0, 0]);
    expect(
      tok.encode('the cafe', 'hello hello hello', { maxLength: 6, truncation: 'only_second' }).ids,
    ).toEqual([2, 4, 5, 3, 13, 3]);
    expect(() => tok.encode('the cafe the', 'hello', { maxLength: 4, truncation: 'only_second' })).toThrow(
      /cannot fit/,
    );
  });
  it('refuses a vocabulary without the special tokens', () => {
    expect(() => new WordPieceTokenizer(['a', 'b'])).toThrow(/\[UNK\] is not in the vocabulary/);
  });
});

const fixture = join(import.meta.dirname, '../../../../../shared/fixtures/models/bert-tiny-sst2');
describe.skipIf(!existsSync(fixture))('bert-base-uncased vocabulary (../shared/fixtures)', () => {
  it('reproduces the input ids in goldens.json for 16 SST-2 sentences', () => {
    const vocabLines = readFileSync(join(fixture, 'vocab.txt'), 'utf8').split('\n');
    const t = new WordPieceTokenizer(vocabLines.at(-1) === '' ? vocabLines.slice(0, -1) : vocabLines);
    const goldens = JSON.parse(readFileSync(join(fixture, 'goldens.json'), 'utf8')) as {
      cases: { text: string; input_ids: number[] }[];
    };
    for (const c of goldens.cases) expect(t.encode(c.text).ids).toEqual(c.input_ids);
  });
});
