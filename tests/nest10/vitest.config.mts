import { createRequire } from 'node:module';
import { defineProject } from 'vitest/config';

// The adapter's source is compiled into the test, and its `@nestjs/*` imports are pointed at this
// package's NestJS 10: the adapter's own devDependencies (NestJS 11) would otherwise win, and one app
// would mix two Nest versions (two `Reflector` classes, two injectors).
const require = createRequire(import.meta.url);
const nest = (name: string) => ({ find: new RegExp(`^${name}$`), replacement: require.resolve(name) });
const adapter = new URL('../../packages/nestjs/src/index.ts', import.meta.url).pathname;

export default defineProject({
  resolve: {
    alias: [
      nest('@nestjs/common'),
      nest('@nestjs/core'),
      nest('rxjs'),
      { find: /^@drip\/nestjs$/, replacement: adapter },
    ],
  },
  // Projects do not inherit the root config's timeouts.
  test: {
    name: 'nest10',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
