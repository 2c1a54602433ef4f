// Outage: what the default outbox absorbs while the Drip API is down. 500 requests a second for 10
// minutes (300 000 metered requests, one usage record and one run each: 600 000 records) go through the
// request meter with default outbox options while every send fails; then the API comes back and every
// record must arrive exactly once. Time is compressed: the requests are metered as fast as the real path
// allows, one event-loop turn per simulated second (500 requests).
// Run: node bench/outbox-outage.mjs [--rate 500] [--minutes 10]. Writes "Outbox: outage".
import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Drip, createRequestMeter } from '@drip/core/node';
import { flags, machine, writeSection } from './outbox-common.mjs';

const f = flags({ rate: 500, minutes: 10, write: true });
const requests = f.rate * f.minutes * 60;
const mb = (n) => (n / 1024 / 1024).toFixed(1);

// A minimal Drip API in the client's fetch: down (connection refused) until `up`, then it applies each
// idempotency key once, like the server.
let up = false;
const usageKeys = new Set();
const runKeys = new Set();
let duplicates = 0;
const json = (status, body) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const apply = (set, key) => {
  if (set.has(key)) duplicates++;
  set.add(key);
};
async function fetchImpl(url, init) {
  if (!up) throw new TypeError('fetch failed: connect ECONNREFUSED');
  const path = new URL(url).pathname;
  if (path.endsWith('/health'))
    return json(200, { status: 'healthy', capabilities: ['usage-bulk', 'runs-record-bulk'] });
  const body = JSON.parse(init.body);
  if (path.endsWith('/usage/internal/bulk')) {
    for (const e of body.events) apply(usageKeys, e.idempotencyKey);
    return json(200, { results: body.events.map((_, index) => ({ index, status: 201 })) });
  }
  if (path.endsWith('/runs/record/bulk')) {
    for (const r of body.runs) apply(runKeys, r.externalRunId);
    return json(200, { results: body.runs.map((_, index) => ({ index, status: 201 })) });
  }
  if (path.endsWith('/usage/internal')) {
    apply(usageKeys, body.idempotencyKey);
    return json(201, { isDuplicate: false });
  }
  if (path.endsWith('/runs/record')) {
    apply(runKeys, body.externalRunId);
    return json(201, {});
  }
  return json(404, { code: 'ROUTE_NOT_FOUND' });
}

/** Bytes in the outbox's overflow directories (made by this process under the OS temporary directory). */
const before = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('drip-outbox-')));
function diskBytes() {
  let n = 0;
  for (const d of readdirSync(tmpdir())) {
    if (!d.startsWith('drip-outbox-') || before.has(d)) continue;
    for (const file of readdirSync(join(tmpdir(), d))) n += statSync(join(tmpdir(), d, file)).size;
  }
  return n;
}

const client = new Drip({
  apiKey: 'sk_test_outage_bench',
  baseUrl: 'http://127.0.0.1:3001/v1',
  fetch: fetchImpl,
});
// Default outbox options: only the shutdown hooks are off (this script closes the outbox itself).
const meter = createRequestMeter({
  client,
  customer: (req) => req.customerId,
  logger: { warn: () => {}, error: (m) => console.error(m) },
  outbox: { shutdownHooks: false },
});
const headers = { 'user-agent': 'bench' };
let peakRss = 0;
let peakDisk = 0;
let peakHeld = 0;
const t0 = performance.now();
for (let i = 0; i < requests; i++) {
  const raw = { customerId: `cus_${i % 100}` };
  const r = meter.begin({ method: 'POST', path: '/chat', route: '/chat', header: (n) => headers[n], raw });
  if (r.kind !== 'continue') throw new Error(`unexpected ${r.kind}`);
  r.handle.finish({ status: 200 });
  if (i % f.rate === f.rate - 1) {
    // One simulated second: timers, failed sends and store writes run, as between real requests.
    await new Promise((res) => setImmediate(res));
    if (i % (f.rate * 30) === f.rate - 1) {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      peakDisk = Math.max(peakDisk, diskBytes());
      const s = meter.stats();
      peakHeld = Math.max(peakHeld, s.queued + s.inFlight);
    }
  }
}
const enqueueS = (performance.now() - t0) / 1000;
peakRss = Math.max(peakRss, process.memoryUsage().rss);
peakDisk = Math.max(peakDisk, diskBytes());
const during = meter.stats();
up = true;
const t1 = performance.now();
// The outbox's timers never hold a process open; this script waits for it on purpose.
const keepAlive = setInterval(() => {}, 1_000);
const flushed = await meter.flush(30 * 60_000);
clearInterval(keepAlive);
const recoverS = (performance.now() - t1) / 1000;
const s = meter.stats();
await meter.close(1_000);
const records = requests * 2;
const ok =
  flushed.delivered &&
  usageKeys.size === requests &&
  runKeys.size === requests &&
  duplicates === 0 &&
  s.dropped.overflow === 0;
const body = `## Outbox: outage

Command: \`node bench/outbox-outage.mjs --rate ${f.rate} --minutes ${f.minutes}\` (${machine()}).
${requests.toLocaleString('en')} requests (${f.rate} a second for ${f.minutes} minutes, time compressed) metered through
\`createRequestMeter\` with default outbox options (memory bound 10 000 records / 16 MiB; past it the
overflow directory on disk, bounded by \`maxSpillBytes\`, 1 GiB) while every send fails with a
connection error; then the API comes back.

| Measure | Value |
| --- | --- |
| records enqueued (usage + run per request) | ${records.toLocaleString('en')} |
| spilled to disk at the end of the outage | ${during.spilled.toLocaleString('en')} records |
| peak disk used by the overflow directory | ${mb(peakDisk)} MiB |
| peak records held in memory (queued + in flight) | ${peakHeld.toLocaleString('en')} |
| peak resident memory of the process | ${mb(peakRss)} MiB |
| dropped (any reason) | ${Object.values(s.dropped).reduce((a, b) => a + b, 0)} |
| delivered after recovery: usage / runs (distinct keys) | ${usageKeys.size.toLocaleString('en')} / ${runKeys.size.toLocaleString('en')} |
| keys applied twice | ${duplicates} |
| time to meter the outage's requests / to deliver after recovery | ${enqueueS.toFixed(1)} s / ${recoverS.toFixed(1)} s |
| result | ${ok ? 'delivered = enqueued, nothing lost, nothing doubled' : 'FAILED'} |
`;
console.log(body);
if (!ok) {
  console.error(JSON.stringify({ flushed, usage: usageKeys.size, runs: runKeys.size, duplicates, stats: s }));
  process.exit(1);
}
if (f.write !== false && f.write !== 'false') writeSection('bench:outbox-outage', body);
