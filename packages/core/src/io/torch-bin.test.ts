import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatError } from '../errors.js';
import { parseModelConfig } from './config.js';
import { unpickle } from './pickle.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { readPytorchBin } from './torch-bin.js';
import { toCanonical } from './weights.js';
import { ZipReader } from './zip.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-bin-'));

/** Pickle bytes the way torch.save (protocol 2) writes a state dict of float tensors. */
function statePickle(
  tensors: { name: string; key: string; size: number[]; stride: number[]; offset?: number }[],
): Buffer {
  const parts: Buffer[] = [];
  const op = (...b: number[]) => parts.push(Buffer.from(b));
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    parts.push(Buffer.from([0x58]), len, b); // BINUNICODE
  };
  const int = (n: number) => (n < 256 ? op(0x4b, n) : op(0x4d, n & 0xff, n >> 8));
  const tuple = (items: number[]) => {
    op(0x28);
    for (const i of items) int(i);
    op(0x74);
  };
  op(0x80, 2); // PROTO 2
  parts.push(Buffer.from('ccollections\nOrderedDict\n', 'latin1'));
  op(0x29, 0x52); // EMPTY_TUPLE, REDUCE → OrderedDict()
  op(0x28); // MARK for SETITEMS
  for (const t of tensors) {
    str(t.name);
    parts.push(Buffer.from('ctorch._utils\n_rebuild_tensor_v2\n', 'latin1'));
    op(0x28); // MARK for the argument tuple
    op(0x28); // persistent id tuple
    str('storage');
    parts.push(Buffer.from('ctorch\nFloatStorage\n', 'latin1'));
    str(t.key);
    str('cpu');
    int(t.size.reduce((a, b) => a * b, 1));
    op(0x74, 0x51); // TUPLE, BINPERSID
    int(t.offset ?? 0);
    tuple(t.size);
    tuple(t.stride);
    op(0x89); // requires_grad False
    parts.push(Buffer.from('ccollections\nOrderedDict\n', 'latin1'));
    op(0x29, 0x52); // backward hooks
    op(0x74, 0x52); // TUPLE, REDUCE → tensor
  }
  op(0x75, 0x2e); // SETITEMS, STOP
  return Buffer.concat(parts);
}

/** A zip in torch.save's layout: STORED entries, local headers, central directory, EOCD. */
function zipOf(files: [string, Buffer][]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of files) {
    const n = Buffer.from(name);
    const crc = crc32(data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(data.length, 18);
    lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(n.length, 26);
    locals.push(lh, n, data);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(data.length, 20);
    ch.writeUInt32LE(data.length, 24);
    ch.writeUInt16LE(n.length, 28);
    ch.writeUInt32LE(offset, 42);
    central.push(ch, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(files.length, 8);
  eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

const floats = (xs: number[]) => Buffer.from(Float32Array.from(xs).buffer);

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

describe('fuzz: malformed inputs raise LatError, never crash or hang', () => {
  const valid = {
    pickle: statePickle([{ name: 'w', key: '0', size: [2, 2], stride: [2, 1] }]),
    zip: zipOf([
      ['a/data.pkl', statePickle([{ name: 'w', key: '0', size: [2], stride: [1] }])],
      ['a/data/0', floats([1, 2])],
    ]),
    safetensors: (() => {
      const p = join(dir, 'v.safetensors');
      writeSafetensors(p, new Map([['w', { dims: [2, 2], data: Float32Array.of(1, 2, 3, 4) }]]));
      return readFileSync(p);
    })(),
  };
  /** Random corruptions of a valid file: byte flips, truncation, or pure noise. */
  const corrupt = (good: Buffer) =>
    fc.oneof(
      fc
        .array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        })
        .map((flips) => {
          const b = Buffer.from(good);
          for (const [i, v] of flips) b[i] = v;
          return b;
        }),
      fc.nat({ max: good.length - 1 }).map((n) => good.subarray(0, n)),
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    );
  const expectLatErrorOrValue = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof LatError)) throw e;
    }
  };
  it('pickle', () => {
    fc.assert(
      fc.property(corrupt(valid.pickle), (b) => expectLatErrorOrValue(() => unpickle(b, 'f.pkl'))),
      { numRuns: 1000 },
    );
  });
  it('zip (.bin)', () => {
    const path = join(dir, 'fuzz.bin');
    fc.assert(
      fc.property(corrupt(valid.zip), (b) => {
        writeFileSync(path, b);
        expectLatErrorOrValue(() => readPytorchBin(path));
        expectLatErrorOrValue(() => new ZipReader(path).close());
      }),
      { numRuns: 1000 },
    );
  });
  it('safetensors', () => {
    const path = join(dir, 'fuzz.safetensors');
    fc.assert(
      fc.property(corrupt(valid.safetensors), (b) => {
        writeFileSync(path, b);
        expectLatErrorOrValue(() => readSafetensors(path));
      }),
      { numRuns: 1000 },
    );
  });
});

const fixture = join(import.meta.dirname, '../../../../../shared/fixtures/models/bert-tiny-sst2');
describe.skipIf(!existsSync(fixture))('real torch.save checkpoint (../shared/fixtures)', () => {
  it('pytorch_model.bin holds exactly the tensors of model.safetensors', () => {
    const config = parseModelConfig(JSON.parse(readFileSync(join(fixture, 'config.json'), 'utf8')));
    const bin = toCanonical(readPytorchBin(join(fixture, 'pytorch_model.bin')), config, 'bin');
    const st = toCanonical(readSafetensors(join(fixture, 'model.safetensors')), config, 'st');
    expect([...bin.keys()].sort()).toEqual([...st.keys()].sort());
    // Byte comparison: deep-equality on millions of floats would take the test seconds.
    const bytes = (d: Float32Array) => Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    for (const [k, t] of st) {
      expect(bin.get(k)!.dims).toEqual(t.dims);
      expect(bytes(bin.get(k)!.data).equals(bytes(t.data)), k).toBe(true);
    }
  });
});
