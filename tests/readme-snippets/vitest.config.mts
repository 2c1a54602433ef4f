import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'readme-snippets',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    // Projects do not inherit the root config's timeouts.
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
