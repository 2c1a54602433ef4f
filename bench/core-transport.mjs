// CPU per HTTP request of the client's default transport on Node (node:http with keep-alive, from
// @drip/core/node's createNodeFetch) against the global fetch (undici), both posting the same bulk body
// to a loopback server in its own process. Interleaved rounds, CPU time of this process per call.
// Two body sizes: a small batch (10 runs) and a large one (200 runs).
// Usage: node bench/core-transport.mjs [--calls 300] [--rounds 6] [--write false]
import { spawn } from 'node:child_process';
import { createNodeFetch } from '@drip/core/node';
import { machine, median, writeSection } from './core-common.mjs';

const args = process.argv.slice(2);
const flag = (name, d) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? d : args[i + 1];
};
const calls = Number(flag('calls', 300));
const rounds = Number(flag('rounds', 6));
const write = flag('write', 'true') !== 'false';

// The server answers like /runs/record/bulk would (one result per run), after reading the whole body.
const server = spawn(
  process.execPath,
  [
    '-e',
    `require('node:http').createServer((q, s) => {
      let n = 0; q.on('data', (d) => { n += d.length; });
      q.on('end', () => { s.setHeader('content-type', 'application/json'); s.end(JSON.stringify({ success: true, bytes: n })); });
    }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const port = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(Number(String(d)))));
const url = `http://127.0.0.1:${port}/v1/runs/record/bulk`;
const now = new Date().toISOString();
const bodyOf = (runs) =>
  JSON.stringify({
    runs: Array.from({ length: runs }, (_, i) => ({
      customerId: 'cus_bench',
      workflow: 'get-items-id',
      status: 'COMPLETED',
      events: [{ eventType: 'bench.lookup', quantity: 1 }],
      externalRunId: `mw:cus_bench:${i}`,
      idempotencyKey: `mw:cus_bench:${i}`,
      startedAt: now,
      endedAt: now,
      metadata: { method: 'GET', route: '/items/:id', status: 200 },
    })),
  });
const sizes = [10, 200];
const bodies = Object.fromEntries(sizes.map((n) => [n, bodyOf(n)]));
let body = '';
const init = () => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer sk_test_bench' },
  body,
  signal: new AbortController().signal,
});
const impls = { 'global fetch (undici)': globalThis.fetch, 'node:http (createNodeFetch)': createNodeFetch() };

async function round(impl) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) {
    const res = await impl(url, init());
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    await res.text();
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / calls;
}

const tables = [];
for (const runs of sizes) {
  body = bodies[runs];
  const cpu = Object.fromEntries(Object.keys(impls).map((k) => [k, []]));
  for (const impl of Object.values(impls)) await round(impl); // warm-up (loads undici, opens sockets)
  for (let r = 0; r < rounds; r++) {
    const names = Object.keys(impls);
    for (const name of r % 2 ? names.reverse() : names) cpu[name].push(await round(impls[name]));
  }
  const [fetchUs, nodeUs] = Object.values(cpu).map(median);
  tables.push(
    [
      `Body of ${runs} runs (${(body.length / 1024).toFixed(1)} KiB):`,
      '',
      '| Transport | CPU µs per call (median) | rounds |',
      '| --- | ---: | --- |',
      ...Object.entries(cpu).map(
        ([name, xs]) => `| ${name} | ${median(xs).toFixed(0)} | ${xs.map((x) => x.toFixed(0)).join(', ')} |`,
      ),
      `| ratio global fetch / node:http | ${(fetchUs / nodeUs).toFixed(1)}× | |`,
    ].join('\n'),
  );
}
server.kill();
const table = tables.join('\n\n');
console.log(table);
if (write) {
  writeSection(
    'core-transport',
    `### @drip/core: HTTP transport on Node, CPU per request

Command: \`node bench/core-transport.mjs\` (${rounds} interleaved rounds of ${calls} sequential POSTs of a \`/runs/record/bulk\`
body to a loopback server in its own process; CPU time of the calling process per call, response read in full). On Node, clients created without \`fetch\` use the \`node:http\` transport.
${machine()}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.

${table}`,
  );
}
process.exit(0);
