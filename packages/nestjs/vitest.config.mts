import { defineProject } from 'vitest/config';

// 30 s per test, as in core: delivery tests wait on the outbox's retry backoff, slow on a loaded 2-core machine.
export default defineProject({
  test: {
    name: 'nestjs',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
