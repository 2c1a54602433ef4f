import { defineConfig } from 'vitest/config';

// Not one of the root's projects: the test command runs it once, on Node 24, with `vitest run --root tests/consumers`.
export default defineConfig({
  test: {
    name: 'consumers',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 300_000,
    hookTimeout: 600_000,
  },
});
