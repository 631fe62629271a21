/**
 * Byte-level BPE (GPT-2, RoBERTa) from a tokenizer.json: special tokens split out, GPT-2's
 * pre-tokenisation regex, bytes mapped to printable characters, merges applied by rank. Every
 * token keeps its character span in the source text (UTF-16 units), with leading spaces trimmed
 * as Hugging Face's `trim_offsets` does, so span answers map back to exact characters.
 */
import type { BpeSpec } from './spec.js';
import { type Piece, VocabularyTokenizer } from './tokenizer.js';

/** How a byte-level BPE tokenizer is configured (read from tokenizer.json or a bundle's lat.json). */
export interface BpeOptions {
  /** [a, b] pairs in merge order (rank = index). */
  merges: readonly (readonly [string, string])[];
  /** Text pieces never split (special and added tokens), with Hugging Face's lstrip/rstrip. */
  addedTokens?: readonly { content: string; lstrip?: boolean; rstrip?: boolean }[];
  /** Prepend a space to the text, so its first word is encoded like every other one. */
  addPrefixSpace?: boolean;
  /** Offsets leave out a token's leading/trailing spaces (default true, as Hugging Face). */
  trimOffsets?: boolean;
  /** Special tokens; default RoBERTa's `<s>`, `</s>`, `<pad>`, `<unk>`. */
  clsToken?: string;
  sepToken?: string;
  padToken?: string;
  unkToken?: string;
  /** The tokenizer's file, named in errors. */
  where?: string;
}

// GPT-2's pre-tokenisation: contractions, letters, numbers, other symbols, each with one optional
// leading space; runs of whitespace.
const WORDS = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's byte → printable character table. */
export function byteLevelChars(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const out = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return out;
}

const BYTE_CHARS = byteLevelChars();
const SPACE = BYTE_CHARS[32]!;
const encoder = new TextEncoder();

const robertaSpecialTokens = { clsToken: '<s>', sepToken: '</s>', padToken: '<pad>', unkToken: '<unk>' };

/** Byte-level BPE (GPT-2, RoBERTa) with exact character offsets; built from tokenizer.json or a bundle. */
export class BpeTokenizer extends VocabularyTokenizer {
  readonly kind = 'bpe';
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();
  private readonly added: { content: string; lstrip: boolean; rstrip: boolean; id: number }[];
  readonly pairSeparator: readonly number[];
  readonly secondTypeId = 0;
  readonly addPrefixSpace: boolean;
  readonly trimOffsets: boolean;

