/**
 * safetensors: an 8-byte little-endian header length, a JSON header of
 * `{name: {dtype, shape, data_offsets: [begin, end]}}`, then the raw little-endian data.
 * Reading goes tensor by tensor from the file, so a 440 MB checkpoint is never held twice.
 */
import { closeSync, fstatSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { LatError } from '../errors.js';
import type { Tensor32 } from './tensors.js';

const MAX_HEADER = 100 * 1024 * 1024;

const dtypeSizes: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Reads every tensor as float32 (fp16/bf16/f64/int widened), keyed by its name in the file. */
export function readSafetensors(path: string): Map<string, Tensor32> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new LatError('NOT_FOUND', `cannot open (${(e as Error).message})`, path);
  }
  try {
    const size = fstatSync(fd).size;
    const bad = (msg: string): never => {
      throw new LatError('BAD_FILE', `not a valid safetensors file: ${msg}`, path);
    };
    if (size < 8) bad('shorter than its 8-byte header length');
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > MAX_HEADER || 8 + headerLen > size)
      bad(`header length ${headerLen} exceeds the file size ${size}`);
    const headerBuf = Buffer.alloc(headerLen);
    readSync(fd, headerBuf, 0, headerLen, 8);
    let header: Record<string, Entry>;
    try {
      header = JSON.parse(headerBuf.toString('utf8'));
    } catch {
      return bad('the header is not JSON');
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header))
      bad('the header is not a JSON object');
    const dataStart = 8 + headerLen;
    const out = new Map<string, Tensor32>();
    const ranges: [number, number, string][] = [];
    // Check every entry before reading any data: a tiny file must not make us allocate much.
    for (const [name, e] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      if (typeof e !== 'object' || e === null) bad(`entry '${name}' is not an object`);
      const width = Object.hasOwn(dtypeSizes, e.dtype) ? dtypeSizes[e.dtype] : undefined;
      if (!width) bad(`tensor '${name}' has unsupported dtype ${JSON.stringify(e.dtype)}`);
      if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
        bad(`tensor '${name}' has an invalid shape`);
      }
      const [begin, end] = Array.isArray(e.data_offsets) ? e.data_offsets : [Number.NaN, Number.NaN];
      const count = e.shape.reduce((a, b) => a * b, 1);
      if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin) {
        bad(`tensor '${name}' has invalid data_offsets`);
      }
      if (end - begin !== count * width!)
        bad(`tensor '${name}' has ${end - begin} bytes, its shape needs ${count * width!}`);
      if (dataStart + end > size) bad(`tensor '${name}' ends past the end of the file`);
      ranges.push([begin, end, name]);
    }
    ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let i = 1; i < ranges.length; i++) {
      const [begin, , name] = ranges[i]!;
      const [, prevEnd, prev] = ranges[i - 1]!;
      if (begin < prevEnd) bad(`tensors '${prev}' and '${name}' overlap in the file (data_offsets)`);
    }
    for (const [begin, end, name] of ranges) {
      const e = header[name]!;
      const bytes = Buffer.alloc(end - begin);
      readSync(fd, bytes, 0, bytes.length, dataStart + begin);
      out.set(name, {
        dims: [...e.shape],
        data: toFloat32(bytes, e.dtype, bytes.length / dtypeSizes[e.dtype]!),
      });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

function toFloat32(b: Buffer, dtype: string, n: number): Float32Array {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dtype === 'F32') {
    const out = new Float32Array(n);
    new Uint8Array(out.buffer).set(b);
    return out;
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case 'F64':
        out[i] = view.getFloat64(i * 8, true);
        break;
      case 'F16':
        out[i] = halfToFloat(view.getUint16(i * 2, true));
        break;
      case 'BF16':
        out[i] = bf16ToFloat(view.getUint16(i * 2, true));
        break;
      case 'I64':
        out[i] = Number(view.getBigInt64(i * 8, true));
        break;
      case 'I32':
        out[i] = view.getInt32(i * 4, true);
        break;
      case 'I16':
        out[i] = view.getInt16(i * 2, true);
        break;
      case 'I8':
        out[i] = view.getInt8(i);
        break;
      default:
        out[i] = view.getUint8(i);
    }
  }
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** A bfloat16 bit pattern as a number. */
export function bf16ToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** An IEEE float16 bit pattern as a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Writes float32 tensors (sorted by name, as the Python library does) atomically: temp file, then rename. */
export function writeSafetensors(
  path: string,
  tensors: Map<string, Tensor32>,
  metadata?: Record<string, string>,
): void {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const n of names) {
    const t = tensors.get(n)!;
    const count = t.dims.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new LatError(
        'BAD_SHAPE',
        `tensor '${n}' has ${t.data.length} values but shape [${t.dims}]`,
        path,
      );
    }
    header[n] = { dtype: 'F32', shape: t.dims, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keep the data 8-byte aligned
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, len);
      writeSync(fd, headerBytes);
      for (const n of names) {
        const d = tensors.get(n)!.data;
        writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      }
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true }); // no half-written file left behind (a full disk stays full otherwise)
    throw new LatError('IO_ERROR', `cannot write (${(e as Error).message})`, path, { cause: e });
  }
}
