/** Writing files so that a failure never leaves half a file and always names the path. */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { LatError } from '../errors.js';

/**
 * A Node file-system error as a LatError naming the path (Node's message omits it for reads and
 * writes on an open file: "ENOSPC: no space left on device, write"), with the fix for the usual causes.
 */
export function fileError(e: unknown, path: string, what: string): unknown {
  if (e instanceof LatError || !(e instanceof Error) || !('code' in e)) return e;
  const hint =
    e.code === 'ENOSPC'
      ? ' — the disk is full; free space and run again'
      : e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS'
        ? ' — no permission to write here; choose another path'
        : '';
  return new LatError('IO_ERROR', `${what} (${e.message})${hint}`, path, { cause: e });
}

/** Writes `data` to a temporary file renamed over `path`: readers see the old file or the new one. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw fileError(e, path, 'cannot write');
  }
}
