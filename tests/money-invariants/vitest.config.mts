import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'money-invariants',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 240_000,
    hookTimeout: 120_000,
  },
});
