// Ingest throughput of the local Drip server: POST /v1/usage/internal one event per request (keep-alive,
// 50 connections) and POST /v1/usage/internal/bulk (1000 events per request), on the embedded database
// (PGlite) and on PostgreSQL, and POST /v1/runs/record/bulk (500 finished runs of one event each per
// request, the shape the adapters' outbox sends). Every event and run has its own idempotency key; the
// stored counts are checked. Results go to the "Server: ingest" section of BENCHMARKS.md.
// Usage: node bench/server-ingest.mjs [--duration 10] [--connections 50] [--bulkConnections 4]
//        [--bulkSize 1000] [--runsBulkSize 500] [--backends pglite,postgres] [--write false]
import autocannon from 'autocannon';
import { api, machine, parseFlags, startPostgres, startServerChild, writeSection } from './server-common.mjs';

const flags = parseFlags(process.argv.slice(2), {
  duration: 10,
  connections: 50,
  bulkConnections: 4,
  bulkSize: 1000,
  runsBulkSize: 500,
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

/**
 * A stored count once it stops moving: when autocannon's duration ends, requests it gave up on may still
 * be executing in the server, so counts are read until two reads 300 ms apart agree (at most 60 s).
 * Returns the count and the time it was first seen, so rates count that work with the time it took.
 */
async function settled(read) {
  let last = await read();
  let at = performance.now();
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const next = await read();
    if (next === last) break;
    last = next;
    at = performance.now();
  }
  return { value: last, at };
}

async function storedRuns(srv) {
  const res = await api(srv.url, srv.apiKey, 'GET', '/runs?limit=1');
  return res.count;
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
    const t1 = performance.now();
    const single = await run({
      url: `${srv.url}/v1/usage/internal`,
      method: 'POST',
      headers,
      connections: flags.connections,
      duration: flags.duration,
      requests: [{ setupRequest: (r) => ({ ...r, body: JSON.stringify(item()) }) }],
    });
    const end1 = await settled(() => storedCount(srv));
    const stored1 = end1.value - before1;
    const secs1 = (end1.at - t1) / 1000;
    const before2 = end1.value;
    const t2 = performance.now();
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
    const end2 = await settled(() => storedCount(srv));
    const stored2 = end2.value - before2;
    const secs2 = (end2.at - t2) / 1000;
    let r = 0;
    const runItem = () => {
      r++;
      return {
        customerId: customers[r % customers.length],
        workflow: 'bench-request',
        status: r % 10 === 0 ? 'FAILED' : 'COMPLETED',
        idempotencyKey: `${backend}-${process.pid}-run-${r}`,
        events: [{ eventType: 'request', quantity: 1, actionName: 'GET /bench' }],
      };
    };
    // Warm-up of the runs route (creates the workflow), not counted.
    await run({
      url: `${srv.url}/v1/runs/record/bulk`,
      method: 'POST',
      headers,
      connections: 1,
      amount: 2,
      requests: [
        {
          setupRequest: (req) => ({
            ...req,
            body: JSON.stringify({ runs: Array.from({ length: 50 }, runItem) }),
          }),
        },
      ],
    });
    const runsBefore = (await settled(() => storedRuns(srv))).value;
    const eventsBefore = await storedCount(srv);
    const t3 = performance.now();
    const runsBulk = await run({
      url: `${srv.url}/v1/runs/record/bulk`,
      method: 'POST',
      headers,
      connections: flags.bulkConnections,
      duration: flags.duration,
      requests: [
        {
          setupRequest: (req) => ({
            ...req,
            body: JSON.stringify({ runs: Array.from({ length: flags.runsBulkSize }, runItem) }),
          }),
        },
      ],
    });
    const end3 = await settled(() => storedRuns(srv));
    const stored3 = end3.value - runsBefore;
    const secs3 = (end3.at - t3) / 1000;
    const events3 = (await storedCount(srv)) - eventsBefore;
    return {
      backend,
      single: {
        rps: stored1 / secs1,
        p50: single.latency.p50,
        p99: single.latency.p99,
        non2xx: single.non2xx,
        errors: single.errors,
        stored: stored1,
      },
      bulk: {
        rps: stored2 / secs2,
        reqs: bulk.requests.total,
        p50: bulk.latency.p50,
        p99: bulk.latency.p99,
        non2xx: bulk.non2xx,
        errors: bulk.errors,
        stored: stored2,
      },
      runs: {
        rps: stored3 / secs3,
        reqs: runsBulk.requests.total,
        p50: runsBulk.latency.p50,
        p99: runsBulk.latency.p99,
        non2xx: runsBulk.non2xx,
        errors: runsBulk.errors,
        stored: stored3,
        events: events3,
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
idempotency key; events/s (runs/s) = events (runs) found in the database once the counts stop moving / the time from the
start of the case until then, so requests still executing when autocannon stops count with their time.)

| Database | Route | Connections | Events/s | Request p50 | Request p99 | Non-2xx |
| --- | --- | --- | --- | --- | --- | --- |
${rows
  .map(
    (r) =>
      `| ${r.backend} | \`/usage/internal\` (1 event per request) | ${flags.connections} | ${fmt(r.single.rps)} | ${r.single.p50} ms | ${r.single.p99} ms | ${r.single.non2xx} |\n` +
      `| ${r.backend} | \`/usage/internal/bulk\` (${flags.bulkSize} per request) | ${flags.bulkConnections} | ${fmt(r.bulk.rps)} | ${r.bulk.p50} ms | ${r.bulk.p99} ms | ${r.bulk.non2xx} |\n` +
      `| ${r.backend} | \`/runs/record/bulk\` (${flags.runsBulkSize} runs of 1 event per request; runs/s) | ${flags.bulkConnections} | ${fmt(r.runs.rps)} | ${r.runs.p50} ms | ${r.runs.p99} ms | ${r.runs.non2xx} |`,
  )
  .join('\n')}

Run events stored by the \`/runs/record/bulk\` case (one per run): ${rows.map((r) => `${r.backend} ${fmt(r.runs.events)} for ${fmt(r.runs.stored)} runs`).join(', ')}.

Target: ≥ 20 000 events/s through the bulk route on PostgreSQL: ${pgBulk === undefined ? 'not measured' : pgBulk >= 20_000 ? `met (${fmt(pgBulk)})` : `NOT met (${fmt(pgBulk)})`}.
`;
console.log(body);
if (flags.write !== 'false' && flags.write !== false) writeSection('bench:server-ingest', body);
