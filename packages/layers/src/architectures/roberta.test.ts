/**
 * RoBERTa end to end: a tiny checkpoint as Hugging Face writes it (config.json, model.safetensors
 * with `roberta.` names and the classifier.dense/out_proj head, a byte-level BPE tokenizer.json)
 * loads through the registry and predicts what a float64 reference computes, at full and reduced
 * lengths, padded in a batch.
 */
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { createAnytimeModel, type EncodedBatch } from '../anytime.js';
import { loadModelDir, loadTokenizer } from '../model-dir.js';
import { referenceForward } from '../testing/reference.js';
import { tinyRobertaDir } from '../testing/roberta.js';

function batchOf(seqs: number[][], pad: number): EncodedBatch {
  const n = Math.max(...seqs.map((s) => s.length));
  const ids = new BigInt64Array(seqs.length * n).fill(BigInt(pad));
  const mask = new BigInt64Array(seqs.length * n);
  seqs.forEach((s, b) =>
    s.forEach((id, j) => {
      ids[b * n + j] = BigInt(id);
      mask[b * n + j] = 1n;
    }),
  );
  return { inputIds: ids, attentionMask: mask, batch: seqs.length };
}

describe('RoBERTa', () => {
  it('loads a Hugging Face checkpoint and its logits match a float64 reference at full and reduced lengths', async () => {
    const { dir, config } = tinyRobertaDir();
    const m = loadModelDir(dir);
    expect(m.config).toMatchObject({
      architecture: 'roberta',
      positionOffset: 2,
      typeVocabSize: 1,
      layerNormEps: 1e-5,
    });
    expect(m.weights.has('classifier.out_proj.weight')).toBe(true);
    expect(m.weights.has('pooler.dense.weight')).toBe(false);
    const tok = loadTokenizer(dir);
    const texts = ['a gripping film', 'the ending was weak and the plot dull'];
    const seqs = texts.map((t) => tok.encode(t).ids);
    expect(seqs[0]![0]).toBe(0); // <s>
    const runtime = createNodeRuntime({ threads: 1 });
    const model = await createAnytimeModel(runtime, m.config, m.weights);
    const x = batchOf(seqs, config.padTokenId);
    for (const lengths of [undefined, [7, 5, 3]]) {
      const out = await model.run(x, lengths && { form: 'absolute', lengths });
      seqs.forEach((ids, b) => {
        const ref = referenceForward(m.config, m.weights, ids, undefined, lengths);
        const got = Array.from(out.logits!.subarray(b * 3, (b + 1) * 3));
        ref.logits!.forEach((v, i) =>
          expect(Math.abs(got[i]! - v)).toBeLessThan(1e-4 * Math.max(1, Math.abs(v))),
        );
      });
    }
    await model.release();
  });
});
