// Ingest throughput of the local Drip server: POST /v1/usage/internal one event per request (keep-alive,
// 50 connections) and POST /v1/usage/internal/bulk (1000 events per request), on the embedded database
// (PGlite) and on PostgreSQL. Every event has its own idempotency key; the stored count is checked.
// Results go to the "Server: ingest" section of BENCHMARKS.md.
// Usage: node bench/server-ingest.mjs [--duration 10] [--connections 50] [--bulkConnections 4]
//        [--bulkSize 1000] [--backends pglite,postgres] [--write false]
import autocannon from 'autocannon';
import { api, machine, parseFlags, startPostgres, startServerChild, writeSection } from './server-common.mjs';

const flags = parseFlags(process.argv.slice(2), {
  duration: 10,
  connections: 50,
  bulkConnections: 4,
  bulkSize: 1000,
  backends: 'pglite,postgres',
  write: true,
});

function run(opts) {
  return new Promise((resolve, reject) => {
    const inst = autocannon(opts, (err, res) => (err ? reject(err) : resolve(res)));
    inst.on('error', reject);
  });
}

async function storedCount(srv) {
  const res = await api(srv.url, srv.apiKey, 'GET', '/events?limit=1');
  return res.pagination.total;
}

async function measure(backend) {
  const pg = backend === 'postgres' ? startPostgres() : undefined;
  const srv = await startServerChild(pg ? ['--database-url', pg.url] : []);
  try {
    const customers = [];
    for (let i = 0; i < 10; i++)
      customers.push(
        (await api(srv.url, srv.apiKey, 'POST', '/customers', { externalCustomerId: `bench-${i}` })).id,
      );
    const headers = { authorization: `Bearer ${srv.apiKey}`, 'content-type': 'application/json' };
    let n = 0;
    const item = () => {
      n++;
      return {
        customerId: customers[n % customers.length],
        usageType: 'api_calls',
        quantity: 1,
        idempotencyKey: `${backend}-${process.pid}-${n}`,
      };
    };
    // Warm-up (JIT, connection pool, PGlite cache), not counted.
    await run({
      url: `${srv.url}/v1/usage/internal`,
      method: 'POST',
      headers,
      connections: 10,
      duration: 2,
      requests: [{ setupRequest: (r) => ({ ...r, body: JSON.stringify(item()) }) }],
    });
    const before1 = await storedCount(srv);
    const single = await run({
      url: `${srv.url}/v1/usage/internal`,
      method: 'POST',
      headers,
      connections: flags.connections,
      duration: flags.duration,
      requests: [{ setupRequest: (r) => ({ ...r, body: JSON.stringify(item()) }) }],
    });
    const stored1 = (await storedCount(srv)) - before1;
    const before2 = await storedCount(srv);
    const bulk = await run({
      url: `${srv.url}/v1/usage/internal/bulk`,
      method: 'POST',
      headers,
      connections: flags.bulkConnections,
      duration: flags.duration,
      requests: [
        {
          setupRequest: (r) => ({
            ...r,
            body: JSON.stringify({ events: Array.from({ length: flags.bulkSize }, item) }),
          }),
        },
      ],
    });
    const stored2 = (await storedCount(srv)) - before2;
    return {
      backend,
      single: {
        rps: stored1 / single.duration,
        p50: single.latency.p50,
        p99: single.latency.p99,
        non2xx: single.non2xx,
        errors: single.errors,
        stored: stored1,
      },
      bulk: {
        rps: stored2 / bulk.duration,
        reqs: bulk.requests.total,
        p50: bulk.latency.p50,
        p99: bulk.latency.p99,
        non2xx: bulk.non2xx,
        errors: bulk.errors,
        stored: stored2,
      },
    };
  } finally {
    await srv.stop();
    pg?.stop();
  }
}

const rows = [];
for (const backend of String(flags.backends).split(',')) {
  const r = await measure(backend);
  console.error(JSON.stringify(r));
  rows.push(r);
}

const fmt = (x) => Math.round(x).toLocaleString('en-US');
const pgBulk = rows.find((r) => r.backend === 'postgres')?.bulk.rps;
const body = `## Server: ingest

Command: \`node bench/server-ingest.mjs --duration ${flags.duration} --connections ${flags.connections} --bulkConnections ${flags.bulkConnections} --bulkSize ${flags.bulkSize}\`
(${await machine()}; server in its own process, autocannon in the bench process, loopback; every event has its own
idempotency key; events/s = events found in the database afterwards / duration.)

| Database | Route | Connections | Events/s | Request p50 | Request p99 | Non-2xx |
| --- | --- | --- | --- | --- | --- | --- |
${rows
  .map(
    (r) =>
      `| ${r.backend} | \`/usage/internal\` (1 event per request) | ${flags.connections} | ${fmt(r.single.rps)} | ${r.single.p50} ms | ${r.single.p99} ms | ${r.single.non2xx} |\n` +
      `| ${r.backend} | \`/usage/internal/bulk\` (${flags.bulkSize} per request) | ${flags.bulkConnections} | ${fmt(r.bulk.rps)} | ${r.bulk.p50} ms | ${r.bulk.p99} ms | ${r.bulk.non2xx} |`,
  )
  .join('\n')}

Target: ≥ 20 000 events/s through the bulk route on PostgreSQL: ${pgBulk === undefined ? 'not measured' : pgBulk >= 20_000 ? `met (${fmt(pgBulk)})` : `NOT met (${fmt(pgBulk)})`}.
`;
console.log(body);
if (flags.write !== 'false' && flags.write !== false) writeSection('bench:server-ingest', body);
