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

export function wordPieceFromTokenizerJson(
  raw: unknown,
  config: Record<string, unknown> = {},
  where = 'tokenizer.json',
): WordPieceTokenizer {
  const j = raw as TokenizerJson;
  if (typeof raw !== 'object' || raw === null || typeof j.model !== 'object') {
    throw new LatError('BAD_FILE', 'not a tokenizer.json (no "model")', where);
  }
  if (j.model.type !== 'WordPiece') {
    throw new LatError(
      'UNSUPPORTED',
      `model type ${j.model.type} is not WordPiece; use encodeWithHfTokenizer for ids`,
      `${where}#model.type`,
    );
  }
  const entries = Array.isArray(j.model.vocab) ? j.model.vocab : Object.entries(j.model.vocab ?? {});
  const vocab: string[] = [];
  for (const [token, id] of entries) {
    if (!Number.isInteger(id) || id < 0 || id > 10_000_000)
      throw new LatError('BAD_FILE', `token ${token} has id ${id}`, `${where}#model.vocab`);
    vocab[id] = token;
  }
  for (let i = 0; i < vocab.length; i++) vocab[i] ??= `[unused-id-${i}]`;
  const norm = j.normalizer ?? {};
  const lower = norm.lowercase ?? (config['do_lower_case'] as boolean | undefined) ?? true;
  return new WordPieceTokenizer(vocab, {
    doLowerCase: lower,
    stripAccents: norm.strip_accents ?? lower,
    unkToken: j.model.unk_token ?? '[UNK]',
    clsToken: j.post_processor?.cls?.[0] ?? '[CLS]',
    sepToken: j.post_processor?.sep?.[0] ?? '[SEP]',
    ...(j.model.max_input_chars_per_word ? { maxInputCharsPerWord: j.model.max_input_chars_per_word } : {}),
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
