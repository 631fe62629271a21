/**
 * A tokenizer as plain data — what `Tokenizer.spec()` returns and a bundle's lat.json stores —
 * its validation, and the tokenizer rebuilt from it. One entry per {@link TokenizerKind}.
 */
import { BpeTokenizer } from './bpe.js';
import type { SpecialTokenNames, Tokenizer, TokenizerKind } from './tokenizer.js';
import { WordPieceTokenizer } from './wordpiece.js';

/** A WordPiece tokenizer (BERT, DistilBERT): its vocabulary and casing. */
export interface WordPieceSpec extends SpecialTokenNames {
  type: 'wordpiece';
  /** The vocabulary, one token per id. */
  vocab: string[];
  /** Lower-case the text first (default true, as BERT uncased). */
  doLowerCase: boolean;
  /** Defaults to doLowerCase. */
  stripAccents?: boolean;
  /** Longer words become the unknown token; default 100. */
  maxInputCharsPerWord?: number;
}

/** A byte-level BPE tokenizer (RoBERTa): vocabulary, merges and how text is pre-split. */
export interface BpeSpec extends SpecialTokenNames {
  type: 'bpe';
  /** The vocabulary, one token per id, in GPT-2's byte-to-character alphabet. */
  vocab: string[];
  /** [a, b] pairs in merge order (rank = index). */
  merges: [string, string][];
  /** Tokens never split (special and added ones), with Hugging Face's lstrip/rstrip. */
  addedTokens: { content: string; lstrip?: boolean; rstrip?: boolean }[];
  /** A space is put before the text, so its first word is encoded like the others. */
  addPrefixSpace: boolean;
  /** Character offsets leave out the spaces a token starts or ends with. */
  trimOffsets: boolean;
}

/** Any tokenizer lat can rebuild from data. */
export type TokenizerSpec = WordPieceSpec | BpeSpec;

type Fail = (field: string, message: string) => never;

interface Kind<S extends TokenizerSpec> {
  /** Checks the fields besides `type`, vocab and the special tokens. */
  check(t: Record<string, unknown>, fail: Fail): void;
  build(spec: S, where?: string): Tokenizer;
}

const isBool = (v: unknown) => typeof v === 'boolean';

const kinds: { [K in TokenizerKind]: Kind<Extract<TokenizerSpec, { type: K }>> } = {
  wordpiece: {
    check(t, fail) {
      for (const k of ['doLowerCase', 'stripAccents'])
        if (t[k] !== undefined && !isBool(t[k])) fail(k, 'must be true or false');
      const max = t['maxInputCharsPerWord'];
      if (max !== undefined && !(Number.isInteger(max) && (max as number) > 0))
        fail('maxInputCharsPerWord', 'must be a positive integer');
    },
    build: (s, where) =>
      new WordPieceTokenizer(s.vocab, {
        doLowerCase: s.doLowerCase,
        ...(s.stripAccents !== undefined ? { stripAccents: s.stripAccents } : {}),
        ...(s.maxInputCharsPerWord !== undefined ? { maxInputCharsPerWord: s.maxInputCharsPerWord } : {}),
        ...specialNames(s),
        ...(where ? { where } : {}),
      }),
  },
  bpe: {
    check(t, fail) {
      const merges = t['merges'];
      if (!Array.isArray(merges)) return fail('merges', 'must be an array of [a, b] token pairs');
      const bad = merges.findIndex(
        (m) => !Array.isArray(m) || m.length !== 2 || m.some((x) => typeof x !== 'string' || !x),
      );
      if (bad >= 0)
        fail(`merges[${bad}]`, `must be a pair of non-empty strings, got ${JSON.stringify(merges[bad])}`);
      const added = t['addedTokens'];
      if (!Array.isArray(added))
        return fail('addedTokens', 'must be an array of { content, lstrip, rstrip }');
      added.forEach((a, i) => {
        const x = (a ?? {}) as Record<string, unknown>;
        if (typeof x['content'] !== 'string' || !x['content'])
          fail(`addedTokens[${i}].content`, 'must be a non-empty string');
        for (const k of ['lstrip', 'rstrip'])
          if (x[k] !== undefined && !isBool(x[k])) fail(`addedTokens[${i}].${k}`, 'must be true or false');
      });
      for (const k of ['addPrefixSpace', 'trimOffsets']) if (!isBool(t[k])) fail(k, 'must be true or false');
    },
    build: (s, where) =>
      new BpeTokenizer(s.vocab, {
        merges: s.merges,
        addedTokens: s.addedTokens,
        addPrefixSpace: s.addPrefixSpace,
        trimOffsets: s.trimOffsets,
        ...specialNames(s),
        ...(where ? { where } : {}),
      }),
  },
};

function specialNames(s: SpecialTokenNames): SpecialTokenNames {
  return { clsToken: s.clsToken, sepToken: s.sepToken, padToken: s.padToken, unkToken: s.unkToken };
}

/** The tokenizer kinds a spec may name. */
export const tokenizerKinds = Object.keys(kinds) as TokenizerKind[];

/**
 * Checks that `value` is a {@link TokenizerSpec}; `fail` gets the field at fault (relative to the
 * spec, e.g. `merges[3]`) and what is wrong, and must throw.
 */
export function checkTokenizerSpec(value: unknown, fail: Fail): TokenizerSpec {
  if (typeof value !== 'object' || value === null) return fail('', 'missing');
  const t = value as Record<string, unknown>;
  const kind = kinds[t['type'] as TokenizerKind];
  if (!tokenizerKinds.includes(t['type'] as TokenizerKind))
    fail(
      'type',
      `must be ${tokenizerKinds.map((k) => `"${k}"`).join(' or ')}, got ${JSON.stringify(t['type'])}`,
    );
  const vocab = t['vocab'];
  if (!Array.isArray(vocab) || vocab.length === 0 || vocab.some((v) => typeof v !== 'string'))
    fail('vocab', 'must be a non-empty array of strings');
  for (const k of ['clsToken', 'sepToken', 'padToken', 'unkToken'])
    if (!(vocab as string[]).includes(t[k] as string)) fail(k, 'is not in the vocabulary');
  kind.check(t, fail);
  return value as TokenizerSpec;
}

/** The tokenizer a spec describes; `where` (its file) is named in errors. */
export function tokenizerFromSpec(spec: TokenizerSpec, where?: string): Tokenizer {
  return (kinds[spec.type] as Kind<TokenizerSpec>).build(spec, where);
}
