/**
 * Tokenised data files, cached on disk: a GLUE/jsonl/csv file is read and tokenised once, and
 * later runs (another epoch count, `--resume`, a second learning rate) load the token ids from a
 * binary file instead. The cache key covers everything the ids depend on — the data file's
 * bytes, the task's columns and labels, the tokenizer's vocabulary and options, maxLength and
 * the bad-row policy — so a stale entry is never read; a damaged one (its checksum or token ids
 * wrong) is rebuilt.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Tokenizer } from '@lat/core';
import { fileError, writeFileAtomic } from '@lat/core/node';
import { type Encoded, encodeExamples } from '../batches.js';
import { parseExamples, type ReadOptions, readDataFile } from './examples.js';
import type { TaskSpec } from './tasks.js';

/** A tokenised data file and how many bad rows were skipped. */
export interface TokenizedFile {
  data: Encoded[];
  skipped: number;
  skipReasons: string[];
  /** True when the ids came from the cache. */
  fromCache: boolean;
  /** Byte sequences in the data file that were not UTF-8 (read as U+FFFD). */
  invalidUtf8: number;
}

/** Options of `readTokenized`: `maxLength`, the cache folder and the bad-row policy. */
export interface TokenizeOptions extends ReadOptions {
  maxLength: number;
  /** Folder for cache files; without it the file is tokenised every time. */
  cacheDir?: string;
}

const MAGIC = 'LATTOK2\n';

/** readExamples + encodeExamples, through the cache when `cacheDir` is given. */
export function readTokenized(
  path: string,
  task: TaskSpec,
  tokenizer: Tokenizer,
  options: TokenizeOptions,
): TokenizedFile {
  const { text, invalidUtf8 } = readDataFile(path); // read once: hashed for the key, parsed on a miss
  const tokenize = (): TokenizedFile => {
    const r = parseExamples(text, path, task, options);
    const data = encodeExamples(r.examples, tokenizer, options.maxLength);
    return { data, skipped: r.skipped, skipReasons: r.skipReasons, fromCache: false, invalidUtf8 };
  };
  if (!options.cacheDir) return tokenize();
  const key = createHash('sha256')
    .update(MAGIC)
    .update(text)
    .update(JSON.stringify({ task, maxLength: options.maxLength, onBadRow: options.onBadRow ?? 'error' }))
    .update(tokenizer.signature)
    .digest('hex')
    .slice(0, 24);
  const file = join(options.cacheDir, `${basename(path)}.${key}.tokens`);
  const cached = readCacheFile(file);
  const vocabSize = tokenizer.vocab.length;
  if (cached?.data.every((e) => e.ids.every((id) => id >= 0 && id < vocabSize)))
    return { ...cached, invalidUtf8 };
  const result = tokenize();
  writeCacheFile(options.cacheDir, file, result);
  return result;
}

interface Header {
  count: number;
  tokens: number;
  skipped: number;
  skipReasons: string[];
}

/*
 * Body (little-endian, after the entry header with a sha256 of it, so altered token ids are
 * noticed and the file rebuilt): f64 labels[count], i32 lengths[count], i32 ids[tokens], u8 typeIds[tokens].
 */
function writeCacheFile(dir: string, file: string, r: TokenizedFile): void {
  const tokens = r.data.reduce((s, e) => s + e.ids.length, 0);
  const body = new ArrayBuffer(r.data.length * 12 + tokens * 5);
  const labels = new Float64Array(body, 0, r.data.length);
  const lengths = new Int32Array(body, labels.byteLength, r.data.length);
  const ids = new Int32Array(body, lengths.byteOffset + lengths.byteLength, tokens);
  const typeIds = new Uint8Array(body, ids.byteOffset + ids.byteLength, tokens);
  let at = 0;
  r.data.forEach((e, i) => {
    labels[i] = e.label;
    lengths[i] = e.ids.length;
    ids.set(e.ids, at);
    typeIds.set(e.typeIds, at);
    at += e.ids.length;
  });
  const header: Header = {
    count: r.data.length,
    tokens,
    skipped: r.skipped,
    skipReasons: r.skipReasons,
  };
  writeCacheEntry(dir, file, MAGIC, header, new Uint8Array(body));
}

/** The cached file, or undefined when it is absent or damaged (then it is rebuilt). */
function readCacheFile(file: string): Omit<TokenizedFile, 'invalidUtf8'> | undefined {
  const entry = readCacheEntry<Header>(file, MAGIC);
  if (!entry) return undefined;
  const { header, body } = entry;
  try {
    if (body.byteLength !== header.count * 12 + header.tokens * 5) return undefined;
    const labels = new Float64Array(body, 0, header.count);
    const lengths = new Int32Array(body, header.count * 8, header.count);
    const ids = new Int32Array(body, header.count * 12, header.tokens);
    const typeIds = new Uint8Array(body, header.count * 12 + header.tokens * 4, header.tokens);
    const data: Encoded[] = [];
    let at = 0;
    for (let i = 0; i < header.count; i++) {
      const n = lengths[i]!;
      if (n < 0 || at + n > header.tokens) return undefined;
      data.push({
        ids: Array.from(ids.subarray(at, at + n)),
        typeIds: Array.from(typeIds.subarray(at, at + n)),
        label: labels[i]!,
      });
      at += n;
    }
    return { data, skipped: header.skipped, skipReasons: header.skipReasons, fromCache: true };
  } catch {
    return undefined;
  }
}

/*
 * A cache entry: `magic`, u32 header length, header JSON (with the sha256 of the body), then the
 * body 8-byte aligned. Written atomically: readers see the whole file or none.
 */
export function writeCacheEntry(
  dir: string,
  file: string,
  magic: string,
  header: object,
  body: Uint8Array,
): void {
  const json = Buffer.from(JSON.stringify({ ...header, sha256: sha256(body) }));
  const start = align8(magic.length + 4 + json.length);
  const buf = Buffer.alloc(start + body.byteLength);
  buf.write(magic, 0, 'latin1');
  buf.writeUInt32LE(json.length, magic.length);
  json.copy(buf, magic.length + 4);
  buf.set(body, start);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fileError(e, dir, 'cannot create the cache directory');
  }
  writeFileAtomic(file, buf);
}

/**
 * A cache entry's header and (8-byte aligned) body, or undefined when the file is absent, not
 * of this kind or damaged (its body's checksum is wrong): the caller rebuilds it.
 */
export function readCacheEntry<H>(file: string, magic: string): { header: H; body: ArrayBuffer } | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return undefined;
  }
  try {
    if (buf.toString('latin1', 0, magic.length) !== magic) return undefined;
    const jsonLength = buf.readUInt32LE(magic.length);
    const header = JSON.parse(buf.toString('utf8', magic.length + 4, magic.length + 4 + jsonLength)) as H & {
      sha256: string;
    };
    // Copy into an aligned buffer: Buffer's pool offset need not be a multiple of 8.
    const bytes = new Uint8Array(buf.subarray(align8(magic.length + 4 + jsonLength)));
    if (sha256(bytes) !== header.sha256) return undefined;
    return { header, body: bytes.buffer };
  } catch {
    return undefined;
  }
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
