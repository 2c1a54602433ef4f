import { defineProject } from 'vitest/config';

// Starts the local Drip server (embedded database) and the app: allow for a slow, shared machine.
export default defineProject({
  test: {
    name: 'example-nestjs',
    include: ['test/**/*.test.mts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
