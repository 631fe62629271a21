/**
 * Hugging Face `tokenizer.json`. WordPiece tokenizers (BERT, DistilBERT) become lat's
 * WordPieceTokenizer — same ids, plus the character offsets span decoding needs — configured
 * from the file's normalizer and special tokens. Other models (BPE, Unigram) are encoded by
 * @huggingface/tokenizers, which gives ids but no offsets.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { LatError } from '../errors.js';
import { WordPieceTokenizer } from './wordpiece.js';

interface TokenizerJson {
  model?: {
    type?: string;
    vocab?: Record<string, number> | [string, number][];
    unk_token?: string;
    max_input_chars_per_word?: number;
  };
  normalizer?: { type?: string; lowercase?: boolean; strip_accents?: boolean | null } | null;
  post_processor?: { cls?: [string, number]; sep?: [string, number] } | null;
  added_tokens?: { content: string; special?: boolean }[];
}

/** A WordPieceTokenizer from a Hugging Face `tokenizer.json` (WordPiece model) and its tokenizer_config.json. */
export function wordPieceFromTokenizerJson(
  raw: unknown,
  config: Record<string, unknown> = {},
  where = 'tokenizer.json',
): WordPieceTokenizer {
  const j = raw as TokenizerJson;
  if (typeof raw !== 'object' || raw === null || typeof j.model !== 'object' || j.model === null) {
    throw new LatError('BAD_FILE', 'not a tokenizer.json (no "model")', where);
  }
  if (j.model.type !== 'WordPiece') {
    throw new LatError(
      'UNSUPPORTED',
      `model type ${j.model.type} is not WordPiece; use encodeWithHfTokenizer for ids`,
      `${where}#model.type`,
    );
  }
  const entries: unknown[] = Array.isArray(j.model.vocab)
    ? j.model.vocab
    : typeof j.model.vocab === 'object' && j.model.vocab !== null
      ? Object.entries(j.model.vocab)
      : [];
  const vocab: string[] = [];
  for (const entry of entries) {
    const [token, id] = Array.isArray(entry) ? entry : [];
    // Ids run 0..n-1: a larger one would make a tiny file allocate a huge vocabulary.
    if (typeof token !== 'string' || !Number.isInteger(id) || id < 0 || id >= entries.length)
      throw new LatError(
        'BAD_FILE',
        `entry ${JSON.stringify(entry)?.slice(0, 40)} is not a [token, id] with id in 0..${entries.length - 1}`,
        `${where}#model.vocab`,
      );
    vocab[id] = token;
  }
  for (let i = 0; i < vocab.length; i++) vocab[i] ??= `[unused-id-${i}]`;
  const norm = typeof j.normalizer === 'object' && j.normalizer !== null ? j.normalizer : {};
  const flag = (v: unknown) => (typeof v === 'boolean' ? v : undefined);
  const text = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);
  const lower = flag(norm.lowercase) ?? flag(config['do_lower_case']) ?? true;
  const maxChars = j.model.max_input_chars_per_word;
  return new WordPieceTokenizer(vocab, {
    doLowerCase: lower,
    stripAccents: flag(norm.strip_accents) ?? lower,
    unkToken: text(j.model.unk_token, '[UNK]'),
    clsToken: text(j.post_processor?.cls?.[0], '[CLS]'),
    sepToken: text(j.post_processor?.sep?.[0], '[SEP]'),
    ...(Number.isInteger(maxChars) && maxChars! > 0 ? { maxInputCharsPerWord: maxChars! } : {}),
    where,
  });
}

/** Ids (with special tokens, and token types for pairs) from @huggingface/tokenizers, for any tokenizer.json. */
export function encodeWithHfTokenizer(
  raw: unknown,
  config: Record<string, unknown>,
  text: string,
  pair?: string,
) {
  const t = new Tokenizer(raw as object, config);
  const e = t.encode(text, {
    ...(pair !== undefined ? { text_pair: pair } : {}),
    return_token_type_ids: true,
  });
  return { ids: e.ids, tokens: e.tokens, attentionMask: e.attention_mask, typeIds: e.token_type_ids };
}
