import { defineProject } from 'vitest/config';

// Starts the local Drip server (embedded database) and the app: allow for a slow, shared machine.
export default defineProject({
  test: {
    name: 'example-nextjs',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
