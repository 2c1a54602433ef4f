// The adapters' CPU per request, in process: the same app scripts as bench/http-{express,hono,nest}.mjs,
// driven through their Node request listener with light-my-request (no socket, no HTTP parser, no load
// generator in the process), the metered apps delivering to the local Drip server over real HTTP. One child
// process per app (the request scope, once on, stays on for the whole process); the apps take turns, in
// reversed order every pass, and each child measures several rounds after a warm-up. Figures are medians of
// CPU µs (user + system) per request; "extra" is the metered app minus the bare app of the same framework.
// Results go to the "HTTP in process" section of BENCHMARKS.md.
// Usage: node bench/http-inject.mjs [--passes 3] [--rounds 3] [--requests 6000] [--warmup 3000]
//   [--concurrency 8] [--rate 1500] [--frameworks express,hono,nest] [--db auto|postgres|pglite] [--write false]
import { spawn } from 'node:child_process';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, parseFlags, writeSection } from './lib/common.mjs';
import { getJson, startChild, startPostgres, stopChild } from './lib/http-bench.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const flags = parseFlags(process.argv.slice(2), {
  passes: 3,
  rounds: 3,
  requests: 6000,
  warmup: 3000,
  concurrency: 8,
  rate: 1500,
  frameworks: 'express,hono,nest',
  db: 'auto',
  write: true,
});
const log = (...a) => console.error('[http-inject]', ...a);

/** The modes of an app built on bench/lib/app-modes.mjs; `fn` names the adapter's entry function. */
function adapterModes(fn) {
  return [
    { mode: 'bare', label: 'bare' },
    { mode: 'noop-mw', label: 'a middleware that only calls `next()`, no metering', delivers: false },
    {
      mode: 'skip',
      label: `\`${fn}()\`, scope off, every request unidentified and skipped`,
      delivers: false,
    },
    {
      mode: 'instant',
      label: `\`${fn}()\`, scope off, fetch answering at once (no network)`,
      delivers: false,
    },
    { mode: 'no-scope', label: `\`${fn}({ asyncContext: false })\`` },
    { mode: 'drip', label: `\`${fn}()\`` },
  ];
}

const APPS = {
  express: { script: 'http-express-app.mjs', title: 'Express 5.3.0', modes: adapterModes('dripMiddleware') },
  hono: {
    script: 'http-hono-app.mjs',
    title: 'Hono 4.13.19 on @hono/node-server 2.1.8',
    modes: adapterModes('drip'),
  },
  nest: {
    script: 'http-nest-app.mjs',
    title: 'NestJS 11.2.10 on @nestjs/platform-express',
    modes: [
      { mode: 'bare', label: 'bare' },
      { mode: 'noop', label: 'a no-op interceptor (`return next.handle()`), no metering' },
      { mode: 'drip', label: '`DripInterceptor` + `DripModule.forRoot()`' },
      {
        mode: 'drip',
        key: 'drip-no-scope',
        env: { BENCH_NO_ASYNC_CONTEXT: '1' },
        label: '`DripInterceptor`, `asyncContext: false`',
      },
    ],
  },
};

/** Runs one app in inject mode; resolves with its JSON report. */
function runChild(script, mode, env) {
  const child = spawn(process.execPath, [join(here, script), mode], {
    cwd: here,
    env: {
      ...process.env,
      ...env,
      BENCH_INJECT: `${flags.warmup},${flags.rounds},${flags.requests},${flags.concurrency},${flags.rate}`,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line) return reject(new Error(`${script} ${mode} exited with ${code}`));
      resolve(JSON.parse(line));
    });
  });
}

const loadBefore = os.loadavg();
const pg = flags.db === 'pglite' ? undefined : startPostgres(flags.db === 'postgres');
const database = pg ? 'PostgreSQL' : 'embedded (PGlite)';
const server = await startChild(join(here, 'server-child.mjs'), pg ? ['--database-url', pg.url] : [], {});
const { url: dripUrl, apiKey } = server.info;
log(`local Drip server on ${dripUrl} (${database})`);
const auth = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };

