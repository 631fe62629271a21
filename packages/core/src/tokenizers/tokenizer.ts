/**
 * What every lat tokenizer gives its users: ids with character offsets (UTF-16 units of the
 * source text) and the model's special-token layout, so span decoding, windowed QA and training
 * work the same for WordPiece (BERT, DistilBERT) and byte-level BPE (RoBERTa).
 */
import { LatError } from '../errors.js';
import type { TokenizerSpec } from './spec.js';

/** One token of a text: its id, its string and where it came from. */
export interface Piece {
  id: number;
  token: string;
  /** [start, end) in the source text. */
  start: number;
  end: number;
}

/** An encoded input: ids with their segment ids, mask and character offsets. */
export interface Encoding {
  ids: number[];
  tokens: string[];
  typeIds: number[];
  attentionMask: number[];
  /** [start, end) in the source text; [0, 0] for special and padding tokens. */
  offsets: [number, number][];
  /** 0 for the first text, 1 for the pair, -1 for special tokens and padding. */
  sequenceIds: number[];
}

/** Truncation and padding for `encode`. */
export interface EncodeOptions {
  maxLength?: number;
  /** Which text to shorten when a pair is too long (Hugging Face's strategies). */
  truncation?: 'longest_first' | 'only_first' | 'only_second' | false;
  /** 'max_length' pads to maxLength. */
  padding?: 'max_length' | false;
}

/** How special tokens wrap one text or a pair: `cls a sep`, `cls a pairSeparator b sep`. */
export interface SpecialLayout {
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  /** Between a pair's texts: [SEP] for BERT, </s></s> for RoBERTa. */
  readonly pairSeparator: readonly number[];
  /** Token type of the second text and its closing token: 1 for BERT, 0 for RoBERTa. */
  readonly secondTypeId: 0 | 1;
}

/** The tokenizer families lat implements (a bundle's `tokenizer.type`). */
export type TokenizerKind = 'wordpiece' | 'bpe';

/** A tokenizer lat can use: WordPiece (BERT, DistilBERT) or byte-level BPE (RoBERTa). */
export interface Tokenizer extends SpecialLayout {
  readonly kind: TokenizerKind;
  readonly vocab: readonly string[];
  readonly unkId: number;
  /** Changes whenever tokenisation would (for cache keys). */
  readonly signature: string;
  tokenId(token: string): number | undefined;
  /** Pieces of one text, without special tokens, with character offsets. */
  tokenize(text: string): Piece[];
  encode(text: string, pair?: string, o?: EncodeOptions): Encoding;
  decode(ids: readonly number[]): string;
  /** Everything needed to rebuild this tokenizer (what a bundle's lat.json stores). */
  spec(): TokenizerSpec;
}

/** The special tokens' names: `[CLS]`… for BERT, `<s>`… for RoBERTa. */
export interface SpecialTokenNames {
  clsToken: string;
  sepToken: string;
  padToken: string;
  unkToken: string;
}

/**
 * What WordPiece and BPE share: the vocabulary's token → id map, the special tokens' ids, and
 * `encode` as `tokenize` wrapped by {@link assemble}. Subclasses split text into pieces.
 */
export abstract class VocabularyTokenizer implements Tokenizer {
  abstract readonly kind: TokenizerKind;
  abstract readonly pairSeparator: readonly number[];
  abstract readonly secondTypeId: 0 | 1;
  protected readonly ids: Map<string, number>;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;

