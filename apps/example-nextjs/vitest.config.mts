import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'example-nextjs', include: ['test/**/*.test.ts'], environment: 'node' },
});
