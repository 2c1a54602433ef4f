// Timeline latency of the local Drip server: GET /v1/runs/{id}/timeline for a run with 100 events among
// 100 000 runs (300 000 other run events), seeded with set-based SQL, on the embedded database (PGlite)
// and on PostgreSQL. Results go to the "Server: timeline" section of BENCHMARKS.md.
// Usage: node bench/server-timeline.mjs [--duration 10] [--connections 1] [--runs 100000]
//        [--backends pglite,postgres] [--write false]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '@drip/server';
import autocannon from 'autocannon';
import { api, machine, parseFlags, startPostgres, startServerChild, writeSection } from './server-common.mjs';

const flags = parseFlags(process.argv.slice(2), {
  duration: 10,
  connections: 1,
  runs: 100_000,
  backends: 'pglite,postgres',
  write: true,
});

async function seed(opts) {
  const srv = await startServer({ port: 0, logLevel: 'error', ...opts });
  const p = srv.projectId;
  const q = (sql, params = []) => srv.store.query(sql, params);
  const t0 = performance.now();
  await q(
    `INSERT INTO customers (id, project_id, mode, external_customer_id) VALUES ('cus_bench', $1, 'test', 'bench')`,
    [p],
  );
  await q(
    `INSERT INTO workflows (id, project_id, mode, name, slug) VALUES ('wf_bench', $1, 'test', 'Bench', 'bench')`,
    [p],
  );
  await q(
    `INSERT INTO runs (id, project_id, mode, customer_id, workflow_id, status, started_at, ended_at, created_at)
     SELECT 'run_b' || g, $1, 'test', 'cus_bench', 'wf_bench', 'COMPLETED', now() - g * interval '1 second',
            now() - g * interval '1 second' + interval '800 milliseconds', now() - g * interval '1 second'
     FROM generate_series(1, $2::int) g`,
    [p, flags.runs],
  );
  await q(
    `INSERT INTO events (id, project_id, mode, kind, customer_id, run_id, workflow_id, event_type, usage_type, quantity, attributes, created_at)
     SELECT 'evt_b' || g, $1, 'test', 'run', 'cus_bench', 'run_b' || (g % $2::int + 1), 'wf_bench', 'llm.call', 'llm.call', 1,
            '{"model":"gpt-4","inputTokens":500,"outputTokens":1200}'::jsonb, now() - (g % $2::int) * interval '1 second'
     FROM generate_series(1, $2::int * 3) g`,
    [p, flags.runs],
  );
  await q(
    `INSERT INTO runs (id, project_id, mode, customer_id, workflow_id, status, started_at, ended_at, created_at)
     VALUES ('run_target', $1, 'test', 'cus_bench', 'wf_bench', 'COMPLETED', now() - interval '1 minute', now(), now() - interval '1 minute')`,
    [p],
  );
  await q(
    `INSERT INTO events (id, project_id, mode, kind, customer_id, run_id, workflow_id, event_type, usage_type, quantity, outcome, attributes, created_at)
     SELECT 'evt_t' || g, $1, 'test', 'run', 'cus_bench', 'run_target', 'wf_bench', CASE WHEN g % 4 = 0 THEN 'tool.call' ELSE 'llm.call' END,
            'tokens', g, CASE WHEN g % 10 = 0 THEN 'FAILED' ELSE 'SUCCEEDED' END, jsonb_build_object('step', g),
            now() - interval '1 minute' + g * interval '100 milliseconds'
     FROM generate_series(1, 100) g`,
    [p],
  );
  await q('ANALYZE');
  const seconds = (performance.now() - t0) / 1000;
  await srv.close();
  return seconds;
}

async function measure(backend) {
  const pg = backend === 'postgres' ? startPostgres() : undefined;
  const dir = backend === 'pglite' ? mkdtempSync(join(tmpdir(), 'drip-bench-')) : undefined;
  try {
    const seedSeconds = await seed(pg ? { databaseUrl: pg.url } : { dataDir: dir });
    const srv = await startServerChild(pg ? ['--database-url', pg.url] : ['--data-dir', dir]);
    try {
      const check = await api(srv.url, srv.apiKey, 'GET', '/runs/run_target/timeline');
      if (check.events.length !== 100 || check.summary.totalEvents !== 100)
        throw new Error('seed check failed');
      const opts = {
        url: `${srv.url}/v1/runs/run_target/timeline`,
        headers: { authorization: `Bearer ${srv.apiKey}` },
        connections: flags.connections,
      };
      await new Promise((r) => autocannon({ ...opts, duration: 2 }, r));
      const res = await new Promise((resolve, reject) =>
        autocannon({ ...opts, duration: flags.duration }, (e, r) => (e ? reject(e) : resolve(r))),
      );
      return {
        backend,
        seedSeconds,
        p50: res.latency.p50,
        p90: res.latency.p90,
        p99: res.latency.p99,
        rps: res.requests.average,
        non2xx: res.non2xx,
      };
    } finally {
      await srv.stop();
    }
  } finally {
    pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

const rows = [];
for (const backend of String(flags.backends).split(',')) {
  const r = await measure(backend);
  console.error(JSON.stringify(r));
  rows.push(r);
}
const body = `## Server: timeline

Command: \`node bench/server-timeline.mjs --duration ${flags.duration} --connections ${flags.connections} --runs ${flags.runs}\`
(${await machine()}; \`GET /v1/runs/{id}/timeline\` of a run with 100 events, among ${flags.runs.toLocaleString('en-US')} runs
and ${(flags.runs * 3).toLocaleString('en-US')} other run events seeded with set-based SQL; server in its own process.)

| Database | Seed time | Requests/s | p50 | p90 | p99 | Non-2xx |
| --- | --- | --- | --- | --- | --- | --- |
${rows.map((r) => `| ${r.backend} | ${r.seedSeconds.toFixed(1)} s | ${Math.round(r.rps)} | ${r.p50} ms | ${r.p90} ms | ${r.p99} ms | ${r.non2xx} |`).join('\n')}

Target: p99 < 20 ms: ${rows.map((r) => `${r.backend} ${r.p99 < 20 ? 'met' : 'NOT met'} (${r.p99} ms)`).join(', ')}.
`;
console.log(body);
if (flags.write !== 'false' && flags.write !== false) writeSection('bench:server-timeline', body);
