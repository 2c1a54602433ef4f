// Cost of one trackUsage call in @drip/core excluding the network: validation, key generation, body and
// header building, the transport's retry/timeout bookkeeping and response parsing, with an injected fetch
// that resolves at once. Run: node bench/core-request.mjs [--ops 50000] [--rounds 7] [--no-write].
import { Drip } from '@drip/core';
import { machine, median, writeSection } from './core-common.mjs';

const argv = process.argv.slice(2);
const num = (name, d) => {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? d : Number(argv[i + 1]);
};
const ops = num('ops', 50_000);
const rounds = num('rounds', 7);
const write = !argv.includes('--no-write');

const body = JSON.stringify({
  success: true,
  usageEventId: 'use_bench',
  customerId: 'cus_bench',
  usageType: 'api_calls',
  quantity: 1,
  isInternal: false,
  message: 'ok',
  isDuplicate: false,
});
const headers = new Headers({ 'content-type': 'application/json', 'x-request-id': 'req_bench' });
// A response-shaped object reused for every call, so the figure is the client's own work.
const reply = { ok: true, status: 201, headers, text: async () => body };
let sent = 0;
const fetch = async (_url, init) => {
  sent += init.body.length > 0 ? 1 : 0;
  return reply;
};
// A real Response per call, as a runtime's fetch would hand back (adds its construction cost).
const fetchReal = async () => new Response(body, { status: 201, headers });

async function run(fetchImpl) {
  const client = new Drip({
    apiKey: 'sk_test_bench0123456789',
    baseUrl: 'http://127.0.0.1:1/v1',
    fetch: fetchImpl,
  });
  const times = [];
  const cpu = [];
  for (let round = 0; round <= rounds; round++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let i = 0; i < ops; i++) {
      await client.trackUsage({
        customerId: 'cus_bench',
        meter: 'api_calls',
        quantity: 1,
        metadata: { route: '/items/:id' },
      });
    }
    const c = process.cpuUsage(c0);
    const us = Number(process.hrtime.bigint() - t0) / 1000 / ops;
    if (round > 0) {
      // round 0 warms up the JIT
      times.push(us);
      cpu.push((c.user + c.system) / ops);
    }
  }
  return { median: median(times), min: Math.min(...times), max: Math.max(...times), cpu: median(cpu) };
}

const reused = await run(fetch);
const real = await run(fetchReal);
if (sent < ops) throw new Error('the injected fetch was not called');

const fmt = (r) => `${r.median.toFixed(1)} (min ${r.min.toFixed(1)}, max ${r.max.toFixed(1)})`;
const table = [
  '| Case | wall µs per call (median of rounds) | CPU µs per call (user + system, median) |',
  '| --- | ---: | ---: |',
  `| Injected fetch resolving at once with a reused response object | ${fmt(reused)} | ${reused.cpu.toFixed(1)} |`,
  `| Injected fetch resolving at once with a new \`Response\` per call | ${fmt(real)} | ${real.cpu.toFixed(1)} |`,
].join('\n');
console.log(table);

if (write) {
  writeSection(
    'core-request',
    `### @drip/core: cost of one trackUsage request build

Command: \`node bench/core-request.mjs --ops ${ops} --rounds ${rounds}\`. Sequential awaited calls of
\`client.trackUsage({ customerId, meter, quantity: 1, metadata })\` (validation, idempotency key, JSON body,
headers, per-attempt timer and deadline, response parsing and shape checks); no network. First round is a
warm-up and not counted. Wall time includes waiting for a CPU on this shared machine; the CPU column is
the process's own user + system time per call (GC included). ${machine()}, ${new Date().toISOString().slice(0, 10)}.

${table}`,
  );
}
