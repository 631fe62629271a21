/** The installable command's own surface: `lat --version` and the bash/zsh completion scripts. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/index.js';

const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../package.json'), 'utf8'));

async function lat(argv: string[]) {
  let out = '';
  const code = await main(argv, { write: (s) => void (out += s), error: (s) => void (out += s) });
  return { code, out };
}

/** What bash completes for the words typed so far (the last one is being completed). */
function bashComplete(script: string, words: string[]): string[] {
  const r = spawnSync(
    'bash',
    [
      '-c',
      `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _lat_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: 'utf8', cwd: import.meta.dirname },
  );
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean);
}

const hasZsh = spawnSync('zsh', ['--version']).status === 0;

describe('lat --version and shell completion', () => {
  it('--version prints the version in package.json', async () => {
    expect(await lat(['--version'])).toEqual({ code: 0, out: `${pkg.version}\n` });
  });

  it('bash: completes commands, each command’s flags, flag choices and files', async () => {
    const { code, out } = await lat(['completion', 'bash']);
    expect(code).toBe(0);
    expect(bashComplete(out, ['lat', 'tr'])).toEqual(['train']);
    expect(bashComplete(out, ['lat', ''])).toEqual(
      expect.arrayContaining(['demo', 'export', 'info', 'search']),
    );
    expect(bashComplete(out, ['lat', 'train', '--mo'])).toEqual(['--model']);
    expect(bashComplete(out, ['lat', 'search', '--objective', 'l'])).toEqual(['latency']);
    expect(bashComplete(out, ['lat', 'info', '--model', 'package.t'])).toEqual(['package.test.ts']);
    expect(bashComplete(out, ['lat', 'info', '--versio'])).toEqual([]);
  });

  it.skipIf(!hasZsh)('zsh: the script parses and registers _lat for lat', async () => {
    const { out } = await lat(['completion', 'zsh']);
    const r = spawnSync(
      'zsh',
      ['-c', `autoload -Uz compinit && compinit -u -D\n${out}\nprint -r -- $_comps[lat]`],
      {
        encoding: 'utf8',
      },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('_lat');
  });

  it('refuses an unknown shell with a usage error', async () => {
    expect((await lat(['completion', 'fish'])).code).toBe(2);
  });
});
