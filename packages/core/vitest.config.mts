import { defineProject } from 'vitest/config';

export default defineProject({
  // Property tests (fast-check, hundreds of runs) take seconds on a loaded 2-core machine: give them room.
  test: {
    name: 'core',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
