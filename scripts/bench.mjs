// Runs the benchmarks one after another; each writes its own section of BENCHMARKS.md.
//   pnpm bench                   every benchmark (most of an hour on 2 cores: the four HTTP ones take 5-12 minutes each)
//   pnpm bench pipeline-request  only the named ones (file names under bench/ without .mjs)
//   overhead (issue 17's fair per-request figures against a sink, Node 24 and 20): about 10 minutes per framework
// Build first (`pnpm build`): the benchmarks load the packages' dist folders.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const benches = {
  'core-size': [],
  'core-request': [],
  'outbox-enqueue': [],
  'outbox-memory': ['--expose-gc'],
  'pipeline-request': [],
  'outbox-delivery': [],
  'server-ingest': [],
  'server-timeline': [],
  'http-express': [],
  'http-hono': [],
  'http-nest': [],
  'http-inject': [],
  'next-call': [],
  'next-http': [],
  overhead: [],
  'pipeline-deliver': [],
};

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in benches)) {
    console.error(`unknown benchmark "${name}"; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
}
const root = join(import.meta.dirname, '..');
let failed = 0;
for (const [name, nodeFlags] of Object.entries(benches)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  console.log(`\n== bench/${name}.mjs`);
  const r = spawnSync(process.execPath, [...nodeFlags, join(root, 'bench', `${name}.mjs`)], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${name}.mjs exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
