import { defineProject } from 'vitest/config';

// DRIP_TEST_RUNTIMES picks the runtimes (the test command runs one step per runtime). The outcome suite
// file only has cases for Bun and Deno (Node and workerd run it in the hono project), so it is left out
// of a step that runs neither, instead of reporting an empty file.
const chosen = (process.env.DRIP_TEST_RUNTIMES ?? 'node,bun,deno,workerd').split(',');
const outcome = chosen.includes('bun') || chosen.includes('deno');
// @drip/ai's scenario runs on Node, Bun and Deno (not in workerd).
const ai = chosen.some((name) => name === 'node' || name === 'bun' || name === 'deno');

export default defineProject({
  test: {
    name: 'runtimes',
    include: ['test/**/*.test.ts'],
    exclude: [...(outcome ? [] : ['test/outcome.test.ts']), ...(ai ? [] : ['test/ai.test.ts'])],
    environment: 'node',
    // Projects do not inherit the root config's timeouts; Bun, Deno and workerd start as child processes.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
