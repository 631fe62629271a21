/**
 * The LAT reference's options through the pipeline: absolute lengths that refer to a padded
 * length (its --length_config over max_seq_length), and SQuAD v2's null threshold.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLatError } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { pipeline, pointLengths, resolveLengths } from '../src/index.js';
import { writeTinyModel } from '../src/testing/index.js';

const modelDir = join(mkdtempSync(join(tmpdir(), 'lat-pipeline-ref-')), 'model');
const runtime = createNodeRuntime({ threads: 1 });

beforeAll(() => {
  writeTinyModel(modelDir);
});

describe('lengths with a padded length', () => {
  it('keeps min(count, length) per input, so batching changes nothing', async () => {
    const clf = await pipeline('text-classification', modelDir, { runtime });
    const texts = ['a gripping film', 'the film was dull and far too long for what it says .', 'dull'];
    const options = { lengths: [9, 4], paddedLength: 32 };
    const batched = await clf(texts, options);
    for (const [i, text] of texts.entries()) {
      const [one] = await clf(text, options);
      batched[i]!.logits.forEach((v, j) => expect(v).toBeCloseTo(one!.logits[j]!, 5));
      expect(batched[i]!.lengths).toEqual(options.lengths.map((l) => Math.min(l, one!.tokens.length)));
    }
    await clf.dispose();
  });

  it('is refused without lengths, or below a count', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isLatError(e) ? e.code : 'other';
      }
      return 'none';
    };
    expect(code(() => resolveLengths({ paddedLength: 32 }, 2))).toBe('BAD_INPUT');
    expect(code(() => resolveLengths({ lengths: [40, 4], paddedLength: 32 }, 2))).toBe('BAD_LENGTHS');
    expect(resolveLengths({ lengths: [9, 4], paddedLength: 32 }, 2).spec).toEqual({
      form: 'absolute',
      lengths: [9, 4],
      paddedLength: 32,
    });
  });

  it('is the frontier’s padded length for its absolute points', () => {
    const point = { lengths: [9, 4], cost: 1, costRatio: 0.5, metric: 0.9 };
    const base = { lengthForm: 'absolute', maxLength: 64 } as const;
    expect(pointLengths(base as never, point)).toMatchObject({ paddedLength: 64 });
    expect(pointLengths({ ...base, paddedLength: 128 } as never, point)).toMatchObject({ paddedLength: 128 });
  });
});

describe('question answering with a null threshold', () => {
  it('abstains when the null score beats the best span by more than it', async () => {
    const input = { question: 'where ?', context: 'the film was shot in oslo' };
    const plain = await pipeline('question-answering', modelDir, { runtime });
    const answered = await plain(input);
    expect(answered.answer.length).toBeGreaterThan(0);
    const never = await pipeline('question-answering', modelDir, { runtime, nullThreshold: 1e9 });
    expect((await never(input)).answer).toBe(answered.answer);
    const always = await pipeline('question-answering', modelDir, { runtime, nullThreshold: -1e9 });
    const none = await always(input);
    expect(none).toMatchObject({ answer: '', start: -1, end: -1, window: -1 });
    await Promise.all([plain.dispose(), never.dispose(), always.dispose()]);
  });
});
