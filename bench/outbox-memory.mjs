// Memory: 1 000 000 usage records enqueued while the API is down; resident memory must stay within the
// configured cap (default 10 000 records / 16 MiB) and every drop must be counted.
// Run: node --expose-gc bench/outbox-memory.mjs [--records 1000000] [--maxRecords 10000]. Writes "Outbox: memory".
import { createOutbox } from '@drip/core';
import { flags, machine, writeSection } from './outbox-common.mjs';

const f = flags({ records: 1_000_000, maxRecords: 10_000, write: true });
const down = {
  post: async () => ({ status: 0, body: undefined, code: 'NETWORK_ERROR', message: 'connect ECONNREFUSED' }),
  health: async () => ({ status: 0, body: undefined, code: 'NETWORK_ERROR' }),
};
const mb = (n) => (n / 1024 / 1024).toFixed(1);
const gc = globalThis.gc ?? (() => {});

gc();
const before = process.memoryUsage();
let dropsSeen = 0;
const outbox = createOutbox({
  transport: down,
  shutdownHooks: false,
  maxRecords: f.maxRecords,
  // What this measures: the memory bound itself (the default on Node spills past it instead).
  overflow: 'drop-oldest',
  backoffBaseMs: 50,
  onDrop: () => {
    dropsSeen++;
  },
});
let peakRss = 0;
const t0 = performance.now();
for (let i = 0; i < f.records; i++) {
  outbox.enqueue({
    type: 'usage',
    customerId: `cus_${i % 1000}`,
    meter: 'api_calls',
    quantity: 1,
    idempotencyKey: `mw:cus_${i % 1000}:req.${i}:api_calls:0`,
    metadata: { method: 'GET', route: '/items/:id' },
  });
  if (i % 100_000 === 0) {
    // Let timers and failed sends run, as they would between requests.
    await new Promise((r) => setImmediate(r));
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
}
const elapsed = performance.now() - t0;
gc();
const after = process.memoryUsage();
peakRss = Math.max(peakRss, after.rss);
const s = outbox.stats();
const held = s.queued + s.inFlight;
if (s.dropped.overflow + held !== f.records || dropsSeen !== s.dropped.overflow)
  throw new Error('drop count is not exact');
const body = `## Outbox: memory

Command: \`node --expose-gc bench/outbox-memory.mjs --records ${f.records} --maxRecords ${f.maxRecords}\` (${machine()}).
${f.records.toLocaleString('en')} usage records (with metadata) enqueued while every send fails with a network error; default
\`maxBytes\` (16 MiB), \`overflow: 'drop-oldest'\`.

| Measure | Value |
| --- | --- |
| records held at the end (queued + in flight) | ${held.toLocaleString('en')} (cap ${f.maxRecords.toLocaleString('en')}) |
| bytes held (JSON-size estimate) | ${mb(s.bytes)} MiB |
| dropped as \`overflow\` (counted and reported through \`onDrop\`) | ${s.dropped.overflow.toLocaleString('en')} (exact: enqueued − held) |
| heap used before → after (after GC) | ${mb(before.heapUsed)} → ${mb(after.heapUsed)} MiB |
| resident memory before → after (after GC) | ${mb(before.rss)} → ${mb(after.rss)} MiB (peak ${mb(peakRss)} MiB) |
| time to enqueue them all | ${(elapsed / 1000).toFixed(1)} s |
`;
console.log(body);
await outbox.close(10);
if (f.write !== false && f.write !== 'false') writeSection('bench:outbox-memory', body);