  constructor(
    vocab: readonly string[],
    private readonly o: BpeOptions,
  ) {
    super(vocab, o, robertaSpecialTokens, o.where ?? 'tokenizer.json');
    o.merges.forEach(([a, b], i) => {
      const key = `${a} ${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, i);
    });
    this.pairSeparator = [this.sepId, this.sepId];
    this.addPrefixSpace = o.addPrefixSpace ?? false;
    this.trimOffsets = o.trimOffsets ?? true;
    // Longest first, so `<s>` never wins over a longer token that starts the same way.
    this.added = (o.addedTokens ?? [])
      .filter((t) => t.content && this.ids.has(t.content))
      .map((t) => ({
        content: t.content,
        lstrip: !!t.lstrip,
        rstrip: !!t.rstrip,
        id: this.ids.get(t.content)!,
      }))
      .sort((a, b) => b.content.length - a.content.length);
  }

  get signature(): string {
    return JSON.stringify({
      type: 'bpe',
      vocab: this.vocab,
      merges: this.o.merges,
      added: this.added,
      prefix: this.addPrefixSpace,
    });
  }

  spec(): BpeSpec {
    return {
      type: 'bpe',
      vocab: [...this.vocab],
      merges: this.o.merges.map(([a, b]) => [a, b]),
      addedTokens: this.added.map(({ content, lstrip, rstrip }) => ({ content, lstrip, rstrip })),
      addPrefixSpace: this.addPrefixSpace,
      trimOffsets: this.trimOffsets,
      ...this.specialNames(),
    };
  }

  tokenize(text: string): Piece[] {
    const out: Piece[] = [];
    let from = 0;
    let first = true;
    const plain = (end: number) => {
      if (end > from) this.tokenizeText(text, from, end, first, out);
      first = false;
    };
    for (let i = 0; i < text.length; ) {
      const hit = this.added.find((t) => text.startsWith(t.content, i));
      if (!hit) {
        i++;
        continue;
      }
      let start = i;
      let end = i + hit.content.length;
      if (hit.lstrip) while (start > from && /\s/u.test(text[start - 1]!)) start--;
      if (hit.rstrip) while (end < text.length && /\s/u.test(text[end]!)) end++;
      plain(start);
      out.push({ id: hit.id, token: hit.content, start: i, end: i + hit.content.length });
      from = i = end;
    }
    plain(text.length);
    return out;
  }

  /** Byte-level BPE of text[from, to), appending pieces with offsets into `text`. */
  private tokenizeText(text: string, from: number, to: number, first: boolean, out: Piece[]) {
    let chunk = text.slice(from, to);
    // The prefix space stands for no source character: offset −1 marks it.
    const prefixed = first && this.addPrefixSpace && !/^\s/u.test(chunk);
    if (prefixed) chunk = ` ${chunk}`;
    for (const m of chunk.matchAll(WORDS)) {
      const word = m[0];
      // Each byte of the word's UTF-8 form → the [start, end) of the character it came from.
      const byteStart: number[] = [];
      const byteEnd: number[] = [];
      let chars = '';
      for (let i = 0; i < word.length; ) {
        const cp = word.codePointAt(i)!;
        const len = cp > 0xffff ? 2 : 1;
        const at = m.index! + i - (prefixed ? 1 : 0);
        const src = at < 0 ? -1 : from + at;
        for (const byte of encoder.encode(String.fromCodePoint(cp))) {
          chars += BYTE_CHARS[byte];
          byteStart.push(src);
          byteEnd.push(src < 0 ? -1 : src + len);
        }
        i += len;
      }
      let b = 0;
      for (const token of this.bpe(chars)) {
        const n = Array.from(token).length;
        out.push({ id: this.idOf(token), token, ...this.span(token, byteStart, byteEnd, b, b + n, from) });
        b += n;
      }
    }
  }

  /** A token's character span from its bytes [b0, b1), trimming its leading/trailing spaces. */
  private span(token: string, starts: number[], ends: number[], b0: number, b1: number, floor: number) {
    let lo = b0;
    let hi = b1;
    if (this.trimOffsets) {
      const sym = Array.from(token);
      let i = 0;
      while (i < sym.length && sym[i] === SPACE) i++;
      lo = Math.min(b0 + i, b1);
      let j = sym.length;
      while (j > i && sym[j - 1] === SPACE) j--;
      hi = Math.max(b0 + j, lo);
    }
    // Only the prefix space has no source character: it starts at the text's start.
    const start = lo < b1 ? starts[lo]! : ends[b1 - 1]!;
    const end = hi > lo ? ends[hi - 1]! : start;
    return { start: Math.max(start, floor), end: Math.max(end, floor) };
  }

  private idOf(token: string): number {
    const id = this.ids.get(token);
    if (id !== undefined) return id;
    return this.unkId;
  }

  /** Merges a word's byte characters by rank (GPT-2's loop: the best-ranked pair, everywhere, until none). */
  private bpe(word: string): string[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    let parts = Array.from(word);
    while (parts.length > 1) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = this.ranks.get(`${parts[i]} ${parts[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const [a, b] = [parts[best]!, parts[best + 1]!];
      const merged: string[] = [];
      for (let i = 0; i < parts.length; ) {
        if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) {
          merged.push(a + b);
          i += 2;
        } else merged.push(parts[i++]!);
      }
      parts = merged;
    }
    if (this.cache.size < 50_000) this.cache.set(word, parts);
    return parts;
  }

  decode(ids: readonly number[]): string {
    const byteOf = new Map(BYTE_CHARS.map((c, b) => [c, b]));
    const specials = new Set([this.clsId, this.sepId, this.padId]);
    const bytes: number[] = [];
    for (const id of ids) {
      if (specials.has(id)) continue;
      for (const ch of this.vocab[id] ?? '') {
        const b = byteOf.get(ch);
        if (b !== undefined) bytes.push(b);
      }
    }
    return new TextDecoder().decode(Uint8Array.from(bytes));
  }
}