const frameworks = String(flags.frameworks).split(',');
const results = {};
const checks = [];
try {
  const jobs = [];
  for (const fw of frameworks) {
    for (const m of APPS[fw].modes) {
      const key = `${fw}:${m.key ?? m.mode}`;
      results[key] = [];
      const customer = await getJson(`${dripUrl}/v1/customers`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ externalCustomerId: `inject-${key}-${Date.now()}` }),
      });
      jobs.push({ fw, key, m, customerId: customer.id });
    }
  }
  for (let pass = 0; pass < flags.passes; pass++) {
    const order = pass % 2 === 0 ? jobs : [...jobs].reverse();
    for (const job of order) {
      const r = await runChild(APPS[job.fw].script, job.m.mode, {
        DRIP_API_KEY: apiKey,
        DRIP_API_URL: dripUrl,
        BENCH_CUSTOMER_ID: job.customerId,
        ...job.m.env,
      });
      results[job.key].push(...r.cpuUs);
      if (r.failures > 0) throw new Error(`${job.key}: ${r.failures} responses differ from the handler's`);
      if (r.stats && job.m.delivers !== false)
        checks.push({ key: job.key, served: r.served, stats: r.stats, customerId: job.customerId });
      log(`pass ${pass + 1} ${job.key}: ${r.cpuUs.map((x) => x.toFixed(1)).join(', ')} µs/req`);
    }
  }
  // Every metered request was delivered: the server holds one run per request served by the metered apps.
  const delivered = [];
  for (const job of jobs) {
    const mine = checks.filter((c) => c.key === job.key);
    if (mine.length === 0) continue;
    const served = mine.reduce((s, c) => s + c.served, 0);
    const byReason = {};
    for (const c of mine) {
      for (const [reason, n] of Object.entries(c.stats.dropped))
        if (n > 0) byReason[reason] = (byReason[reason] ?? 0) + n;
    }
    const dropped =
      Object.entries(byReason)
        .map(([reason, n]) => `${n} ${reason}`)
        .join(', ') || '0';
    const runs = await getJson(`${dripUrl}/v1/runs?customerId=${job.customerId}&limit=1`, { headers: auth });
    delivered.push({ key: job.key, served, runs: runs.count, dropped });
  }
  const summary = summarise(delivered, database, loadBefore);
  console.log(summary);
  if (flags.write !== 'false' && flags.write !== false) writeSection('bench:http-inject', summary);
} finally {
  await stopChild(server.child);
  pg?.stop();
}

function summarise(delivered, db, load) {
  const rows = [];
  for (const fw of frameworks) {
    const bare = median(results[`${fw}:bare`]);
    for (const m of APPS[fw].modes) {
      const key = `${fw}:${m.key ?? m.mode}`;
      const med = median(results[key]);
      const extra = m.mode === 'bare' ? '' : `${(med - bare).toFixed(1)}`;
      const all = results[key].map((x) => x.toFixed(1)).join(', ');
      rows.push(`| ${APPS[fw].title} | ${m.label} | ${med.toFixed(1)} | ${extra} | ${all} |`);
    }
  }
  const fmt = (l) => l.map((x) => x.toFixed(2)).join(' / ');
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  return `## HTTP in process: the adapters without the socket

Command: \`node bench/http-inject.mjs --passes ${flags.passes} --rounds ${flags.rounds} --requests ${flags.requests} --rate ${flags.rate}\`.
The app scripts of the HTTP benchmarks above, driven through their Node request listener with light-my-request
(${flags.rate} requests/s from ${flags.concurrency} concurrent callers, no socket, no HTTP parser, no load generator in the app's
process). Each app runs in its own process (${flags.warmup} warm-up requests, then ${flags.rounds} rounds of ${flags.requests}); the apps take
turns, in reversed order every pass, ${flags.passes} passes. The bare figure includes the driver's own fake request and
response; the differences do not. The metered apps deliver to the local Drip server (${db}) over real HTTP with the default
outbox, so delivery's CPU is in their figure. CPU = user + system of the app's process per request served;
"extra" = median of the metered app minus the median of the bare app of the same framework. Every response was
checked to be exactly the handler's. Measured ${when} UTC, Node ${process.version}, ${os.cpus().length} cores (shared);
load average before ${fmt(load)}, after ${fmt(os.loadavg())}.

| Framework | App | CPU µs/request (median) | extra µs/request | rounds |
| --- | --- | ---: | ---: | --- |
${rows.join('\n')}

Delivery (metered apps; runs stored by the local server for each app's own customer):

| App | requests served | runs stored | dropped |
| --- | ---: | ---: | ---: |
${delivered.map((d) => `| ${d.key} | ${d.served} | ${d.runs} | ${d.dropped} |`).join('\n')}
`;
}
