// Ingest cost of the local Drip server, on the embedded database (PGlite) and on PostgreSQL:
// POST /v1/usage/internal/bulk (1000 usage items per request) and POST /v1/runs/record/bulk (500 finished
// runs of one event each), with the bodies the adapters' outbox sends (metadata, externalRunId, times),
// plus POST /v1/usage/internal with one event per request. Every item has its own idempotency key; stored
// counts are checked.
//
// The figure that matters is the server's CPU time per stored item (process.cpuUsage() of the server
// process, which runs nothing else), and on PostgreSQL also the CPU time of the PostgreSQL processes
// (/proc, Linux). Throughput is reported too, but on a shared 2-core machine it moves with the load.
//
// With --baseline DIR (a copy of an earlier build of apps/server: DIR/dist/index.js and DIR/migrations),
// every round measures that build and the current one back to back, on fresh databases, and the table
// gives the medians of both and their ratio. To keep a baseline: build apps/server, then copy its dist/,
// migrations/ and package.json into apps/server/node_modules/.bench-baseline (so that its imports resolve).
//
// Usage: node bench/server-ingest.mjs [--duration 8] [--rounds 3] [--connections 50] [--bulkConnections 4]
//        [--bulkSize 1000] [--runsBulkSize 500] [--backends pglite,postgres] [--baseline DIR] [--write false]
import { execFileSync, fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { api, machine, parseFlags, startPostgres, writeSection } from './server-common.mjs';

// ---------- child: one server, answering CPU questions over IPC ----------
if (process.argv[2] === '--child') {
  const [, , , modulePath, databaseUrl] = process.argv;
  const { startServer } = await import(modulePath === '-' ? '@drip/server' : modulePath);
  const srv = await startServer({
    port: 0,
    host: '127.0.0.1',
    databaseUrl: databaseUrl || undefined,
    memory: !databaseUrl,
    poolSize: 10,
    logLevel: 'error',
  });
  process.send({ url: srv.url, apiKey: srv.apiKey });
  process.on('message', (m) => {
    if (m === 'cpu') process.send({ cpu: process.cpuUsage() });
    if (m === 'stop')
      srv.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
  });
} else {
  await main();
}

async function main() {
  const { default: autocannon } = await import('autocannon');
  const flags = parseFlags(process.argv.slice(2), {
    duration: 8,
    rounds: 3,
    connections: 50,
    bulkConnections: 4,
    bulkSize: 1000,
    runsBulkSize: 500,
    backends: 'pglite,postgres',
    baseline: '',
    write: true,
  });
  const variants = [
    ...(flags.baseline
      ? [
          {
            name: 'before',
            module: pathToFileURL(join(resolve(String(flags.baseline)), 'dist/index.js')).href,
          },
        ]
      : []),
    { name: 'after', module: '-' },
  ];

  const cannon = (opts) =>
    new Promise((res, rej) => {
      const inst = autocannon(opts, (err, r) => (err ? rej(err) : res(r)));
      inst.on('error', rej);
    });

  /**
   * Starts a server child of one build; resolves with url, key, cpu() and stop(). A child that exits before
   * it is ready (a workspace package being rebuilt at that moment) is started again, at most 5 times.
   */
  async function startChild(module, databaseUrl) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await startChildOnce(module, databaseUrl);
      } catch (err) {
        if (attempt >= 5) throw err;
        console.error(`server did not start (${err.message}); again in 5 s`);
        await new Promise((r) => setTimeout(r, 5000));
      }
    }
  }

  function startChildOnce(module, databaseUrl) {
    const child = fork(new URL(import.meta.url).pathname, ['--child', module, databaseUrl ?? ''], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error('server did not start within 120 s')), 120_000);
      child.once('message', (info) => {
        clearTimeout(timer);
        res({
          ...info,
          cpu: () =>
            new Promise((r) => {
              child.once('message', (m) => r(m.cpu.user + m.cpu.system));
              child.send('cpu');
            }),
          stop: () =>
            new Promise((r) => {
              child.once('exit', r);
              child.send('stop');
            }),
        });
      });
      child.once('exit', (code) => rej(new Error(`server exited with ${code}`)));
    });
  }

  // ---------- PostgreSQL: fresh database per server, CPU of the cluster's processes ----------
  const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const psql = (url, sql) => execFileSync('psql', [url, '-tAqc', sql], { encoding: 'utf8' }).trim();
  /** CPU µs of a process tree rooted at the postmaster: itself, its reaped children, its live children. */
  function clusterCpu(postmasterPid) {
    const fields = (pid) => {
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return text.slice(text.lastIndexOf(')') + 2).split(' ');
    };
    const f = fields(postmasterPid);
    // After the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const c = fields(d);
        if (Number(c[1]) === postmasterPid) ticks += Number(c[11]) + Number(c[12]);
      } catch {
        // The process ended between the listing and the read.
      }
    }
    return (ticks * 1e6) / CLK_TCK;
  }

  /**
   * Waits until the server's CPU, and PostgreSQL's, stop moving (requests autocannon gave up on may still
   * run, and a request waiting on PostgreSQL leaves the server idle).
   */
  async function idle(srv, pgCpu) {
    let last = await srv.cpu();
    let lastPg = pgCpu?.() ?? 0;
    for (let i = 0; i < 300; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const now = await srv.cpu();
      const nowPg = pgCpu?.() ?? 0;
      if (now - last < 15_000 && nowPg - lastPg < 15_000)
        return { at: performance.now(), cpu: now, pg: pgCpu ? nowPg : undefined };
      last = now;
      lastPg = nowPg;
    }
    return { at: performance.now(), cpu: last, pg: pgCpu ? lastPg : undefined };
  }

  const eventsTotal = async (srv) =>
    (await api(srv.url, srv.apiKey, 'GET', '/events?limit=1')).pagination.total;
  const runsTotal = async (srv) => (await api(srv.url, srv.apiKey, 'GET', '/runs?limit=1')).count;

  let seq = 0;
  /** One server of one build on a fresh database: both bulk cases, and optionally the single route. */
  async function measureServer(variant, pg, withSingle) {
    let url;
    if (pg) {
      const db = `bench_${process.pid}_${++seq}`;
      psql(pg.url, `CREATE DATABASE ${db}`);
      url = pg.url.replace(/\/[^/]*$/, `/${db}`);
    }
    const srv = await startChild(variant.module, url);
    const pgCpu = pg ? () => clusterCpu(pg.postmaster) : undefined;
    try {
      const customers = [];
      for (let i = 0; i < 10; i++)
        customers.push(
          (await api(srv.url, srv.apiKey, 'POST', '/customers', { externalCustomerId: `bench-${i}` })).id,
        );
      const headers = { authorization: `Bearer ${srv.apiKey}`, 'content-type': 'application/json' };
      let n = 0;
      const usageItem = () => {
        n++;
        return {
          customerId: customers[n % customers.length],
          usageType: 'api_calls',
          quantity: 1,
          idempotencyKey: `mw:${process.pid}:${seq}:${n}`,
          metadata: { method: 'GET', route: '/api/items/:id' },
        };
      };
      let r = 0;
      const runItem = () => {
        r++;
        const key = `mw:${customers[r % customers.length]}:${process.pid}-${seq}-${r}`;
        const end = Date.now();
        const failed = r % 10 === 0;
        return {
          customerId: customers[r % customers.length],
          workflow: 'get-api-items-id',
          status: failed ? 'FAILED' : 'COMPLETED',
          events: [{ eventType: 'bench.lookup', quantity: 1 }],
          externalRunId: key,
          idempotencyKey: key,
          startedAt: new Date(end - 3).toISOString(),
          endedAt: new Date(end).toISOString(),
          metadata: { method: 'GET', route: '/api/items/:id', status: failed ? 500 : 200 },
          ...(failed ? { errorCode: 'HTTP_500', errorMessage: 'HTTP 500' } : {}),
        };
      };
      const bulk = (path, make, size) => ({
        url: `${srv.url}${path}`,
        method: 'POST',
        headers,
        connections: flags.bulkConnections,
        duration: flags.duration,
        requests: [
          {
            setupRequest: (req) => ({
              ...req,
              body: JSON.stringify({
                [path.includes('runs') ? 'runs' : 'events']: Array.from({ length: size }, make),
              }),
            }),
          },
        ],
      });
      // Warm-up of both routes (JIT, pool, workflow created), not counted.
      for (const [path, make, size] of [
        ['/v1/usage/internal/bulk', usageItem, 100],
        ['/v1/runs/record/bulk', runItem, 50],
      ]) {
        const { duration: _, ...warm } = bulk(path, make, size);
        await cannon({ ...warm, amount: 10 });
      }

      const out = {};
      const runCase = async (name, opts, count, per) => {
        const start = await idle(srv, pgCpu);
        const before = await count(srv);
        const t0 = performance.now();
        const res = await cannon(opts);
        const end = await idle(srv, pgCpu);
        const stored = (await count(srv)) - before;
        const secs = (end.at - t0) / 1000;
        out[name] = {
          stored,
          expected: res['2xx'] * per,
          rate: stored / secs,
          cpu: (end.cpu - start.cpu) / stored,
          pg: pgCpu ? (end.pg - start.pg) / stored : undefined,
          p50: res.latency.p50,
          p99: res.latency.p99,
          non2xx: res.non2xx + res.errors,
        };
      };
      await runCase(
        'usage',
        bulk('/v1/usage/internal/bulk', usageItem, flags.bulkSize),
        eventsTotal,
        flags.bulkSize,
      );
      const runEventsBefore = await eventsTotal(srv);
      await runCase(
        'runs',
        bulk('/v1/runs/record/bulk', runItem, flags.runsBulkSize),
        runsTotal,
        flags.runsBulkSize,
      );
      out.runs.events = (await eventsTotal(srv)) - runEventsBefore;
      if (withSingle) {
        await runCase(
          'single',
          {
            url: `${srv.url}/v1/usage/internal`,
            method: 'POST',
            headers,
            connections: flags.connections,
            duration: flags.duration,
            requests: [{ setupRequest: (req) => ({ ...req, body: JSON.stringify(usageItem()) }) }],
          },
          eventsTotal,
          1,
        );
      }
      return out;
    } finally {
      await srv.stop();
    }
  }

  const median = (xs) => {
    const s = xs.filter((x) => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
    if (s.length === 0) return undefined;
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };

  const results = [];
  for (const backend of String(flags.backends).split(',')) {
    let pg;
    if (backend === 'postgres') {
      pg = startPostgres();
      const dataDir = psql(pg.url, 'SHOW data_directory');
      pg.postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    }
    try {
      const byVariant = Object.fromEntries(variants.map((v) => [v.name, []]));
      for (let round = 0; round < flags.rounds; round++) {
        // Interleaved: every round measures each build once, in alternating order.
        const order = round % 2 === 0 ? variants : [...variants].reverse();
        for (const v of order) {
          const r = await measureServer(v, pg, round === 0);
          console.error(JSON.stringify({ backend, variant: v.name, round, ...r }));
          byVariant[v.name].push(r);
        }
      }
      results.push({ backend, byVariant });
    } finally {
      pg?.stop();
    }
  }

  const fmt = (x, d = 0) =>
    x === undefined
      ? 'n/a'
      : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const rowsOut = [];
  const checks = [];
  const summary = {};
  for (const { backend, byVariant } of results) {
    for (const [route, label] of [
      ['usage', `\`/usage/internal/bulk\` (${flags.bulkSize} items per request)`],
      ['runs', `\`/runs/record/bulk\` (${flags.runsBulkSize} runs of 1 event per request)`],
      ['single', '`/usage/internal` (1 item per request)'],
    ]) {
      for (const v of variants) {
        const cases = byVariant[v.name].map((r) => r[route]).filter(Boolean);
        if (cases.length === 0) continue;
        const cpu = median(cases.map((c) => c.cpu));
        const pgc = median(cases.map((c) => c.pg));
        const rate = median(cases.map((c) => c.rate));
        summary[`${backend}/${route}/${v.name}`] = { cpu, pg: pgc, rate };
        rowsOut.push(
          `| ${backend} | ${label} | ${v.name === 'after' ? 'this build' : 'before'} | ${cases.length} | ${fmt(cpu, 1)} | ${pgc === undefined ? '–' : fmt(pgc, 1)} | ${fmt(rate)} | ${fmt(median(cases.map((c) => c.p50)))} / ${fmt(median(cases.map((c) => c.p99)))} ms | ${cases.reduce((a, c) => a + c.non2xx, 0)} |`,
        );
        // Requests still executing when autocannon stops are stored without being counted as 2xx.
        for (const c of cases)
          if (c.stored < c.expected && route !== 'single')
            checks.push(`${backend} ${route} ${v.name}: stored ${c.stored}, acknowledged ${c.expected}`);
        if (route === 'runs')
          for (const r of byVariant[v.name])
            if (r.runs.events !== r.runs.stored)
              checks.push(`${backend} runs ${v.name}: ${r.runs.events} run events for ${r.runs.stored} runs`);
      }
    }
  }
  const ratios = [];
  if (flags.baseline) {
    for (const { backend } of results) {
      for (const route of ['usage', 'runs', 'single']) {
        const b = summary[`${backend}/${route}/before`];
        const a = summary[`${backend}/${route}/after`];
        if (!a || !b) continue;
        ratios.push(
          `${backend} \`${{ usage: '/usage/internal/bulk', runs: '/runs/record/bulk', single: '/usage/internal' }[route]}\`: server CPU per item ${fmt(b.cpu, 1)} → ${fmt(a.cpu, 1)} µs (${fmt(b.cpu / a.cpu, 2)}×)` +
            (a.pg !== undefined
              ? `, PostgreSQL CPU per item ${fmt(b.pg, 1)} → ${fmt(a.pg, 1)} µs (${fmt(b.pg / a.pg, 2)}×)`
              : '') +
            `, throughput ${fmt(b.rate)} → ${fmt(a.rate)} items/s (${fmt(a.rate / b.rate, 2)}×)`,
        );
      }
    }
  }

  const body = `## Server: ingest

Command: \`node bench/server-ingest.mjs --duration ${flags.duration} --rounds ${flags.rounds} --bulkConnections ${flags.bulkConnections} --bulkSize ${flags.bulkSize} --runsBulkSize ${flags.runsBulkSize}${flags.baseline ? ' --baseline <copy of the earlier build>' : ''}\`
(${await machine()}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.) Server in its own process, autocannon in
the bench process, loopback; bodies as the adapters' outbox sends them (usage items with metadata; runs with
\`externalRunId\`, key, times, metadata and one event); every item has its own idempotency key. CPU per item =
CPU time of the server process (\`process.cpuUsage()\`, user + system) from the start of a case until the
server is idle again, divided by the items stored; PostgreSQL CPU = the cluster's processes (\`/proc\`). Items/s =
items stored / that time. ${flags.baseline ? `Each round runs the earlier build ("before") and this build back to back, on fresh databases, in alternating order; the table shows medians over the rounds.` : ''}

| Database | Route | Build | Rounds | Server CPU µs per item | PostgreSQL CPU µs per item | Items/s | Request p50 / p99 | Non-2xx |
| --- | --- | --- | --- | ---: | ---: | ---: | --- | ---: |
${rowsOut.join('\n')}
${ratios.length > 0 ? `\nBefore → after (medians): ${ratios.map((r) => `\n- ${r}`).join('')}\n` : ''}
Stored counts: ${checks.length === 0 ? 'every acknowledged item was stored, and every bulk run has its one event.' : checks.join('; ')}
`;
  console.log(body);
  if (flags.write !== 'false' && flags.write !== false) writeSection('bench:server-ingest', body);
}
