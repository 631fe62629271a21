import { describe, expect, it } from 'vitest';
import { byteLevelBpeTokenizerJson } from '../testing/bpe.js';
import { encodeWithHfTokenizer } from '../testing/hf-tokenizers.js';
import { BpeTokenizer } from './bpe.js';
import { checkTokenizerSpec, tokenizerFromSpec } from './spec.js';
import { bpeFromVocabMerges, tokenizerFromJson } from './tokenizer-json.js';

const corpus = [
  'The quick brown fox jumps over the lazy dog.',
  "It's a gripping film; the actors don't overdo it, and the ending isn't what you'd expect.",
  'Über café naïve résumé — 東京 and 2024 numbers: 3.14, 42!',
  'the the the then there their other brother',
];
const json = byteLevelBpeTokenizerJson(corpus, 120);
const tok = tokenizerFromJson(json) as BpeTokenizer;
const texts = [
  'The quick brown fox.',
  "  it's   a film\tthat  isn't\nbad ",
  'Über café naïve 😀 東京 2024!',
  'unseen wordz like zyxq',
  'a <mask> token and </s> inside',
  '',
];

describe('byte-level BPE from tokenizer.json', () => {
  it('gives the ids and token types of @huggingface/tokenizers, single and pairs', () => {
    expect(tok).toBeInstanceOf(BpeTokenizer);
    for (const t of texts) expect(tok.encode(t).ids, t).toEqual(encodeWithHfTokenizer(json, {}, t).ids);
    const hf = encodeWithHfTokenizer(json, {}, 'the question?', 'the context, here');
    const ours = tok.encode('the question?', 'the context, here');
    expect(ours.ids).toEqual(hf.ids);
    // HF's RobertaProcessing marks the pair with type 1, but RoBERTa has one token type (and its
    // tokenizer does not return them): the model must see zeros.
    expect(ours.typeIds.every((t) => t === 0)).toBe(true);
    expect(ours.ids.filter((id) => id === 2)).toHaveLength(3); // <s> q </s></s> c </s>
  });

  it('with add_prefix_space, like RoBERTa QA tokenizers', () => {
    const prefixed = byteLevelBpeTokenizerJson(corpus, 120, { addPrefixSpace: true });
    const t = tokenizerFromJson(prefixed);
    for (const s of texts) expect(t.encode(s).ids, s).toEqual(encodeWithHfTokenizer(prefixed, {}, s).ids);
    // The prefix space has no source character: the first word's span starts at 0.
    expect(t.tokenize('The fox')[0]).toMatchObject({ start: 0 });
  });

  it('keeps exact character offsets, spaces trimmed, through multi-byte characters', () => {
    for (const text of texts) {
      for (const p of tok.tokenize(text)) {
        const surface = text.slice(p.start, p.end);
        const decoded = tok.decode([p.id]);
        if (p.token.startsWith('<')) expect(surface).toBe(p.token);
        // A token holding part of a multi-byte character spans that whole character.
        else if (decoded.includes('\ufffd')) expect(surface.length).toBeGreaterThan(0);
        else if (decoded.trim()) expect(surface).toBe(decoded.trim());
      }
    }
    const text = 'over the lazy dog';
    const spans = tok.tokenize(text).map((p) => text.slice(p.start, p.end));
    expect(spans.join(' ')).toBe(spans.join(' ').trim());
    expect(spans.filter((s) => s.startsWith(' '))).toEqual([]);
    expect(tok.decode(tok.encode(texts[2]!).ids)).toBe(texts[2]);
  });

  it('truncates and pads like the WordPiece tokenizer', () => {
    const e = tok.encode('the quick brown fox jumps', 'over the lazy dog', {
      maxLength: 10,
      padding: 'max_length',
    });
    expect(e.ids).toHaveLength(10);
    const p = tok.encode('the', undefined, { maxLength: 6, padding: 'max_length' });
    expect(p.attentionMask).toEqual([1, 1, 1, 0, 0, 0]);
    expect(p.ids.slice(3)).toEqual([1, 1, 1]);
  });

  it('refuses BPE files without a ByteLevel pre-tokenizer', () => {
    expect(() => tokenizerFromJson({ ...json, pre_tokenizer: { type: 'Whitespace' } })).toThrow(/ByteLevel/);
    expect(() => tokenizerFromJson({ model: { type: 'Unigram' } })).toThrow(/not supported/);
  });
  it('round-trips through its spec (what a bundle stores): same ids, offsets and signature', () => {
    for (const t of [
      tok,
      tokenizerFromJson(byteLevelBpeTokenizerJson(corpus, 120, { addPrefixSpace: true })),
    ]) {
      const spec = JSON.parse(JSON.stringify(t.spec()));
      expect(spec).toMatchObject({ type: 'bpe', clsToken: '<s>', sepToken: '</s>', padToken: '<pad>' });
      const fail = (field: string, msg: string): never => {
        throw new Error(`${field}: ${msg}`);
      };
      const back = tokenizerFromSpec(checkTokenizerSpec(spec, fail));
      expect(back.signature).toBe(t.signature);
      for (const text of [...texts, 'the question?']) {
        expect(back.encode(text, 'a <mask> pair')).toEqual(t.encode(text, 'a <mask> pair'));
      }
    }
  });
  it('reads a slow tokenizer’s vocab.json + merges.txt as tokenizer.json describes it', () => {
    for (const addPrefixSpace of [false, true]) {
      const j = byteLevelBpeTokenizerJson(corpus, 120, { addPrefixSpace });
      const merges = `#version: 0.2\n${j.model.merges.join('\n')}\n`;
      // tokenizer_config.json as transformers writes it: special tokens as AddedToken objects.
      const config = { add_prefix_space: addPrefixSpace, mask_token: { content: '<mask>', lstrip: true } };
      const slow = bpeFromVocabMerges(j.model.vocab, merges, config);
      const fast = tokenizerFromJson(j);
      expect(slow.signature).toBe(fast.signature);
      for (const t of [...texts, 'a <mask> token'])
        expect(slow.encode(t, 'the context, here')).toEqual(fast.encode(t, 'the context, here'));
    }
    expect(() => bpeFromVocabMerges(json.model.vocab, '#version: 0.2\nĠ t\nbad\n')).toThrow(
      /^merges.txt: line 3 is not a merge "a b": "bad"/,
    );
    expect(() => bpeFromVocabMerges(['<s>'], '')).toThrow(/^vocab.json: not a vocab.json/);
  });
});
