import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../random.js';
import { bf16ToFloat, halfToFloat, readSafetensors, writeSafetensors } from './safetensors.js';
import type { StateDict } from './tensors.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-io-'));

/** A few tensors of different shapes with random values. */
function randomTensors(seed: number): StateDict {
  const rng = new Rng(seed);
  const shapes: [string, number[]][] = [
    ['a.weight', [4, 3]],
    ['a.bias', [4]],
    ['b', [2, 3, 5]],
    ['scalar', []],
  ];
  return new Map(
    shapes.map(([n, dims]) => [
      n,
      { dims, data: Float32Array.from({ length: dims.reduce((x, y) => x * y, 1) }, () => rng.normal()) },
    ]),
  );
}

describe('safetensors', () => {
  it('round-trips tensors exactly and writes atomically', () => {
    const w = randomTensors(3);
    const p = join(dir, 'w.safetensors');
    writeSafetensors(p, w, { format: 'pt' });
    const back = readSafetensors(p);
    expect([...back.keys()].sort()).toEqual([...w.keys()].sort());
    for (const [k, t] of w) {
      expect(back.get(k)!.dims).toEqual(t.dims);
      expect(back.get(k)!.data).toEqual(t.data);
    }
    const headerLen = Number(readFileSync(p).readBigUInt64LE(0));
    expect(headerLen % 8).toBe(0);
  });

  it('rejects truncated files and bad headers with a typed error', () => {
    const p = join(dir, 'w2.safetensors');
    writeSafetensors(p, new Map([['a', { dims: [4], data: Float32Array.of(1, 2, 3, 4) }]]));
    const bytes = readFileSync(p);
    const bad = join(dir, 'bad.safetensors');
    for (const b of [
      bytes.subarray(0, bytes.length - 4),
      bytes.subarray(0, 5),
      Buffer.concat([Buffer.from([255, 255, 255, 255, 0, 0, 0, 0]), bytes.subarray(8)]),
    ]) {
      writeFileSync(bad, b);
      expect(() => readSafetensors(bad)).toThrow(/not a valid safetensors file/);
    }
  });

  it('widens fp16 and bf16', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(bf16ToFloat(0x3f80)).toBe(1);
  });
});
