/**
 * The cost model of pooled and blockwise models (`poolingMacs`): what their graphs compute, which
 * the bench, `lat eval` and the pipeline all count with.
 */
import { encoderMacs } from '@lat/core';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../architectures/config.js';
import { poolingCounts, poolingMacs } from './pooling.js';

describe('poolingMacs', () => {
  /** tiny4's shape (4 layers × 128) at 4096 tokens with a lat_pooling block. */
  const model = (pooling: Record<string, unknown>) =>
    parseModelConfig({
      model_type: 'bert',
      vocab_size: 30522,
      hidden_size: 128,
      num_hidden_layers: 4,
      num_attention_heads: 2,
      intermediate_size: 512,
      max_position_embeddings: 4096,
      lat_pooling: { input_length: 4096, ...pooling },
    });
  const [n, c, g, d] = [3500, 512, 32, 128];

  it('blockwise layers attend n·c, plus n·g to the global keys and g·n for the global queries', () => {
    const blockwise = model({ schedule: [], chunk: c });
    expect(poolingMacs(blockwise, n)).toBe(encoderMacs(blockwise, n) - 4 * 2 * n * (n - c) * d);
    const global = model({ schedule: [], chunk: c, global_tokens: g });
    expect(poolingMacs(global, n) - poolingMacs(blockwise, n)).toBe(4 * 2 * (n * g + g * n) * d);
    // Pooled after layer 0: only layer 0 is blockwise, so only it pays for the global rows.
    const pooled = (extra = {}) => poolingMacs(model({ schedule: [[0, 256]], chunk: c, ...extra }), n);
    expect(pooled({ global_tokens: g }) - pooled()).toBe(2 * (n * g + g * n) * d);
    // Fewer rows than global slots: every row is at most global once.
    const short = model({ schedule: [], chunk: 8, global_tokens: g });
    expect(poolingMacs(short, 20) - poolingMacs(model({ schedule: [], chunk: 8 }), 20)).toBe(
      4 * 2 * (20 * 20 * 2) * d,
    );
  });

  it('pooled layers in blocks of pooled_chunk attend r·c instead of r², without the global rows', () => {
    const pooled = (extra = {}) => poolingMacs(model({ schedule: [[0, 256]], chunk: c, ...extra }), n);
    // Layers 1–3 attend over the 256 pooled rows: blocks of 32 save 256·(256 − 32) per product.
    expect(pooled() - pooled({ pooled_chunk: 32 })).toBe(3 * 2 * 256 * (256 - 32) * d);
    expect(pooled({ pooled_chunk: 256 })).toBe(pooled());
    expect(pooled({ global_tokens: g, pooled_chunk: 32 }) - pooled({ pooled_chunk: 32 })).toBe(
      2 * (n * g + g * n) * d,
    );
  });

  it('takes the rows each layer ran on (LAT lengths after the last pooling): the blockwise and scorer terms stay', () => {
    const pooled = model({ schedule: [[0, 256]], chunk: c });
    const counts = [256, 128, 64, 64];
    const extra = poolingMacs(pooled, n) - encoderMacs(pooled, n, poolingCounts(pooled, n));
    expect(extra).toBeLessThan(0); // n·c instead of n² in layer 0
    expect(poolingMacs(pooled, n, counts)).toBe(encoderMacs(pooled, n, counts) + extra);
  });
});
