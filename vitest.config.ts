import { defineConfig } from 'vitest/config';

// One Vitest run over every workspace project, so CI gets a single pass/fail total.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
    globalSetup: ['tooling/vitest-config/test-tmpdir.js'],
  },
});
