// The built Next app of the benchmarks (bench/next-app): `next build` when there is no build yet, when asked,
// or when a source file of the app, or the build of @drip/core or @drip/nextjs it bundles, is newer than it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The app's folder. */
export const nextAppDir = join(benchDir, 'next-app');
/** Next's CLI script, from bench/package.json's `next`. */
export const nextBin = createRequire(join(benchDir, 'package.json')).resolve('next/dist/bin/next');

/** Whether a line of `next start`'s output says the server is ready. */
export const nextReady = (line) => /Ready|started server|Local:/i.test(line);

/** The newest modification time of the app's sources (not its build output). */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '.next' || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds the app when needed; `log` reports that it does. */
export function ensureNextBuild({ rebuild = false, log = console.error } = {}) {
  const buildId = join(nextAppDir, '.next', 'BUILD_ID');
  const newest = Math.max(
    newestSource(nextAppDir),
    ...['core', 'nextjs'].map((name) => {
      const dist = join(benchDir, '..', 'packages', name, 'dist');
      return existsSync(dist) ? newestSource(dist) : 0;
    }),
  );
  if (!rebuild && existsSync(buildId) && statSync(buildId).mtimeMs >= newest) return;
  log('next build (bench/next-app)');
  const build = spawnSync(process.execPath, [nextBin, 'build', nextAppDir], {
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    stdio: ['ignore', 2, 'inherit'],
    timeout: 300_000,
  });
  if (build.status !== 0) throw new Error('next build of bench/next-app failed');
}