  /**
   * `special` names the special tokens (`defaults` fill the ones it leaves out); `where` is the
   * vocabulary's file, named when one of them is missing.
   */
  constructor(
    readonly vocab: readonly string[],
    special: Partial<SpecialTokenNames>,
    defaults: SpecialTokenNames,
    where: string,
  ) {
    const ids = new Map<string, number>();
    vocab.forEach((t, i) => {
      if (!ids.has(t)) ids.set(t, i); // the first id of a repeated token
    });
    const id = (token: string, field: string): number => {
      const found = ids.get(token);
      if (found === undefined)
        throw new LatError(
          'BAD_FILE',
          `special token ${token} is not in the vocabulary`,
          `${where}#${field}`,
        );
      return found;
    };
    this.ids = ids;
    this.unkId = id(special.unkToken ?? defaults.unkToken, 'unk_token');
    this.clsId = id(special.clsToken ?? defaults.clsToken, 'cls_token');
    this.sepId = id(special.sepToken ?? defaults.sepToken, 'sep_token');
    this.padId = id(special.padToken ?? defaults.padToken, 'pad_token');
  }

  abstract get signature(): string;
  abstract tokenize(text: string): Piece[];
  abstract decode(ids: readonly number[]): string;
  abstract spec(): TokenizerSpec;

  tokenId(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** The special tokens' names, as the vocabulary spells them. */
  protected specialNames(): SpecialTokenNames {
    const name = (id: number) => this.vocab[id]!;
    return {
      clsToken: name(this.clsId),
      sepToken: name(this.sepId),
      padToken: name(this.padId),
      unkToken: name(this.unkId),
    };
  }

  /** `cls a sep` or `cls a pairSeparator b sep`, truncated and padded as asked. */
  encode(text: string, pair?: string, o: EncodeOptions = {}): Encoding {
    return assemble(this, this.tokenize(text), pair === undefined ? undefined : this.tokenize(pair), o);
  }
}

/** Truncates, wraps in special tokens and pads, as Hugging Face's tokenizers do. */
export function assemble(
  t: SpecialLayout & { readonly vocab: readonly string[] },
  first: Piece[],
  second: Piece[] | undefined,
  o: EncodeOptions,
): Encoding {
  let a = first;
  let b = second;
  const special = b ? 2 + t.pairSeparator.length : 2;
  const max = o.maxLength;
  if (max !== undefined && o.truncation !== false) {
    const budget = max - special;
    if (budget < 0)
      throw new LatError('BAD_INPUT', `maxLength ${max} leaves no room for the special tokens`, 'maxLength');
    const strategy = o.truncation ?? 'longest_first';
    if (!b) a = a.slice(0, budget);
    else if (strategy === 'only_first') a = a.slice(0, Math.max(0, budget - b.length));
    else if (strategy === 'only_second') b = b.slice(0, Math.max(0, budget - a.length));
    else {
      while (a.length + b.length > budget) {
        if (a.length > b.length) a = a.slice(0, -1);
        else b = b.slice(0, -1);
      }
    }
    if (a.length + (b?.length ?? 0) > budget) {
      throw new LatError(
        'BAD_INPUT',
        `the ${strategy} strategy cannot fit the pair into ${max} tokens`,
        'truncation',
      );
    }
  }
  const e: Encoding = { ids: [], tokens: [], typeIds: [], attentionMask: [], offsets: [], sequenceIds: [] };
  const push = (id: number, token: string, type: number, off: [number, number], seq: number) => {
    e.ids.push(id);
    e.tokens.push(token);
    e.typeIds.push(type);
    e.attentionMask.push(1);
    e.offsets.push(off);
    e.sequenceIds.push(seq);
  };
  const sp = (id: number, type: number) => push(id, t.vocab[id]!, type, [0, 0], -1);
  sp(t.clsId, 0);
  for (const p of a) push(p.id, p.token, 0, [p.start, p.end], 0);
  if (b) {
    for (const id of t.pairSeparator) sp(id, 0);
    for (const p of b) push(p.id, p.token, t.secondTypeId, [p.start, p.end], 1);
    sp(t.sepId, t.secondTypeId);
  } else sp(t.sepId, 0);
  if (o.padding === 'max_length' && max !== undefined) {
    while (e.ids.length < max) {
      sp(t.padId, 0);
      e.attentionMask[e.attentionMask.length - 1] = 0;
    }
  }
  return e;
}
