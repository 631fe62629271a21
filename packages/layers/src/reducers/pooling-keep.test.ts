import { createNodeRuntime } from '@lat/runtime-node';
import { createWebRuntime } from '@lat/runtime-web';
import { describe, expect, it } from 'vitest';
import { createAnytimeModel } from '../anytime.js';
import { parseModelConfig, toHfConfig } from '../architectures/config.js';
import { createRandomWeights } from '../architectures/weights.js';
import { tinyBertConfig } from '../testing/index.js';
import { checkPooling } from './pooling.js';

const runtime = createNodeRuntime({ threads: 1 });

const pooled = (schedule: unknown, extra: Record<string, unknown> = {}) =>
  parseModelConfig({
    ...toHfConfig(tinyBertConfig(0)),
    lat_pooling: { schedule, input_length: 16, keep_first_segment: true, ...extra },
  });

/** A batch of `real` tokens per example whose first `question[b]` tokens are segment 0. */
const batch = (n: number, real: number[], question: number[]) => ({
  inputIds: BigInt64Array.from({ length: real.length * n }, (_, i) => BigInt(2 + ((i * 7) % 25))),
  attentionMask: BigInt64Array.from({ length: real.length * n }, (_, i) =>
    i % n < real[Math.floor(i / n)]! ? 1n : 0n,
  ),
  tokenTypeIds: BigInt64Array.from({ length: real.length * n }, (_, i) =>
    i % n < question[Math.floor(i / n)]! || i % n >= real[Math.floor(i / n)]! ? 0n : 1n,
  ),
  batch: real.length,
});

describe('pooling keeps the first segment (span QA)', () => {
  it('persists in config.json and refuses bad combinations in one line', () => {
    const c = pooled([[0, 4]]);
    expect(c.pooling!.keepFirstSegment).toBe(true);
    expect(toHfConfig(c)['lat_pooling']).toEqual({
      schedule: [[0, 4]],
      input_length: 16,
      keep_first_segment: true,
    });
    expect(toHfConfig(pooled([[0, 4]], { keep_first_segment: false }))['lat_pooling']).toEqual({
      schedule: [[0, 4]],
      input_length: 16,
    });
    for (const [extra, message] of [
      [{ operator: 'iterative' }, /keeping the first segment needs successive halving/],
      [{ keep_first_segment: 'yes' }, /keep_first_segment must be true or false, got "yes"/],
    ] as const)
      expect(() => pooled([[0, 4]], extra)).toThrow(new RegExp(`^[^\\n]*${message.source}[^\\n]*$`));
    expect(() => pooled([], { chunk: 4 })).toThrow(
      /^[^\n]*keeping the first segment needs a pooling schedule$/,
    );
    // Given by a command-line flag, the option's errors name the flag (the CLI has no check of its own).
    const flag = { keepFirstSegment: '--keep-first-segment' };
    expect(() => checkPooling({ ...c.pooling!, operator: 'iterative' }, c, '--pooling', flag)).toThrow(
      /^--keep-first-segment: needs successive halving: iterative softmax mixes every row into every output$/,
    );
    expect(() => checkPooling({ ...c.pooling!, schedule: [], chunk: 4 }, c, '--pooling', flag)).toThrow(
      /^--keep-first-segment: needs a pooling schedule$/,
    );
  });

  it('refuses a model without two token types (RoBERTa, DistilBERT) in one line: only token types tell the question apart', async () => {
    const lat_pooling = { schedule: [[0, 4]], input_length: 16, keep_first_segment: true };
    const roberta = { ...toHfConfig(tinyBertConfig(0)), model_type: 'roberta', type_vocab_size: 1 };
    const distilbert = { model_type: 'distilbert', vocab_size: 30, dim: 16, n_layers: 2, n_heads: 2 };
    for (const [hf, has] of [
      [{ ...roberta, max_position_embeddings: 18 }, 'one \\(every token is type 0\\)'],
      [{ ...distilbert, hidden_dim: 32, max_position_embeddings: 16 }, 'none'],
    ] as const) {
      const c = parseModelConfig({ ...hf, lat_pooling });
      const w = createRandomWeights(c, 3, { qa: true }, 0.5);
      await expect(createAnytimeModel(runtime, c, w, { head: 'span' })).rejects.toThrow(
        new RegExp(
          `^lat_pooling\\.keep_first_segment: needs token types to find the first segment \\(the question\\), and this ${hf.model_type} model has ${has}; [^\\n]*$`,
        ),
      );
    }
  });

  it('keeps every first-segment token through both poolings, the rest halved; wasm gives what Node gives', async () => {
    const schedule = [
      [0, 8],
      [1, 4],
    ];
    const c = pooled(schedule);
    const { keepFirstSegment: _, ...plainPooling } = c.pooling!;
    const w = createRandomWeights(c, 3, { qa: true }, 0.5);
    const x = batch(16, [16, 11], [4, 3]);
    const results = [];
    for (const rt of [runtime, createWebRuntime({ threads: 1 })]) {
      const m = await createAnytimeModel(rt, c, w, { head: 'span' });
      results.push(await m.run(x));
      await m.release();
    }
    const [node, wasm] = results as [(typeof results)[0], (typeof results)[0]];
    expect(node.keptPositions.map((l) => l.map((p) => p.length))).toEqual([
      [8, 8],
      [4, 4],
    ]);
    for (const layer of node.keptPositions) {
      expect(layer[0]!.slice(0, 4)).toEqual([0, 1, 2, 3]);
      expect(layer[1]!.slice(0, 3)).toEqual([0, 1, 2]);
      for (const kept of layer) expect([...kept].sort((a, b) => a - b)).toEqual(kept);
    }
    expect(wasm.keptPositions).toEqual(node.keptPositions);
    Array.from(node.startLogits!).forEach((v, i) => expect(wasm.startLogits![i]).toBeCloseTo(v, 5));
    Array.from(node.endLogits!).forEach((v, i) => expect(wasm.endLogits![i]).toBeCloseTo(v, 5));
    // Without the option the same weights merge question tokens away.
    const plain = await createAnytimeModel(runtime, { ...c, pooling: plainPooling }, w, { head: 'span' });
    const without = await plain.run(x);
    expect(without.keptPositions[1]![0]).not.toEqual([0, 1, 2, 3]);
    await plain.release();
  });

  it('refuses an input whose first segment does not fit the narrowest width, in one line', async () => {
    const c = pooled([
      [0, 8],
      [1, 4],
    ]);
    const m = await createAnytimeModel(runtime, c, createRandomWeights(c, 3, { qa: true }, 0.5), {
      head: 'span',
    });
    await expect(m.run(batch(16, [16, 16], [3, 5]))).rejects.toThrow(
      /^token_type_ids: example 1 has 5 first-segment tokens \(token type 0\), all kept through pooling, but layer 1 pools to 4 rows; [^\n]*$/,
    );
    // One segment (a classification input, no token types): every token would be kept.
    const { tokenTypeIds: _, ...single } = batch(16, [16], [16]);
    await expect(m.run(single)).rejects.toThrow(/example 0 has 16 first-segment tokens/);
    await m.release();
  });
});
