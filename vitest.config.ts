import { defineConfig } from 'vitest/config';

// One vitest run covers every workspace project; each package keeps its own vitest.config.mts.
export default defineConfig({
  test: {
    projects: [
      'packages/*',
      'apps/*',
      'tests/official-client',
      'tests/nest10',
      'tests/readme-snippets',
      'tests/money-invariants',
      'tests/runtimes',
    ],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
