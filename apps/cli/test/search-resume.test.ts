/**
 * A killed `lat search` resumes: SIGKILL in the middle of an iteration (once its state file says
 * so), run the same command again, and the frontier is the one an uninterrupted search writes.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SearchState } from '@lat/search';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliBin, cliRoot, ensureBuilt, lat, writeSentimentFixture } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-search-resume-'));
const base = join(dir, 'base');
const search = (out: string) => [
  'search',
  '--model',
  base,
  '--dev',
  join(dir, 'dev.tsv'),
  '--task',
  'sst2',
  '--out',
  out,
  ...['--iterations', '4', '--population', '4', '--mutations', '4', '--crossovers', '4', '--threads', '1'],
];

beforeAll(() => {
  ensureBuilt(cliRoot);
  writeSentimentFixture(dir, base, { seed: 6, train: 10, dev: 100, hidden: 32, heads: 2 });
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lat search', () => {
  it('resumes a search killed mid-iteration to the frontier of an uninterrupted one', async () => {
    const whole = lat(search(join(dir, 'whole.json')));
    expect(whole.code, whole.err).toBe(0);
    expect(existsSync(join(dir, 'whole.search-state.json'))).toBe(false); // removed once the frontier is written

    const out = join(dir, 'killed.json');
    const statePath = join(dir, 'killed.search-state.json');
    const child = spawn(process.execPath, [cliBin, ...search(out)], { stdio: 'ignore' });
    let seen: SearchState | undefined;
    // SIGKILL once the initial population and one iteration are done and the next is under way.
    const poll = setInterval(() => {
      if (seen || !existsSync(statePath)) return;
      const { state } = JSON.parse(readFileSync(statePath, 'utf8')) as { state: SearchState };
      if (state.rounds >= 2 && state.pending.length > 0) {
        seen = state;
        child.kill('SIGKILL');
      }
    }, 5);
    const code = await new Promise((resolve) => child.on('close', resolve));
    clearInterval(poll);
    expect(code).toBe(null);
    expect(seen, 'the search finished before reaching the state to kill it in').toBeDefined();
    expect(existsSync(out)).toBe(false);
    copyFileSync(statePath, join(dir, 'other.search-state.json'));

    const resumed = lat(search(out));
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.out).toMatch(
      /resuming the search from .*killed\.search-state\.json \(\d+ of 4 iterations done\)/,
    );
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(dir, 'whole.json'), 'utf8'));
    expect(existsSync(statePath)).toBe(false);

    // A state saved for other settings is not resumed: another seed searches from scratch.
    const fresh = lat([...search(join(dir, 'other.json')), '--seed', '9', '--iterations', '1']);
    expect(fresh.code, fresh.err).toBe(0);
    expect(fresh.out).not.toMatch(/resuming/);
  }, 120_000);
});
