/**
 * The transformers.js baseline: lat's plain BERT graph (same weights as the other columns) saved
 * as a local Hugging Face model directory — config.json, tokenizer files, onnx/model.onnx — and run
 * through @huggingface/transformers fully offline, from text, on onnxruntime-node's CPU provider.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type StateDict, toModelProto, type WordPieceTokenizer } from '@lat/core';
import { buildAnytimeGraph, type ModelConfig, toHfConfig } from '@lat/layers';
import { encodeExamples, generateSentimentTask, padBatch, syntheticVocab } from '@lat/train';

type Transformers = typeof import('@huggingface/transformers');

/** The library, or why it cannot run here (the bench then skips it with that message). */
export async function loadTransformersJs(): Promise<Transformers | string> {
  try {
    const t = await import('@huggingface/transformers');
    t.env.allowRemoteModels = false; // no network: only the directory written below is read
    t.env.useFSCache = false;
    return t;
  } catch (e) {
    return `@huggingface/transformers cannot be loaded (${(e as Error).message.split('\n')[0]})`;
  }
}

/**
 * A BERT-sized vocabulary: the embedded task's words (so the texts below tokenize to real words)
 * padded with filler entries up to `size`, keeping the ids inside the embedding table.
 */
export function benchVocab(size: number): string[] {
  return [...syntheticVocab, ...Array.from({ length: size - syntheticVocab.length }, (_, i) => `w${i}`)];
}

/**
 * `batch` review-like texts of `seq` tokens each with [CLS] and [SEP] (every word is one vocabulary
 * token). Exact lengths, because transformers.js truncates after adding [SEP] and so drops it.
 */
export function benchTexts(batch: number, seq: number): string[] {
  const sentences = generateSentimentTask({ seed: 11, train: batch * Math.ceil(seq / 10), dev: 0 }).train;
  const texts: string[] = [];
  let next = 0;
  for (let b = 0; b < batch; b++) {
    const words: string[] = [];
    while (words.length < seq - 2) words.push(...sentences[next++ % sentences.length]!.textA.split(' '));
    texts.push(words.slice(0, seq - 2).join(' '));
  }
  return texts;
}

/** The texts as lat encodes them (its WordPiece tokenizer, `seq` tokens): what "lat from text" times. */
export function encodeTexts(texts: string[], tok: WordPieceTokenizer, seq: number) {
  return padBatch(
    encodeExamples(
      texts.map((textA) => ({ textA, label: 0, source: '' })),
      tok,
      seq,
    ),
  );
}

/** tokenizer.json as Hugging Face's tokenizers writes it for an uncased BERT WordPiece vocabulary. */
function tokenizerJson(tok: WordPieceTokenizer) {
  const special = (id: number) => ({ id: tok.vocab[id]!, ids: [id], tokens: [tok.vocab[id]!] });
  const cls = { SpecialToken: { id: tok.vocab[tok.clsId]!, type_id: 0 } };
  const sep = (type_id: number) => ({ SpecialToken: { id: tok.vocab[tok.sepId]!, type_id } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [tok.padId, tok.unkId, tok.clsId, tok.sepId].map((id) => ({
      id,
      content: tok.vocab[id]!,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: tok.doLowerCase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [cls, { Sequence: { id: 'A', type_id: 0 } }, sep(0)],
      pair: [
        cls,
        { Sequence: { id: 'A', type_id: 0 } },
        sep(0),
        { Sequence: { id: 'B', type_id: 1 } },
        sep(1),
      ],
      special_tokens: {
        [tok.vocab[tok.clsId]!]: special(tok.clsId),
        [tok.vocab[tok.sepId]!]: special(tok.sepId),
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: tok.vocab[tok.unkId]!,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(tok.vocab.map((t, i) => [t, i])),
    },
  };
}

/**
 * Writes the non-graph files of a Hugging Face model directory transformers.js loads from `dir`:
 * config.json and the tokenizer. The graphs go in `dir/onnx/` (model.onnx, model_quantized.onnx).
 */
export function writeHfModelFiles(dir: string, config: ModelConfig, tok: WordPieceTokenizer) {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(config)));
  writeFileSync(join(dir, 'vocab.txt'), `${tok.vocab.join('\n')}\n`);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson(tok)));
  const names = (id: number) => tok.vocab[id]!;
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      tokenizer_class: 'BertTokenizer',
      do_lower_case: tok.doLowerCase,
      model_max_length: config.maxPositions,
      cls_token: names(tok.clsId),
      sep_token: names(tok.sepId),
      pad_token: names(tok.padId),
      unk_token: names(tok.unkId),
    }),
  );
}

/**
 * Writes `dir` as a Hugging Face model directory transformers.js loads: the plain graph already
 * has BERT's standard I/O (input_ids, attention_mask, token_type_ids → logits), so it is used as is.
 */
export function writeHfModelDir(
  dir: string,
  config: ModelConfig,
  weights: StateDict,
  tok: WordPieceTokenizer,
) {
  writeHfModelFiles(dir, config, tok);
  const graph = buildAnytimeGraph(config, weights, { selection: false, keptPositions: false });
  writeFileSync(join(dir, 'onnx/model.onnx'), toModelProto(graph));
}

export interface TextClassifier {
  /** Tokenizes `texts` (truncated to `seq` tokens) and returns the logits, [batch × labels]. */
  run(texts: string[], seq: number): Promise<Float32Array>;
  release(): Promise<void>;
}

/**
 * Loads `name` from `root` (a directory of model directories) with transformers.js, CPU, `threads`
 * threads; `dtype` 'q8' loads `onnx/model_quantized.onnx`, as transformers.js names its int8 graph.
 */
export async function createTransformersJsModel(
  t: Transformers,
  root: string,
  name: string,
  threads: number,
  dtype: 'fp32' | 'q8' = 'fp32',
): Promise<TextClassifier> {
  t.env.localModelPath = root;
  const opts = { local_files_only: true } as const;
  const tokenizer = await t.AutoTokenizer.from_pretrained(name, opts);
  const model = await t.AutoModelForSequenceClassification.from_pretrained(name, {
    ...opts,
    device: 'cpu',
    dtype,
    // Passed through to onnxruntime-node's InferenceSession.create, as lat's runtime sets them;
    // without spinning, as the bench opens every session it runs in turn with others.
    session_options: {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    },
  });
  return {
    async run(texts, seq) {
      const inputs = tokenizer(texts, { padding: true, truncation: true, max_length: seq });
      const out = await model(inputs);
      return out['logits'].data as Float32Array;
    },
    release: async () => {
      await model.dispose();
    },
  };
}
