/** Batched feature evaluation gives each feature the logits it gets alone, at any configuration. */
import { type LengthSpec, WordPieceTokenizer } from '@lat/core';
import { createAnytimeModel, createRandomWeights, parseModelConfig } from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { anytimeSpanModel } from '../src/anytime-span.js';
import { buildFeatures } from '../src/features.js';

const words = 'the a cafe is in town paris rome where what'.split(' ');
const tok = new WordPieceTokenizer(['[PAD]', '[UNK]', '[CLS]', '[SEP]', ...words]);

describe('batched span evaluation', () => {
  it('matches one feature at a time in ratio and padded absolute form', async () => {
    const config = parseModelConfig({
      model_type: 'bert',
      vocab_size: 14,
      hidden_size: 16,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 32,
      max_position_embeddings: 64,
    });
    const weights = createRandomWeights(config, 3, { qa: true, classifier: false }, 0.3);
    const m = await createAnytimeModel(createNodeRuntime({ threads: 1 }), config, weights, { head: 'span' });
    const features = [3, 17, 9, 30, 5].flatMap((n, i) =>
      buildFeatures(
        tok,
        {
          question: 'where is the cafe',
          context: Array.from({ length: n }, (_, j) => words[(i + j) % 10]).join(' '),
        },
        { maxSeqLength: 24, docStride: 8 },
      ),
    );
    const specs: (LengthSpec | undefined)[] = [
      undefined,
      { form: 'ratio', ratios: [0.7, 0.4] },
      { form: 'absolute', lengths: [20, 9], paddedLength: 24 },
    ];
    for (const lengths of specs) {
      const one = await anytimeSpanModel(m, { batchSize: 1 })(features, lengths ? { lengths } : {});
      const batched = await anytimeSpanModel(m, { batchSize: 4 })(features, lengths ? { lengths } : {});
      batched.forEach((b, i) => {
        expect(b.start.length).toBe(features[i]!.ids.length);
        for (let t = 0; t < b.start.length; t++) {
          expect(b.start[t]).toBeCloseTo(one[i]!.start[t]!, 4);
          expect(b.end[t]).toBeCloseTo(one[i]!.end[t]!, 4);
        }
      });
    }
    await m.release();
  });
});
