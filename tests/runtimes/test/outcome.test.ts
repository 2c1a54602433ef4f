// The shared outcome suite (tests/outcome-suite) for @drip/hono on Bun and Deno: the same table of endings
// (completed, 4xx, 5xx, thrown, aborted mid-body, streamed, cancelled stream, each with extra usage) that
// the hono vitest project checks on Node and in workerd, run by each runtime itself, in process and over
// its own HTTP server. The script prints "<runtime> <mode>: N passed, N failed" per mode.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const hono = join(root, 'packages', 'hono');
const tools = join(root, '.tools');
const SCRIPT = 'test/outcome-runtimes.ts';

const COMMANDS: Record<string, string[]> = {
  bun: [join(tools, 'bun/node_modules/.bin/bun'), 'run', SCRIPT],
  deno: [
    join(tools, 'deno/node_modules/.bin/deno'),
    'run',
    '--sloppy-imports',
    '--allow-net',
    '--allow-env',
    '--allow-read',
    '--allow-sys',
    SCRIPT,
  ],
};
const chosen = (process.env.DRIP_TEST_RUNTIMES ?? 'bun,deno').split(',').filter((name) => name in COMMANDS);

for (const runtime of chosen) {
  describe(`@drip/hono outcome suite on ${runtime}`, () => {
    it('every ending bills and records the run by the one outcome rule, in process and over a socket', () => {
      const [bin, ...args] = COMMANDS[runtime] as [string, ...string[]];
      if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/runtimes.sh`);
      const run = spawnSync(bin, args, {
        cwd: hono,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
      });
      const out = `${run.stdout}\n${run.stderr}`;
      expect(run.status, out).toBe(0);
      const lines = [...out.matchAll(new RegExp(`^${runtime} .*: (\\d+) passed, (\\d+) failed$`, 'gm'))];
      expect(lines, out).toHaveLength(2);
      for (const [, passed, failed] of lines) {
        expect(Number(failed), out).toBe(0);
        expect(Number(passed), out).toBeGreaterThanOrEqual(21);
      }
    });
  });
}
