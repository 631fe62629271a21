/**
 * BERT's tokenizer: a BasicTokenizer (clean-up, optional lower-casing and accent stripping,
 * CJK characters and punctuation split off, whitespace split) followed by greedy longest-match
 * WordPiece with `##` continuations. Built from a vocabulary array, so it runs in browsers too.
 * Every token keeps its character span [start, end) in the original string (UTF-16 units).
 */
import type { WordPieceSpec } from './spec.js';
import { type Piece, VocabularyTokenizer } from './tokenizer.js';

/** Tokenizer options, as in tokenizer_config.json (special tokens default to BERT's). */
export interface WordPieceOptions {
  doLowerCase?: boolean;
  /** Defaults to doLowerCase, as in Hugging Face's BertTokenizer. */
  stripAccents?: boolean;
  unkToken?: string;
  clsToken?: string;
  sepToken?: string;
  padToken?: string;
  maxInputCharsPerWord?: number;
  /** The vocabulary's file, named in errors. */
  where?: string;
}

const bertSpecialTokens = { clsToken: '[CLS]', sepToken: '[SEP]', padToken: '[PAD]', unkToken: '[UNK]' };

/** BERT's WordPiece tokenizer (basic tokenization, accent stripping, greedy longest-match sub-words) with character offsets. */
export class WordPieceTokenizer extends VocabularyTokenizer {
  readonly kind = 'wordpiece';
  readonly doLowerCase: boolean;
  readonly stripAccents: boolean;
  readonly pairSeparator: readonly number[];
  readonly secondTypeId = 1;
  private readonly maxChars: number;
  /** The longest vocabulary entry in UTF-16 units (a piece's code points are at most as many). */
  private readonly longestToken: number;

  constructor(vocab: readonly string[], o: WordPieceOptions = {}) {
    super(vocab, o, bertSpecialTokens, o.where ?? 'vocab');
    this.doLowerCase = o.doLowerCase ?? true;
    this.stripAccents = o.stripAccents ?? this.doLowerCase;
    this.maxChars = o.maxInputCharsPerWord ?? 100;
    this.longestToken = vocab.reduce((n, t) => Math.max(n, t.length), 0);
    this.pairSeparator = [this.sepId];
  }

  get signature(): string {
    return JSON.stringify({
      type: 'wordpiece',
      lower: this.doLowerCase,
      accents: this.stripAccents,
      vocab: this.vocab,
    });
  }

  spec(): WordPieceSpec {
    return {
      type: 'wordpiece',
      vocab: [...this.vocab],
      doLowerCase: this.doLowerCase,
      stripAccents: this.stripAccents,
      ...(this.maxChars !== 100 ? { maxInputCharsPerWord: this.maxChars } : {}),
      ...this.specialNames(),
    };
  }

  /** WordPiece pieces of one text, with character offsets. */
  tokenize(text: string): Piece[] {
    const out: Piece[] = [];
    for (const w of this.basicWords(text)) this.wordPiece(w, out);
    return out;
  }

  /** Words after the BasicTokenizer, with their spans in `text` and their normalised form. */
  private basicWords(text: string): { norm: string; start: number; end: number }[] {
    const words: { norm: string; start: number; end: number }[] = [];
    let cur = '';
    let curStart = -1;
    let curEnd = -1;
    const flush = () => {
      if (cur) words.push({ norm: cur, start: curStart, end: curEnd });
      cur = '';
      curStart = -1;
    };
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      if (cp < 0x80) {
        // ASCII, most of any English text: the rules below without regexes or normalisation
        // (lower-casing is A–Z only; NFD and accent stripping leave ASCII as it is).
        if (cp === 32 || cp === 9 || cp === 10 || cp === 13) flush();
        else if (cp < 32 || cp === 127) {
          // control characters are dropped
        } else if (isPunctuation(cp)) {
          flush();
          words.push({ norm: text[i]!, start: i, end: i + 1 });
        } else {
          if (!cur) curStart = i;
          cur += this.doLowerCase && cp >= 65 && cp <= 90 ? String.fromCharCode(cp + 32) : text[i]!;
          curEnd = i + 1;
        }
        i++;
        continue;
      }
      const len = cp > 0xffff ? 2 : 1;
      const ch = String.fromCodePoint(cp);
      if (cp === 0 || cp === 0xfffd || isControl(ch)) {
        i += len;
        continue;
      }
      if (isWhitespace(ch)) {
        flush();
      } else if (isPunctuation(cp) || isCjk(cp)) {
        flush();
        const norm = this.normalize(ch);
        if (norm) words.push({ norm, start: i, end: i + len });
      } else {
        const norm = this.normalize(ch);
        if (norm) {
          if (!cur) curStart = i;
          cur += norm;
          curEnd = i + len;
        }
      }
      i += len;
    }
    flush();
    return words;
  }

  private normalize(ch: string): string {
    let s = this.doLowerCase ? ch.toLowerCase() : ch;
    if (this.stripAccents) s = s.normalize('NFD').replace(/\p{Mn}/gu, '');
    return s;
  }

  private wordPiece(w: { norm: string; start: number; end: number }, out: Piece[]) {
    // Characters are code points; a word without surrogate pairs is cut as a string directly.
    const chars = hasSurrogates(w.norm) ? Array.from(w.norm) : undefined;
    const length = chars ? chars.length : w.norm.length;
    if (length > this.maxChars) {
      out.push({ id: this.unkId, token: this.vocab[this.unkId]!, start: w.start, end: w.end });
      return;
    }
    // Offsets inside a word: normalisation can change lengths (e.g. stripped accents), so pieces
    // map proportionally back onto the word's span, exactly at its ends.
    const pieces: { id: number; token: string; from: number; to: number }[] = [];
    let start = 0;
    while (start < length) {
      // No vocabulary entry is longer than longestToken UTF-16 units, so longer pieces are skipped.
      let end = Math.min(length, start + this.longestToken);
      let found: number | undefined;
      let sub = '';
      while (start < end) {
        sub = (start > 0 ? '##' : '') + (chars ? chars.slice(start, end).join('') : w.norm.slice(start, end));
        found = this.ids.get(sub);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) {
        out.push({ id: this.unkId, token: this.vocab[this.unkId]!, start: w.start, end: w.end });
        return;
      }
      pieces.push({ id: found, token: sub, from: start, to: end });
      start = end;
    }
    const span = w.end - w.start;
    const scale = span / length;
    for (const p of pieces) {
      out.push({
        id: p.id,
        token: p.token,
        start: w.start + Math.round(p.from * scale),
        end: p.to === length ? w.end : w.start + Math.round(p.to * scale),
      });
    }
  }

  decode(ids: readonly number[]): string {
    return ids
      .filter((id) => id !== this.clsId && id !== this.sepId && id !== this.padId)
      .map((id) => this.vocab[id] ?? '')
      .join(' ')
      .replace(/ ##/g, '');
  }
}

function hasSurrogates(s: string): boolean {
  for (let i = 0; i < s.length; i++) if ((s.charCodeAt(i) & 0xf800) === 0xd800) return true;
  return false;
}

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /^\p{Zs}$/u.test(ch);
}

function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return /^\p{C}$/u.test(ch);
}

function isPunctuation(cp: number): boolean {
  // BERT treats all non-letter/number ASCII as punctuation, plus Unicode P* categories.
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true;
  return /^\p{P}$/u.test(String.fromCodePoint(cp));
}

function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}
