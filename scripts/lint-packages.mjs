// Runs publint and @arethetypeswrong/cli on every published package (not private) after the build.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dirs = [
  ...readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d)),
  // The local server: a published CLI with an ESM-only library entry (Node >= 20 imports it).
  join(root, 'apps', 'server'),
]
  .filter((d) => existsSync(join(d, 'package.json')))
  .filter((d) => !JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).private);

let failed = 0;
for (const dir of dirs) {
  const name = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name;
  for (const [cmd, args] of [
    ['publint', ['--strict']],
    // node10 resolution ignores "exports"; the packages declare Node >= 18, so the node16 profile applies.
    [
      'attw',
      [
        '--pack',
        '.',
        '--profile',
        'node16',
        '--format',
        'table-flipped',
        // ESM only by design (the server's CLI and library need Node >= 20): `require()` is not offered.
        ...(name === '@drip/server' ? ['--ignore-rules', 'cjs-resolves-to-esm'] : []),
      ],
    ],
  ]) {
    try {
      execFileSync(join(root, 'node_modules', '.bin', cmd), args, { cwd: dir, stdio: 'pipe' });
      console.log(`ok   ${name}: ${cmd}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${cmd}\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`);
    }
  }
}
if (failed) process.exit(1);
