// A RoBERTa-style tokenizer.json with byte-level BPE merges learnt from a small corpus, for tests.
import { byteLevelChars } from '../tokenizers/bpe.js';

const WORDS = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * Learns `numMerges` merges from `corpus` (most frequent adjacent pair first, ties by first
 * appearance) and returns a tokenizer.json as Hugging Face's RoBERTa tokenizer writes it:
 * `<s>`=0, `<pad>`=1, `</s>`=2, `<unk>`=3, the 256 byte characters, the merges, `<mask>` last.
 */
export function byteLevelBpeTokenizerJson(
  corpus: string[],
  numMerges: number,
  o: { addPrefixSpace?: boolean } = {},
) {
  const chars = byteLevelChars();
  const enc = new TextEncoder();
  const words = new Map<string, number>();
  for (const text of corpus)
    for (const m of text.matchAll(WORDS)) {
      const w = Array.from(enc.encode(m[0]), (b) => chars[b]).join('\u0001');
      words.set(w, (words.get(w) ?? 0) + 1);
    }
  let split = [...words].map(([w, n]) => ({ parts: w.split('\u0001'), n }));
  const merges: string[] = [];
  for (let k = 0; k < numMerges; k++) {
    const counts = new Map<string, number>();
    for (const { parts, n } of split)
      for (let i = 0; i + 1 < parts.length; i++) {
        const key = `${parts[i]} ${parts[i + 1]}`;
        counts.set(key, (counts.get(key) ?? 0) + n);
      }
    let best = '';
    let bestN = 1;
    for (const [key, n] of counts) if (n > bestN) [best, bestN] = [key, n];
    if (!best) break;
    merges.push(best);
    const [a, b] = best.split(' ') as [string, string];
    split = split.map(({ parts, n }) => {
      const out: string[] = [];
      for (let i = 0; i < parts.length; ) {
        if (parts[i] === a && parts[i + 1] === b) {
          out.push(a + b);
          i += 2;
        } else out.push(parts[i++]!);
      }
      return { parts: out, n };
    });
  }
  const tokens = ['<s>', '<pad>', '</s>', '<unk>', ...chars, ...merges.map((m) => m.replace(' ', ''))];
  const vocab: Record<string, number> = {};
  for (const t of tokens) vocab[t] ??= Object.keys(vocab).length;
  const maskId = Object.keys(vocab).length;
  vocab['<mask>'] = maskId;
  const added = (id: number, content: string, lstrip = false) => ({
    id,
    content,
    single_word: false,
    lstrip,
    rstrip: false,
    normalized: content !== '<mask>',
    special: true,
  });
  const addPrefixSpace = o.addPrefixSpace ?? false;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      added(0, '<s>'),
      added(1, '<pad>'),
      added(2, '</s>'),
      added(3, '<unk>'),
      added(maskId, '<mask>', true),
    ],
    normalizer: null,
    pre_tokenizer: {
      type: 'ByteLevel',
      add_prefix_space: addPrefixSpace,
      trim_offsets: true,
      use_regex: true,
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: ['</s>', 2],
      cls: ['<s>', 0],
      trim_offsets: true,
      add_prefix_space: addPrefixSpace,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}
