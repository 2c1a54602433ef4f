// Delivery throughput to the local Drip server over loopback: per-item routes vs bulk routes, usage
// aggregation off/on. The server runs in its own process (embedded database in memory).
// Run: node bench/outbox-delivery.mjs [--records 20000] [--customers 20]. Writes the "Outbox: delivery" section.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Drip, createOutbox } from '@drip/core';
import { flags, machine, writeSection } from './outbox-common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const f = flags({ records: 20_000, customers: 20, write: true });

function startServer() {
  const child = spawn(process.execPath, [join(here, 'lib', 'drip-server.mjs')], {
    cwd: here,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1) {
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ child, ...JSON.parse(buf.slice(0, nl)) });
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

const server = await startServer();
const rows = [];
try {
  const client = new Drip({ apiKey: server.apiKey, baseUrl: server.url, maxAttempts: 1 });
  const customers = [];
  for (let i = 0; i < f.customers; i++) {
    const c = await client.getOrCreateCustomer(`bench_${process.pid}_${i}`);
    customers.push(c.id);
  }
  const modes = [
    { name: 'per-item routes', bulk: 'never', aggregate: false },
    { name: 'bulk routes', bulk: 'auto', aggregate: false },
    { name: 'per-item routes, aggregation on', bulk: 'never', aggregate: { windowMs: 100 } },
    { name: 'bulk routes, aggregation on', bulk: 'auto', aggregate: { windowMs: 100 } },
  ];
  for (const mode of modes) {
    // One request per record is slow by nature: a tenth of the records keeps the run short.
    const n = mode.bulk === 'never' && !mode.aggregate ? Math.floor(f.records / 10) : f.records;
    const outbox = createOutbox({
      client,
      shutdownHooks: false,
      bulk: mode.bulk,
      aggregate: mode.aggregate,
      maxRecords: n + 10,
      maxInFlight: 8,
    });
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      outbox.enqueue({
        type: 'usage',
        customerId: customers[i % customers.length],
        meter: 'api_calls',
        quantity: 1,
      });
    }
    const r = await outbox.close(600_000);
    const ms = performance.now() - t0;
    const s = outbox.stats();
    if (!r.delivered || s.deadLettered > 0)
      throw new Error(`${mode.name}: not delivered (${JSON.stringify(s)})`);
    rows.push(
      `| ${mode.name} | ${n.toLocaleString('en')} | ${s.requests.toLocaleString('en')} | ${(ms / 1000).toFixed(2)} | ${Math.round(n / (ms / 1000)).toLocaleString('en')} |`,
    );
    console.log(rows.at(-1));
  }
} finally {
  server.child.kill('SIGTERM');
}
const body = `## Outbox: delivery

Command: \`node bench/outbox-delivery.mjs --records ${f.records} --customers ${f.customers}\` (${machine()}). The local server
(\`startServer({ memory: true })\`, its own process) over loopback; usage records spread over ${f.customers} customers, one
meter; \`maxInFlight: 8\`; time from the first \`enqueue()\` to \`close()\` returning with everything acknowledged.

| Mode | Records | HTTP requests | Seconds | Records/s |
| --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
console.log(body);
if (f.write !== false && f.write !== 'false') writeSection('bench:outbox-delivery', body);
