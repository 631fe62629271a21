/**
 * Hugging Face `tokenizer.json` → lat's own tokenizers (same ids, plus the character offsets span
 * decoding needs): WordPiece (BERT, DistilBERT) configured from the file's normalizer and special
 * tokens, byte-level BPE (RoBERTa) from its vocabulary, merges, pre-tokenizer and post-processor —
 * or from a slow tokenizer's vocab.json + merges.txt.
 */
import { LatError } from '../errors.js';
import { BpeTokenizer } from './bpe.js';
import type { Tokenizer } from './tokenizer.js';
import { WordPieceTokenizer } from './wordpiece.js';

interface TokenizerJson {
  model?: {
    type?: string;
    vocab?: Record<string, number> | [string, number][];
    merges?: (string | [string, string])[];
    unk_token?: string | null;
    max_input_chars_per_word?: number;
  };
  normalizer?: { type?: string; lowercase?: boolean; strip_accents?: boolean | null } | null;
  pre_tokenizer?: { type?: string; add_prefix_space?: boolean; pretokenizers?: unknown[] } | null;
  post_processor?: {
    type?: string;
    cls?: [string, number];
    sep?: [string, number];
    trim_offsets?: boolean;
    add_prefix_space?: boolean;
  } | null;
  added_tokens?: { content: string; id?: number; special?: boolean; lstrip?: boolean; rstrip?: boolean }[];
}

/** A tokenizer.json's tokenizer: WordPiece or byte-level BPE. */
export function tokenizerFromJson(
  raw: unknown,
  config: Record<string, unknown> = {},
  where = 'tokenizer.json',
): Tokenizer {
  const j = raw as TokenizerJson;
  if (typeof raw !== 'object' || raw === null || typeof j.model !== 'object' || j.model === null)
    throw new LatError('BAD_FILE', 'not a tokenizer.json (no "model")', where);
  if (j.model.type === 'WordPiece') return wordPieceFromTokenizerJson(raw, config, where);
  if (j.model.type === 'BPE') return bpeFromTokenizerJson(j, config, where);
  throw new LatError(
    'UNSUPPORTED',
    `model type ${j.model.type} is not supported; lat reads WordPiece and byte-level BPE tokenizers`,
    `${where}#model.type`,
  );
}

function vocabArray(j: TokenizerJson, where: string): string[] {
  const v = j.model?.vocab;
  const entries: unknown[] = Array.isArray(v)
    ? v
    : typeof v === 'object' && v !== null
      ? Object.entries(v)
      : [];
  const added = Array.isArray(j.added_tokens) ? j.added_tokens : [];
  // Ids run 0..n-1 (added tokens may follow): a larger one would make a tiny file allocate a huge vocabulary.
  const size = entries.length + added.length;
  const vocab: string[] = [];
  for (const entry of entries) {
    const [token, id] = Array.isArray(entry) ? entry : [];
    if (typeof token !== 'string' || !Number.isInteger(id) || id < 0 || id >= size)
      throw new LatError(
        'BAD_FILE',
        `entry ${JSON.stringify(entry)?.slice(0, 40)} is not a [token, id] with id in 0..${size - 1}`,
        `${where}#model.vocab`,
      );
    vocab[id] = token;
  }
  for (const t of added) {
    const id = (t as { id?: unknown } | null)?.id;
    if (
      typeof t?.content === 'string' &&
      Number.isInteger(id) &&
      (id as number) >= 0 &&
      (id as number) < size
    )
      vocab[id as number] ??= t.content;
  }
  for (let i = 0; i < vocab.length; i++) vocab[i] ??= `[unused-id-${i}]`;
  return vocab;
}

