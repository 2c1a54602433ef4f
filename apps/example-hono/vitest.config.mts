import { defineProject } from 'vitest/config';

export default defineProject({
  // Starting the local server (embedded PostgreSQL in memory, migrations) takes seconds on a busy machine.
  test: {
    name: 'example-hono',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
