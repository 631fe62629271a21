/**
 * Span QA on RoBERTa: a tiny checkpoint with a byte-level BPE tokenizer, windows with doc stride
 * over a long context, and answers whose character offsets are exact in the original text.
 */
import { createAnytimeModel } from '@lat/layers';
import { loadModelDir, loadTokenizer } from '@lat/layers/node';
import { tinyRobertaDir } from '@lat/layers/testing';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { createQuestionAnswerer, type SpanModel } from '../src/answerer.js';
import { anytimeSpanModel } from '../src/anytime-span.js';

const context =
  'The plot was dull and the ending weak.  Critics said the cast was great, and in Paris the film — “a gripping film” — won. Über-fans cheered! The capital of France is Paris.';
const question = 'What is the capital of France?';

describe('RoBERTa span QA', () => {
  it('answers with exact character offsets from the BPE tokens, over doc-stride windows', async () => {
    const { dir } = tinyRobertaDir({ classifier: false, qa: true });
    const m = loadModelDir(dir, { classifier: false, qa: true });
    const tok = loadTokenizer(dir);
    const model = await createAnytimeModel(createNodeRuntime({ threads: 1 }), m.config, m.weights, {
      head: 'span',
    });
    const run = anytimeSpanModel(model);
    const features = { maxSeqLength: 40, docStride: 12 };
    const answerer = (runSpanModel: SpanModel<object>) =>
      createQuestionAnswerer({ tokenizer: tok, runSpanModel, features });

    // The model's own answer (random weights): a span of whole tokens, cut exactly from the context.
    const seen: number[] = [];
    const own = await answerer(async (f, o) => {
      seen.push(f.length);
      return run(f, o);
    }).answer({ question, context }, { lengths: { form: 'ratio', ratios: [1, 0.8, 0.6] } });
    expect(seen[0]).toBeGreaterThan(2); // several windows
    const pieces = tok.tokenize(context);
    expect(pieces.map((p) => p.start)).toContain(own.start);
    expect(pieces.map((p) => p.end)).toContain(own.end);
    expect(own.text).toBe(context.slice(own.start, own.end));
    expect(own.text).toBe(own.text.trim());

    // A planted answer: logits peaked at the first and last token of the last "Paris" (in a later
    // window; BPE splits the word) come back as exactly that word, at its character position.
    const at = context.lastIndexOf('Paris');
    const planted = await answerer(async (fs, o) => {
      const out = await run(fs, o);
      return out.map((l, w) => {
        const start = Float32Array.from(l.start);
        const end = Float32Array.from(l.end);
        fs[w]!.offsets.forEach(([s, e], j) => {
          if (fs[w]!.sequenceIds[j] !== 1) return;
          if (s <= at && e > at) start[j] = 100;
          if (s < at + 5 && e >= at + 5) end[j] = 100;
        });
        return { start, end };
      });
    }).answer({ question, context }, {});
    expect(planted).toMatchObject({ text: 'Paris', start: at, end: at + 5 });
    await model.release();
  });
});
