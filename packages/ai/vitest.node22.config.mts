import { defineProject } from 'vitest/config';

// AI SDK 7 declares Node >= 22, so its tests are their own project, run with a newer Node:
//   cd packages/ai && ../../.tools/node24/node_modules/.bin/node ../../node_modules/vitest/vitest.mjs run --config vitest.node22.config.mts
export default defineProject({
  test: {
    name: 'ai-node22',
    include: ['test/**/*.node22.test.ts'],
    environment: 'node',
    // Projects do not inherit the root config's timeouts: the retry tests wait on the AI SDK's own 2 s backoff.
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
