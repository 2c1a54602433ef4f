import { defineConfig } from 'vitest/config';

// Not one of the root's projects: the test command runs it once, on Node 24, with
// `vitest run --root tests/quickstarts` (packing and npm installs do not depend on the runtime under test).
export default defineConfig({
  test: {
    name: 'quickstarts',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // npm installs from the registry and a cold embedded database take minutes on a small machine.
    hookTimeout: 600_000,
    testTimeout: 180_000,
  },
});
