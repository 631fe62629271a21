import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeWithHfTokenizer } from '../testing/hf-tokenizers.js';
import { tokenizerFromSpec } from './spec.js';
import { wordPieceFromTokenizerJson } from './tokenizer-json.js';
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
  it('drops ASCII control characters, splits on tab, CR and LF, and keeps offsets (the ASCII path)', () => {
    const t = new WordPieceTokenizer([...vocab, 'ab', 'cd', '##ef']);
    const text = 'A\u0007B\tcD\r\n,\u007f\u000bCDef \u001c\u00a0x';
    expect(t.tokenize(text).map((p) => [p.token, text.slice(p.start, p.end)])).toEqual([
      ['ab', 'A\u0007B'],
      ['cd', 'cD'],
      [',', ','],
      ['cd', 'CD'],
      ['##ef', 'ef'],
      ['[UNK]', 'x'],
    ]);
    // Lower-casing off: A–Z stay, and other ASCII is never changed.
    const cased = new WordPieceTokenizer(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'Ab', '~', '9z'], {
      doLowerCase: false,
      stripAccents: true,
    });
    expect(cased.encode('Ab~9z ab').ids).toEqual([2, 4, 5, 6, 1, 3]);
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
  it('round-trips through its spec (what a bundle stores)', () => {
    for (const t of [tok, new WordPieceTokenizer(vocab, { doLowerCase: false, maxInputCharsPerWord: 5 })]) {
      const back = tokenizerFromSpec(JSON.parse(JSON.stringify(t.spec())));
      expect(back.kind).toBe('wordpiece');
      expect(back.signature).toBe(t.signature);
      for (const s of ['The CAFÉ, unaffable!', 'unaffables', 'Naïve 中文'])
        expect(back.encode(s, 'hello')).toEqual(t.encode(s, 'hello'));
    }
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

describe('tokenizer.json', () => {
  // A BERT-style tokenizer.json for the small vocabulary above, as Hugging Face's tokenizers writes it.
  const json = {
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]'].map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
  const fromJson = wordPieceFromTokenizerJson(json);
  it('builds the same WordPiece tokenizer, with offsets, and agrees with @huggingface/tokenizers', () => {
    for (const s of ['The CAFÉ, unaffable!', 'Naïve 中文', '"hellos."', 'unknownword 😀', '']) {
      expect(fromJson.encode(s).ids).toEqual(tok.encode(s).ids);
      expect(encodeWithHfTokenizer(json, { do_lower_case: true }, s).ids).toEqual(tok.encode(s).ids);
    }
    const pair = encodeWithHfTokenizer(json, {}, 'the cafe', 'hello');
    expect(pair.ids).toEqual(fromJson.encode('the cafe', 'hello').ids);
    expect(pair.typeIds).toEqual(fromJson.encode('the cafe', 'hello').typeIds);
  });
  it('refuses files that are not tokenizer.json', () => {
    expect(() => wordPieceFromTokenizerJson({ version: '1.0' })).toThrow(/not a tokenizer.json/);
    expect(() => wordPieceFromTokenizerJson({ model: { type: 'BPE' } })).toThrow(/is not WordPiece/);
  });
});

describe.skipIf(!existsSync(fixture))('bert-base-uncased tokenizer.json (../shared/fixtures)', () => {
  it('gives the goldens.json ids through both paths', () => {
    const json = JSON.parse(readFileSync(join(fixture, 'tokenizer.json'), 'utf8'));
    const t = wordPieceFromTokenizerJson(json);
    const goldens = JSON.parse(readFileSync(join(fixture, 'goldens.json'), 'utf8')) as {
      cases: { text: string; input_ids: number[] }[];
    };
    for (const c of goldens.cases) {
      expect(t.encode(c.text).ids).toEqual(c.input_ids);
      expect(encodeWithHfTokenizer(json, { do_lower_case: true }, c.text).ids).toEqual(c.input_ids);
    }
  });
});
