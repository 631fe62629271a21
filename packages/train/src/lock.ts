/**
 * One training run per output directory: `<out>/.lat-train.lock` holds the owner's pid and host.
 * A second run is refused while the owner lives; the lock of a process that died (SIGKILL, a
 * crash) is taken over. Taking the lock is also the early check that `--out` is writable. A folder
 * the lock created is removed on release when the run wrote nothing into it (it failed early).
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { LatError } from '@lat/core';
import { fileError } from '@lat/core/node';

/** The lock file that keeps a second training run out of an output folder. */
export const lockFileName = '.lat-train.lock';

interface LockOwner {
  pid: number;
  host: string;
  started: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return Number.isInteger(o.pid) && typeof o.host === 'string' ? o : undefined;
  } catch {
    return undefined; // unreadable or half written: its owner died while taking it
  }
}

/** Removes `dir` and the parents up to `created` (the first folder mkdir made) while they are empty. */
function removeEmptyUpTo(dir: string, created: string): void {
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') return;
      throw e;
    }
    if (d === resolve(created) || d === dirname(d)) return;
  }
}

/** Takes the lock on `dir` (created if needed); returns the function that releases it. */
export function lockOutputDir(dir: string): () => void {
  const path = join(dir, lockFileName);
  let created: string | undefined;
  try {
    created = mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fileError(e, dir, 'cannot create the output directory');
  }
  const me: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw fileError(e, dir, 'cannot write to the output directory');
      const owner = readOwner(path);
      const held = owner && owner.pid !== process.pid && (owner.host !== me.host || alive(owner.pid));
      if (held || attempt >= 2)
        throw new LatError(
          'LOCKED',
          `another lat train (${owner ? `pid ${owner.pid} on ${owner.host}, started ${owner.started}` : 'starting'}) is writing here; wait for it to finish or choose another --out`,
          dir,
        );
      rmSync(path, { force: true }); // its owner is gone: take the lock over
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    return () => {
      if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
      if (created) removeEmptyUpTo(dir, created);
    };
  }
}
