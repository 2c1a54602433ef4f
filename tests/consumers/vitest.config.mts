import { defineConfig } from 'vitest/config';

// Not one of the root's projects: the test command runs it once, on Node 24, with `vitest run --root tests/consumers`.
export default defineConfig({
  test: {
    name: 'consumers',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 300_000,
    hookTimeout: 600_000,
    // Each test runs a compiler or an app in a child process: a few at once keep both cores busy (they write
    // distinct files).
    sequence: { concurrent: true },
    maxConcurrency: 3,
  },
});
