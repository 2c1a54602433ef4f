// Cost per call of withDrip() in-process: the same App Router handler called with `new Request()`
// bare and wrapped (customer resolver, one run event, body read to the end so the stream wrapper is
// included), records delivered by the outbox to the local Drip server in its own process. Rounds are
// interleaved (bare, drip, drip, bare, ...); figures are medians of µs per call (wall clock of a
// sequential loop, so the background delivery's share of the process is included).
// Results go to the "Next.js" section of BENCHMARKS.md.
// Usage: node bench/next-call.mjs [--rounds 7] [--calls 20000] [--write false]
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Drip } from '@drip/core';
import { dripMeter, withDrip } from '@drip/nextjs';
import { parseFlags } from './lib/http-bench.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const flags = parseFlags(process.argv.slice(2), { rounds: 7, calls: 20_000, write: true });
const log = (...a) => console.error('[next-call]', ...a);

const server = spawn(process.execPath, [join(benchDir, 'lib', 'drip-server.mjs')], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const info = await new Promise((resolve, reject) => {
  let buf = '';
  server.stdout.on('data', (d) => {
    buf += d;
    if (buf.includes('\n')) resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))));
  });
  server.once('exit', (code) => reject(new Error(`drip server exited with ${code}`)));
});
const auth = { authorization: `Bearer ${info.apiKey}`, 'content-type': 'application/json' };
const customer = await (
  await fetch(`${info.url}/v1/customers`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ externalCustomerId: `bench-next-call-${Date.now()}` }),
  })
).json();

const handler = async (_request, { params }, drip) => {
  const { id } = await params;
  drip?.run.event({ eventType: 'bench.lookup', quantity: 1 });
  return Response.json({ id, name: 'Widget', price: 42 });
};
// Outside a Next request scope `after()` throws; `waitUntil` stands in for it as inside Next.
const options = {
  client: new Drip({ apiKey: info.apiKey, baseUrl: info.url }),
  customer: () => customer.id,
  waitUntil: () => {},
};
const wrapped = withDrip(handler, options);
// The same without delivery work: the API never answers, so only the wrapper, the pipeline and the
// outbox's enqueue are timed (the bounded queue drops the overflow).
const parkedOptions = {
  client: new Drip({ apiKey: info.apiKey, baseUrl: info.url, fetch: () => new Promise(() => {}) }),
  customer: () => customer.id,
  waitUntil: () => {},
};
const parked = withDrip(handler, parkedOptions);
const bare = (request, context) => handler(request, context, undefined);
const context = { params: Promise.resolve({ id: '42' }) };

async function loop(fn, calls) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    const res = await fn(new Request('http://app.test/api/items/42'), context);
    await res.arrayBuffer();
  }
  return Number(process.hrtime.bigint() - started) / 1000 / calls;
}

const results = { bare: [], parked: [], drip: [] };
const fns = { bare, parked, drip: wrapped };
let summary;
try {
  await loop(bare, 2_000);
  await loop(parked, 2_000);
  await loop(wrapped, 2_000);
  for (let round = 0; round < flags.rounds; round++) {
    const order = ['bare', 'parked', 'drip'];
    for (const mode of round % 2 === 0 ? order : order.reverse()) {
      const us = await loop(fns[mode], flags.calls);
      results[mode].push(us);
      log(`round ${round + 1} ${mode}: ${us.toFixed(2)} µs/call`);
    }
  }
  const flushStarted = Date.now();
  await dripMeter(options).flush(60_000);
  const flushMs = Date.now() - flushStarted;
  const runs = await (
    await fetch(`${info.url}/v1/runs?customerId=${customer.id}&limit=1`, { headers: auth })
  ).json();
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const metered = flags.rounds * flags.calls + 2_000;
  summary = `## Next.js: withDrip() per call, in-process

Command: \`node bench/next-call.mjs\` (${flags.rounds} interleaved rounds of ${flags.calls} sequential calls with
\`new Request()\`, response body read to the end). Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}.

| Median | µs per call |
| --- | --- |
| Bare handler | ${median(results.bare).toFixed(2)} |
| Wrapped by \`withDrip()\`, API never answering (wrapper + pipeline + enqueue) | ${median(results.parked).toFixed(2)} |
| Wrapped by \`withDrip()\`, delivered to the local Drip server | ${median(results.drip).toFixed(2)} |
| Cost of \`withDrip()\` without delivery | ${(median(results.parked) - median(results.bare)).toFixed(2)} |
| Cost of \`withDrip()\` with delivery in the same process | ${(median(results.drip) - median(results.bare)).toFixed(2)} |

Rounds (bare / parked / delivered µs): ${results.bare.map((b, i) => `${b.toFixed(2)} / ${results.parked[i].toFixed(2)} / ${results.drip[i].toFixed(2)}`).join(', ')}.
Load average when it ended: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(', ')} (${availableParallelism()} cores, shared).
Runs delivered after the final flush (${flushMs} ms): ${runs.count} of ${metered} metered calls.
Outbox: \`${JSON.stringify(dripMeter(options).stats())}\`
`;
  console.log(summary);
} finally {
  await dripMeter(options).close(10_000);
  await dripMeter(parkedOptions).close(100);
  server.kill('SIGTERM');
}
if (summary && flags.write !== 'false' && flags.write !== false) writeSection('bench:next-call', summary);

/** Replaces this benchmark's section of BENCHMARKS.md (between its markers), or appends it. */
function writeSection(section, body) {
  const file = join(benchDir, '..', 'BENCHMARKS.md');
  const start = `<!-- ${section}:start -->`;
  const end = `<!-- ${section}:end -->`;
  const block = `${start}\n${body}${end}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i !== -1 && j > i) text = text.slice(0, i) + block + text.slice(j + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
}
