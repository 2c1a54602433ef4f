import { defineProject } from 'vitest/config';

// AI SDK 7 needs Node 22 or newer: its tests sit in their own project (`ai-node22`, see
// vitest.node22.config.mts) and are left out here, so this project runs on the machine's Node 20.
export default defineProject({
  test: {
    name: 'ai',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['test/**/*.node22.test.ts'],
    environment: 'node',
    // Projects do not inherit the root config's timeouts: the retry tests wait on the AI SDK's own 2 s backoff.
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