function bpeFromTokenizerJson(
  j: TokenizerJson,
  config: Record<string, unknown>,
  where: string,
): BpeTokenizer {
  const pre = j.pre_tokenizer;
  const byteLevel =
    pre?.type === 'ByteLevel'
      ? pre
      : (pre?.pretokenizers as { type?: string; add_prefix_space?: boolean }[] | undefined)?.find(
          (p) => p.type === 'ByteLevel',
        );
  if (!byteLevel) {
    throw new LatError(
      'UNSUPPORTED',
      `BPE without a ByteLevel pre-tokenizer (got ${pre?.type ?? 'none'}) is not supported; lat reads GPT-2/RoBERTa-style byte-level BPE`,
      `${where}#pre_tokenizer`,
    );
  }
  const rawMerges: unknown[] = Array.isArray(j.model?.merges) ? j.model.merges : [];
  const merges = rawMerges.map((m, i): [string, string] => {
    const pair = typeof m === 'string' ? m.split(' ') : Array.isArray(m) ? m : [];
    if (pair.length !== 2 || pair.some((x) => typeof x !== 'string'))
      throw new LatError('BAD_FILE', `merge ${i} is ${JSON.stringify(m)}`, `${where}#model.merges`);
    return [pair[0]!, pair[1]!];
  });
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const pp = j.post_processor;
  return new BpeTokenizer(vocabArray(j, where), {
    merges,
    addedTokens: (Array.isArray(j.added_tokens) ? j.added_tokens : []).filter(
      (t) => typeof t?.content === 'string',
    ),
    addPrefixSpace: byteLevel.add_prefix_space ?? false,
    trimOffsets: pp?.trim_offsets ?? true,
    clsToken: pp?.cls?.[0] ?? str(config['cls_token']) ?? '<s>',
    sepToken: pp?.sep?.[0] ?? str(config['sep_token']) ?? '</s>',
    padToken: str(config['pad_token']) ?? '<pad>',
    unkToken: str(j.model?.unk_token) ?? str(config['unk_token']) ?? '<unk>',
    where,
  });
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
      `model type ${j.model.type} is not WordPiece; use tokenizerFromJson`,
      `${where}#model.type`,
    );
  }
  const vocab = vocabArray(j, where);
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

/**
 * A byte-level BPE tokenizer from a slow RoBERTa/GPT-2 tokenizer's files (vocab.json, merges.txt
 * and tokenizer_config.json), with Hugging Face's RobertaTokenizer defaults: `<s>`…`</s>` around
 * the text, `<mask>` stripping the space before it, no prefix space unless the config asks.
 */
export function bpeFromVocabMerges(
  vocab: unknown,
  merges: string,
  config: Record<string, unknown> = {},
  where = { vocab: 'vocab.json', merges: 'merges.txt' },
): Tokenizer {
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab))
    throw new LatError('BAD_FILE', 'not a vocab.json: expected an object of token → id', where.vocab);
  const pairs = merges.split(/\r?\n/).flatMap((line, i): [string, string][] => {
    if (!line.trim() || (i === 0 && line.startsWith('#version'))) return [];
    const pair = line.split(' ');
    if (pair.length !== 2 || !pair[0] || !pair[1])
      throw new LatError(
        'BAD_FILE',
        `line ${i + 1} is not a merge "a b": ${JSON.stringify(line.slice(0, 40))}`,
        where.merges,
      );
    return [pair as [string, string]];
  });
  const ids = vocab as Record<string, number>;
  // tokenizer_config.json spells special tokens as strings or as AddedToken objects.
  const name = (key: string, fallback: string) => {
    const v = config[key] as string | { content?: unknown } | undefined;
    const s = typeof v === 'string' ? v : v?.content;
    return typeof s === 'string' ? s : fallback;
  };
  const special = {
    cls_token: name('cls_token', '<s>'),
    sep_token: name('sep_token', '</s>'),
    pad_token: name('pad_token', '<pad>'),
    unk_token: name('unk_token', '<unk>'),
  };
  const mask = name('mask_token', '<mask>');
  const json: TokenizerJson = {
    model: {
      type: 'BPE',
      vocab: ids,
      merges: pairs,
      unk_token: special.unk_token,
    },
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: config['add_prefix_space'] === true },
    post_processor: {
      type: 'RobertaProcessing',
      cls: [special.cls_token, ids[special.cls_token] ?? 0],
      sep: [special.sep_token, ids[special.sep_token] ?? 0],
      trim_offsets: config['trim_offsets'] !== false,
    },
    added_tokens: [...new Set([...Object.values(special), mask])]
      .filter((t) => Number.isInteger(ids[t]))
      .map((content) => ({ content, id: ids[content], special: true, lstrip: content === mask })),
  };
  return bpeFromTokenizerJson(json, { ...config, ...special }, where.vocab);
}
