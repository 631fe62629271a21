/**
 * PyTorch `pytorch_model.bin` (torch.save's zip format): `<archive>/data.pkl` holds the state
 * dict pickle, `<archive>/data/<key>` the raw little-endian storages. Read through the restricted
 * unpickler; tensors become float32.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { LatError } from '../errors.js';
import { type StorageRef, type TensorRef, unpickle } from './pickle.js';
import { bf16ToFloat, halfToFloat } from './safetensors.js';
import type { Tensor32 } from './tensors.js';
import { ZipReader } from './zip.js';

const widths: Record<string, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Reads a PyTorch `.bin` state dict (zip or legacy format) through the restricted unpickler: no code from the file runs. */
export function readPytorchBin(path: string): Map<string, Tensor32> {
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (head.readUInt32LE(0) !== 0x04034b50) {
    throw new LatError(
      'UNSUPPORTED',
      'this is a legacy (pre-1.6, non-zip) PyTorch file; re-save it with a recent torch.save or convert it to model.safetensors',
      path,
    );
  }
  const zip = new ZipReader(path);
  try {
    const pkl = [...zip.entries.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
    if (!pkl) throw new LatError('BAD_FILE', 'the archive has no data.pkl: not a torch.save file', path);
    const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
    const state = unpickle(zip.readEntry(pkl), `${path}#${pkl}`);
    const entries: [unknown, unknown][] =
      state instanceof Map
        ? [...state]
        : typeof state === 'object' && state !== null
          ? Object.entries(state)
          : [];
    if (entries.length === 0) throw new LatError('BAD_FILE', 'the pickle holds no state dict', path);
    const storages = new Map<string, Buffer>();
    const out = new Map<string, Tensor32>();
    for (const [name, value] of entries) {
      const t = value as TensorRef;
      if (t?.kind !== 'tensor') continue;
      const storage = storages.get(t.storage.key) ?? zip.readEntry(`${prefix}data/${t.storage.key}`);
      storages.set(t.storage.key, storage);
      out.set(String(name), toTensor(storage, t, `${path}#${String(name)}`));
    }
    return out;
  } finally {
    zip.close();
  }
}

function toTensor(storage: Buffer, t: TensorRef, where: string): Tensor32 {
  const dtype = (t.storage as StorageRef).dtype;
  const width = widths[dtype];
  if (!width) throw new LatError('UNSUPPORTED', `tensors of type ${dtype} are not supported`, where);
  const count = t.size.reduce((a, b) => a * b, 1);
  const elements = storage.length / width;
  // The furthest element this view touches must lie inside the storage.
  const last = t.offset + t.size.reduce((a, s, i) => a + (s > 0 ? (s - 1) * (t.stride[i] ?? 0) : 0), 0);
  if (
    t.size.some((s) => !Number.isInteger(s) || s < 0) ||
    t.stride.length !== t.size.length ||
    (count > 0 && (t.offset < 0 || last >= elements))
  ) {
    throw new LatError(
      'BAD_FILE',
      `tensor view [${t.size}] at offset ${t.offset} does not fit its storage of ${elements} elements`,
      where,
    );
  }
  // A view with more elements than its storage repeats data (stride 0): a 1 KB file could ask for
  // gigabytes. State dicts hold no such tensors; refuse before allocating anything.
  if (count > Math.max(elements, 1))
    throw new LatError(
      'BAD_FILE',
      `tensor view [${t.size}] has ${count} elements but its storage only ${elements} (a repeated, stride-0 view); re-save the checkpoint with contiguous tensors`,
      where,
    );
  const contiguous = t.stride.every((st, i) => st === t.size.slice(i + 1).reduce((a, b) => a * b, 1));
  if (dtype === 'float32' && contiguous) {
    // The common case: copy the bytes straight out (little-endian, as torch.save writes them).
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(storage.subarray(t.offset * 4, (t.offset + count) * 4));
    return { dims: [...t.size], data };
  }
  const view = new DataView(storage.buffer, storage.byteOffset, storage.byteLength);
  const read = (i: number): number => {
    const o = i * width;
    switch (dtype) {
      case 'float32':
        return view.getFloat32(o, true);
      case 'float64':
        return view.getFloat64(o, true);
      case 'float16':
        return halfToFloat(view.getUint16(o, true));
      case 'bfloat16':
        return bf16ToFloat(view.getUint16(o, true));
      case 'int64':
        return Number(view.getBigInt64(o, true));
      case 'int32':
        return view.getInt32(o, true);
      case 'int16':
        return view.getInt16(o, true);
      case 'int8':
        return view.getInt8(o);
      default:
        return view.getUint8(o);
    }
  };
  const data = new Float32Array(count);
  const rank = t.size.length;
  const index = new Array<number>(rank).fill(0);
  for (let k = 0; k < count; k++) {
    let src = t.offset;
    for (let d = 0; d < rank; d++) src += index[d]! * t.stride[d]!;
    data[k] = read(src);
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d]! < t.size[d]!) break;
      index[d] = 0;
    }
  }
  return { dims: [...t.size], data };
}
