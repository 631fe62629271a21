import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LatError } from '../errors.js';
import { floats, statePickle, zipOf } from '../testing/torch-save.js';
import { unpickle } from './pickle.js';
import { readSafetensors } from './safetensors.js';
import { readPytorchBin } from './torch-bin.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-bin-'));

describe('PyTorch .bin (zip + restricted pickle)', () => {
  it('loads a hand-built torch.save archive, including a strided (transposed) view', () => {
    const pkl = statePickle([
      { name: 'w', key: '0', size: [2, 3], stride: [3, 1] },
      { name: 'wT', key: '0', size: [3, 2], stride: [1, 3] },
      { name: 'b', key: '1', size: [2], stride: [1], offset: 1 },
    ]);
    const path = join(dir, 'pytorch_model.bin');
    writeFileSync(
      path,
      zipOf([
        ['archive/data.pkl', pkl],
        ['archive/data/0', floats([1, 2, 3, 4, 5, 6])],
        ['archive/data/1', floats([9, 7, 8])],
        ['archive/version', Buffer.from('3\n')],
      ]),
    );
    const t = readPytorchBin(path);
    expect(t.get('w')).toEqual({ dims: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) });
    expect(t.get('wT')).toEqual({ dims: [3, 2], data: Float32Array.of(1, 4, 2, 5, 3, 6) });
    expect(t.get('b')).toEqual({ dims: [2], data: Float32Array.of(7, 8) });
  });

  it('refuses a pickle that references os.system or any global a state dict does not need, running nothing', () => {
    const evil = Buffer.concat([
      Buffer.from([0x80, 2]),
      Buffer.from('cos\nsystem\n', 'latin1'),
      Buffer.from([0x58, 5, 0, 0, 0]),
      Buffer.from('touch'),
      Buffer.from([0x85, 0x52, 0x2e]),
    ]);
    expect(() => unpickle(evil, 'evil.pkl')).toThrow(/refusing to load: the pickle references 'os.system'/);
    for (const g of [
      'builtins\neval\n',
      'subprocess\nPopen\n',
      'torch\nload\n',
      'numpy.core.multiarray\n_reconstruct\n',
    ]) {
      const p = Buffer.concat([
        Buffer.from([0x80, 2]),
        Buffer.from(`c${g}`, 'latin1'),
        Buffer.from([0x29, 0x52, 0x2e]),
      ]);
      try {
        unpickle(p, 'x.pkl');
        expect.unreachable();
      } catch (e) {
        expect((e as LatError).code).toBe('UNSAFE_PICKLE');
      }
    }
    const path = join(dir, 'evil.bin');
    writeFileSync(path, zipOf([['archive/data.pkl', evil]]));
    expect(() => readPytorchBin(path)).toThrow(/refusing to load/);
  });

  it('refuses legacy non-zip files clearly', () => {
    const path = join(dir, 'legacy.bin');
    writeFileSync(path, Buffer.from([0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc]));
    expect(() => readPytorchBin(path)).toThrow(/legacy \(pre-1.6, non-zip\) PyTorch file/);
  });
});

const fixture = join(import.meta.dirname, '../../../../../shared/fixtures/models/bert-tiny-sst2');
describe.skipIf(!existsSync(fixture))('real torch.save checkpoint (../shared/fixtures)', () => {
  it('pytorch_model.bin holds exactly the tensors of model.safetensors', () => {
    // Both files hold the same names (safetensors drops the position_ids buffer some .bin files keep).
    const bin = readPytorchBin(join(fixture, 'pytorch_model.bin'));
    const st = readSafetensors(join(fixture, 'model.safetensors'));
    for (const k of st.keys()) expect(bin.has(k), k).toBe(true);
    // Byte comparison: deep-equality on millions of floats would take the test seconds.
    const bytes = (d: Float32Array) => Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    for (const [k, t] of st) {
      expect(bin.get(k)!.dims).toEqual(t.dims);
      expect(bytes(bin.get(k)!.data).equals(bytes(t.data)), k).toBe(true);
    }
  });
});
