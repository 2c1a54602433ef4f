import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'quickstarts',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // npm installs from the registry and a cold embedded database take minutes on a small machine.
    hookTimeout: 600_000,
    testTimeout: 180_000,
  },
});
