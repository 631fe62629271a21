/**
 * torch.save-format files built by hand, for tests of the .bin loader and of checkpoints made by
 * PyTorch code such as the LAT reference's trainer (no PyTorch needed).
 */
import { crc32 } from 'node:zlib';

/** Pickle bytes the way torch.save (protocol 2) writes a state dict (float tensors unless `storage` says). */
export function statePickle(
  tensors: {
    name: string;
    key: string;
    size: number[];
    stride: number[];
    offset?: number;
    storage?: string;
  }[],
): Buffer {
  const parts: Buffer[] = [];
  const op = (...b: number[]) => parts.push(Buffer.from(b));
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    parts.push(Buffer.from([0x58]), len, b); // BINUNICODE
  };
  const int = (n: number) => {
    if (n < 256) return op(0x4b, n); // BININT1
    if (n < 65536) return op(0x4d, n & 0xff, n >> 8); // BININT2
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(n));
    parts.push(Buffer.from([0x8a, 8]), b); // LONG1
  };
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
    parts.push(Buffer.from(`ctorch\n${t.storage ?? 'FloatStorage'}\n`, 'latin1'));
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
export function zipOf(files: [string, Buffer][]): Buffer {
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

export const floats = (xs: number[]) => Buffer.from(Float32Array.from(xs).buffer);

/** A torch.save zip of a state dict of float32 / int64 tensors (contiguous, one storage each). */
export function torchSave(
  state: Map<string, { dims: number[]; data: Float32Array | BigInt64Array }>,
): Buffer {
  const entries = [...state];
  const pkl = statePickle(
    entries.map(([name, t], k) => ({
      name,
      key: String(k),
      size: t.dims,
      stride: t.dims.map((_, i) => t.dims.slice(i + 1).reduce((a, b) => a * b, 1)),
      storage: t.data instanceof BigInt64Array ? 'LongStorage' : 'FloatStorage',
    })),
  );
  return zipOf([
    ['archive/data.pkl', pkl],
    ...entries.map(([, t], k): [string, Buffer] => [
      `archive/data/${k}`,
      Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    ]),
    ['archive/version', Buffer.from('3\n')],
  ]);
}
