// Next.js 16 under `next start`: throughput of the same route handler bare (/bare/[id]) and wrapped by
// withDrip() (/drip/[id], usage + a run with one event per request, delivered to the local Drip server
// through the outbox). One built app (bench/next-app, built here when needed) serves both routes;
// autocannon runs in its own process; rounds are interleaved (bare, drip, drip, bare, ...); figures
// are medians. Server CPU per request comes from process.cpuUsage() inside the Next server process.
// Results go to the "Next.js" section of BENCHMARKS.md.
// Usage: node bench/next-http.mjs [--rounds 3] [--duration 10] [--warmup 3] [--connections 50] [--write false]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSection } from './lib/common.mjs';
import { autocannon, freePort, getJson, median, parseFlags, stopChild } from './lib/http-bench.mjs';
import { ensureNextBuild, nextAppDir as appDir, nextBin, nextReady } from './lib/next-app.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(benchDir, 'package.json'));
const log = (...a) => console.error('[next-http]', ...a);
const flags = parseFlags(process.argv.slice(2), {
  rounds: 3,
  duration: 10,
  warmup: 3,
  connections: 50,
  write: true,
});
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };

function startChild(cmd, args, extraEnv, ready) {
  const child = spawn(cmd, args, {
    cwd: benchDir,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start within 60 s`)), 60_000);
    child.stdout.on('data', (d) => {
      buf += d;
      const info = ready(buf);
      if (info) {
        clearTimeout(timer);
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ child, info });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code} before it was ready: ${buf}`));
    });
  });
}

async function measure(base, mode) {
  const before = await getJson(`${base}/control/stats`);
  const r = await autocannon(`${base}/${mode}/42`, flags);
  const after = await getJson(`${base}/control/stats`);
  const served = after.served - before.served;
  const cpu = after.cpu.user + after.cpu.system - (before.cpu.user + before.cpu.system);
  return {
    rps: r.requests.average,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
    cpuPerRequestUs: served > 0 ? cpu / served : Number.NaN,
  };
}

ensureNextBuild({ rebuild: Boolean(flags.rebuild), log });

const server = await startChild(process.execPath, [join(benchDir, 'lib', 'drip-server.mjs')], {}, (buf) =>
  buf.includes('\n') ? JSON.parse(buf.slice(0, buf.indexOf('\n'))) : undefined,
);
const { url: dripUrl, apiKey } = server.info;
const auth = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
const customer = await getJson(`${dripUrl}/v1/customers`, {
  method: 'POST',
  headers: auth,
  body: JSON.stringify({ externalCustomerId: `bench-next-${Date.now()}` }),
});
const port = await freePort();
const next = await startChild(
  process.execPath,
  [nextBin, 'start', appDir, '-H', '127.0.0.1', '-p', String(port)],
  { DRIP_API_KEY: apiKey, DRIP_API_URL: dripUrl, BENCH_CUSTOMER_ID: customer.id, NODE_ENV: 'production' },
  (buf) => (nextReady(buf) ? { url: `http://127.0.0.1:${port}` } : undefined),
);
const base = next.info.url;
const results = { bare: [], drip: [] };
let summary;
try {
  for (const mode of ['bare', 'drip']) {
    log(`warm-up ${mode} ${flags.warmup} s`);
    await autocannon(`${base}/${mode}/42`, { connections: flags.connections, duration: flags.warmup });
  }
  for (let round = 0; round < flags.rounds; round++) {
    for (const mode of round % 2 === 0 ? ['bare', 'drip'] : ['drip', 'bare']) {
      const r = await measure(base, mode);
      results[mode].push(r);
      log(
        `round ${round + 1} ${mode}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99} ms, ${r.cpuPerRequestUs.toFixed(1)} µs CPU/req, errors ${r.errors}`,
      );
    }
  }
  const flushStarted = Date.now();
  const delivery = await getJson(`${base}/control/flush`, { method: 'POST' });
  const flushMs = Date.now() - flushStarted;
  const runs = await getJson(`${dripUrl}/v1/runs?customerId=${customer.id}&limit=1`, { headers: auth });
  const m = (mode, key) => median(results[mode].map((r) => r[key]));
  const rows = results.bare
    .map((b, i) => {
      const d = results.drip[i];
      return `| ${i + 1} | ${b.rps.toFixed(0)} | ${d.rps.toFixed(0)} | ${b.p99} | ${d.p99} | ${b.cpuPerRequestUs.toFixed(1)} | ${d.cpuPerRequestUs.toFixed(1)} | ${b.errors + d.errors} |`;
    })
    .join('\n');
  const nextVersion = JSON.parse(readFileSync(require.resolve('next/package.json'), 'utf8')).version;
  summary = `## Next.js: built app under \`next start\`

Command: \`node bench/next-http.mjs\` (${flags.rounds} interleaved rounds of ${flags.duration} s after a ${flags.warmup} s warm-up
per route, autocannon ${flags.connections} connections in its own process). Next ${nextVersion}, \`next build\` of
bench/next-app, Node runtime; \`GET /bare/42\` and \`GET /drip/42\` run the same handler (awaits \`params\`,
small JSON), the second wrapped by \`withDrip()\` (customer resolver, one \`run.event()\`, default outbox,
delivered to the local Drip server). Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version},
load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(', ')} on ${availableParallelism()} cores shared by the Drip server, Next and autocannon.

| Round | bare req/s | drip req/s | bare p99 ms | drip p99 ms | bare CPU µs/req | drip CPU µs/req | errors |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows}

| Median | Value |
| --- | --- |
| Throughput bare / drip | ${m('bare', 'rps').toFixed(0)} / ${m('drip', 'rps').toFixed(0)} req/s |
| Throughput ratio drip / bare | ${(m('drip', 'rps') / m('bare', 'rps')).toFixed(3)} |
| Extra server CPU per request | ${(m('drip', 'cpuPerRequestUs') - m('bare', 'cpuPerRequestUs')).toFixed(1)} µs |
| Runs delivered / metered requests served (warm-up included) | ${runs.count} / ${delivery.metered} (final flush ${flushMs} ms) |

Outbox after the flush: \`${JSON.stringify(delivery.stats)}\`
`;
  console.log(summary);
} finally {
  await stopChild(next.child);
  await stopChild(server.child);
}
if (summary && flags.write !== 'false' && flags.write !== false) writeSection('bench:next-http', summary);
