// The one build configuration every workspace package uses (each tsdown.config.ts only names its entries),
// so output format, target and file extensions cannot drift between packages.
import { defineConfig, type UserConfig } from 'tsdown';

/**
 * A published library: ESM and CommonJS with their own .d.ts/.d.cts, for a neutral platform, so an entry
 * that needs a Node built-in fails the edge checks instead of being polyfilled or externalised silently.
 *
 * @example
 * // packages/core/tsdown.config.ts
 * export default library(['src/index.ts', 'src/node.ts']);
 */
export function library(entry: string[] = ['src/index.ts']): UserConfig {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    platform: 'neutral',
    target: 'es2022',
    fixedExtension: false,
  });
}

/**
 * A Node application (examples, the local server): ESM only, for the oldest supported Node.
 *
 * @example
 * // apps/server/tsdown.config.ts
 * export default nodeApp(['src/index.ts', 'src/cli.ts'], { dts: true });
 */
export function nodeApp(entry: string[], options: { dts?: boolean } = {}): UserConfig {
  return defineConfig({
    entry,
    format: ['esm'],
    dts: options.dts ?? false,
    clean: true,
    platform: 'node',
    target: 'node20',
    fixedExtension: false,
  });
}
