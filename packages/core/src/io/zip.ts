/**
 * A minimal, bounds-checked zip reader over a file descriptor: the central directory is read
 * once, entries are read on demand (torch.save stores tensors uncompressed, so a large checkpoint
 * is read tensor by tensor rather than as a whole). Stored and deflated entries; zip64 sizes.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { LatError } from '../errors.js';

/** One entry of a zip's central directory. */
export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** Reads entries of a zip file (stored or deflated) without loading the whole archive. */
export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly fd: number;
  private readonly fileSize: number;

  constructor(private readonly path: string) {
    try {
      this.fd = openSync(path, 'r');
    } catch (e) {
      throw new LatError('NOT_FOUND', `cannot open (${(e as Error).message})`, path);
    }
    try {
      this.fileSize = fstatSync(this.fd).size;
      this.readDirectory();
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  private bad(msg: string): never {
    throw new LatError('BAD_FILE', `not a valid zip archive: ${msg}`, this.path);
  }

  private read(offset: number, length: number): Buffer {
    if (offset < 0 || length < 0 || offset + length > this.fileSize)
      this.bad(`a record at ${offset} runs past the end of the file`);
    const b = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, b, done, length - done, offset + done);
      if (n === 0) this.bad('unexpected end of file');
      done += n;
    }
    return b;
  }

  private readDirectory() {
    // The end-of-central-directory record sits in the last 22 + 65535 bytes.
    const tailLen = Math.min(this.fileSize, 22 + 65535);
    if (tailLen < 22) this.bad('too short');
    const tail = this.read(this.fileSize - tailLen, tailLen);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) this.bad('no end-of-central-directory record');
    let count = tail.readUInt16LE(eocd + 10);
    let dirSize = tail.readUInt32LE(eocd + 12);
    let dirOffset = tail.readUInt32LE(eocd + 16);
    if (dirOffset === 0xffffffff || count === 0xffff) {
      // zip64: the locator precedes the EOCD and points at the zip64 EOCD record.
      const loc = eocd - 20;
      if (loc < 0 || tail.readUInt32LE(loc) !== 0x07064b50) this.bad('zip64 locator missing');
      const z64 = Number(tail.readBigUInt64LE(loc + 8));
      const rec = this.read(z64, 56);
      if (rec.readUInt32LE(0) !== 0x06064b50) this.bad('zip64 end record missing');
      count = Number(rec.readBigUInt64LE(32));
      dirSize = Number(rec.readBigUInt64LE(40));
      dirOffset = Number(rec.readBigUInt64LE(48));
    }
    if (count > 1_000_000) this.bad(`claims ${count} entries`);
    const dir = this.read(dirOffset, dirSize);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > dir.length || dir.readUInt32LE(p) !== 0x02014b50)
        this.bad(`central directory entry ${i} is malformed`);
      const method = dir.readUInt16LE(p + 10);
      let compressedSize = dir.readUInt32LE(p + 20);
      let size = dir.readUInt32LE(p + 24);
      const nameLen = dir.readUInt16LE(p + 28);
      const extraLen = dir.readUInt16LE(p + 30);
      const commentLen = dir.readUInt16LE(p + 32);
      let localHeaderOffset = dir.readUInt32LE(p + 42);
      if (p + 46 + nameLen + extraLen > dir.length)
        this.bad(`central directory entry ${i} runs past its end`);
      const name = dir.toString('utf8', p + 46, p + 46 + nameLen);
      // zip64 extra field: the 64-bit values, in order, for each 32-bit field that is 0xFFFFFFFF.
      let e = p + 46 + nameLen;
      const end = e + extraLen;
      while (e + 4 <= end) {
        const id = dir.readUInt16LE(e);
        const len = dir.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          const next = () => {
            if (q + 8 > e + 4 + len) this.bad(`zip64 field of ${name} is short`);
            const v = Number(dir.readBigUInt64LE(q));
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = next();
          if (compressedSize === 0xffffffff) compressedSize = next();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** The entry's bytes; refuses sizes past `maxSize` (a corrupt size must not exhaust memory). */
  readEntry(name: string, maxSize = this.fileSize * 20 + 1024): Buffer {
    const entry = this.entries.get(name);
    if (!entry) throw new LatError('BAD_FILE', `the archive has no entry '${name}'`, this.path);
    if (entry.size > maxSize || entry.compressedSize > this.fileSize)
      this.bad(`entry ${name} claims an impossible size`);
    const local = this.read(entry.localHeaderOffset, 30);
    if (local.readUInt32LE(0) !== 0x04034b50) this.bad(`entry ${name} has no local header`);
    const dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    const raw = this.read(dataStart, entry.compressedSize);
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.size) this.bad(`stored entry ${name} has mismatched sizes`);
      return raw;
    }
    if (entry.method === 8) {
      try {
        const out = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
        if (out.length !== entry.size) this.bad(`entry ${name} inflated to the wrong size`);
        return out;
      } catch (e) {
        if (e instanceof LatError) throw e;
        return this.bad(`entry ${name} does not inflate (${(e as Error).message})`);
      }
    }
    return this.bad(`entry ${name} uses unsupported compression method ${entry.method}`);
  }

  close(): void {
    closeSync(this.fd);
  }
}
