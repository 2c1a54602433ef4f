import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'readme-snippets',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    hookTimeout: 180_000,
  },
});
