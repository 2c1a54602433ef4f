// Diagnostic companion of bench/http-nest.mjs: one run, interleaved rounds, several NestJS apps on the
// same harness (bench/http-nest-app.mjs) so that figures compare at the same machine load:
//   bare         no interceptor
//   noop         an interceptor that only returns next.handle() (Nest's own interceptor machinery)
//   meter-only   DripInterceptor, delivery never answering (request-path cost alone)
//   meter-only-no-als   the same with `asyncContext: false` (no AsyncLocalStorage request scope)
//   baseline     meter-only with another build of @drip/nestjs (BENCH_DRIP_NESTJS_BASELINE: path of its
//                ESM entry), e.g. the build before a change; omitted when the variable is not set.
// Prints a markdown table; `--write true` also puts it into the "bench:http-nest" section of
// BENCHMARKS.md, just before the section's end marker (after what bench/http-nest.mjs wrote).
// Usage: node bench/http-nest-compare.mjs [--rounds 3] [--duration 8] [--warmup 2] [--connections 50] [--write false]
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { autocannon, getJson, median, parseFlags, startChild, stopChild } from './lib/http-bench.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const flags = parseFlags(process.argv.slice(2), {
  rounds: 3,
  duration: 8,
  warmup: 2,
  connections: 50,
  write: false,
});
const log = (...a) => console.error('[http-nest-compare]', ...a);

const loadBefore = os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(' / ');
const server = await startChild(join(benchDir, 'lib', 'drip-server.mjs'), [], {});
const auth = { authorization: `Bearer ${server.info.apiKey}`, 'content-type': 'application/json' };
const customer = await getJson(`${server.info.url}/v1/customers`, {
  method: 'POST',
  headers: auth,
  body: JSON.stringify({ externalCustomerId: `bench-nest-compare-${Date.now()}` }),
});
const env = {
  DRIP_API_KEY: server.info.apiKey,
  DRIP_API_URL: server.info.url,
  BENCH_CUSTOMER_ID: customer.id,
  BENCH_DRIP_NESTJS: '',
};
const appScript = join(benchDir, 'http-nest-app.mjs');
const specs = [
  ['bare', 'bare', {}],
  ['noop', 'noop', {}],
  ['meter-only', 'meter-only', {}],
  ['meter-only-no-als', 'meter-only', { BENCH_NO_ASYNC_CONTEXT: '1' }],
];
const baselinePath = process.env.BENCH_DRIP_NESTJS_BASELINE;
if (baselinePath) specs.push(['baseline', 'meter-only', { BENCH_DRIP_NESTJS: baselinePath }]);
const apps = [];
try {
  for (const [label, mode, extra] of specs) {
    apps.push({ label, ...(await startChild(appScript, [mode], { ...env, ...extra })), results: [] });
  }
  for (const app of apps) {
    log(`warm-up ${app.label} ${flags.warmup} s`);
    await autocannon(`${app.info.url}/items/42`, { connections: flags.connections, duration: flags.warmup });
  }
  for (let round = 0; round < flags.rounds; round++) {
    for (const app of round % 2 === 0 ? apps : [...apps].reverse()) {
      const before = await getJson(`${app.info.url}/__bench/stats`);
      const r = await autocannon(`${app.info.url}/items/42`, {
        connections: flags.connections,
        duration: flags.duration,
      });
      const after = await getJson(`${app.info.url}/__bench/stats`);
      const served = after.served - before.served;
      const cpu = after.cpu.user + after.cpu.system - (before.cpu.user + before.cpu.system);
      app.results.push({ rps: r.requests.average, cpu: cpu / served, p99: r.latency.p99 });
      log(
        `round ${round + 1} ${app.label}: ${r.requests.average.toFixed(0)} req/s, ${(cpu / served).toFixed(1)} µs CPU/req`,
      );
    }
  }
} finally {
  await Promise.all(apps.map((a) => stopChild(a.child)));
  await stopChild(server.child);
}

const med = (app, key) => median(app.results.map((r) => r[key]));
const bare = apps[0];
const rows = apps
  .map(
    (a) =>
      `| ${a.label} | ${med(a, 'rps').toFixed(0)} | ${(med(a, 'rps') / med(bare, 'rps')).toFixed(3)} | ${med(a, 'cpu').toFixed(1)} | ${(med(a, 'cpu') - med(bare, 'cpu')).toFixed(1)} | ${a.results.map((r) => r.cpu.toFixed(0)).join(', ')} |`,
  )
  .join('\n');
const table = `### Where the extra CPU goes (\`node bench/http-nest-compare.mjs\`)

${flags.rounds} interleaved rounds of ${flags.duration} s (autocannon ${flags.connections} connections) over ${apps.length} apps (one at a time, order reversed every round), measured
${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, load average before ${loadBefore}, after ${os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(
    ' / ',
  )}. \`noop\`: an interceptor that only returns \`next.handle()\`; \`meter-only\`: DripInterceptor with
a delivery that never answers; \`-no-als\`: with \`asyncContext: false\`${baselinePath ? '; `baseline`: meter-only with the build given in BENCH_DRIP_NESTJS_BASELINE' : ''}.

| App | req/s | ratio to bare | CPU µs/req | extra CPU µs/req | rounds (CPU µs/req) |
| --- | --- | --- | --- | --- | --- |
${rows}
`;
console.log(table);
if (flags.write === true || flags.write === 'true') {
  const file = join(benchDir, '..', 'BENCHMARKS.md');
  const end = '<!-- bench:http-nest:end -->';
  const text = readFileSync(file, 'utf8');
  const i = text.indexOf(end);
  if (i === -1) throw new Error('no bench:http-nest section in BENCHMARKS.md');
  writeFileSync(file, `${text.slice(0, i)}\n${table}${text.slice(i)}`);
  log('appended to the "bench:http-nest" section of BENCHMARKS.md');
}
