// Shared Vitest project config. Tests resolve workspace packages to their TypeScript sources
// through the "@lat/source" export condition, so `pnpm test` needs no prior build.
import { basename } from 'node:path';
import { defaultClientConditions, defaultServerConditions } from 'vite';

export const sourceCondition = '@lat/source';

/** @param {string} dir the package directory; @param {import('vitest/config').TestProjectInlineConfiguration['test']} [test] */
export function latProject(dir, test = {}) {
  return {
    resolve: { conditions: [sourceCondition, ...defaultClientConditions] },
    ssr: { resolve: { conditions: [sourceCondition, ...defaultServerConditions] } },
    test: {
      name: basename(dir),
      root: dir,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      environment: 'node',
      testTimeout: 60_000,
      hookTimeout: 120_000,
      ...test,
    },
  };
}
