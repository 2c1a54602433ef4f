// Cost per call of withDrip() in-process: the same App Router handler called with `new Request()`
// bare and wrapped (customer resolver, one run event, body read to the end so the stream wrapper is
// included), records delivered by the outbox to the local Drip server in its own process. Rounds are
// interleaved (bare, parked, drip, drip, parked, bare, ...); figures are medians of µs per call, both
// the process's CPU time (user + system, process.cpuUsage) and the wall clock of the sequential loop
// (the background delivery's share of the process is included in both).
// Two paths of the wrapper are timed. Portable (`parked`, `drip`): outside a Next request, with a custom
// `waitUntil`, the body passed through a metering stream. Inside Next (`next-bare`, `next-parked`): the
// call runs in an emulated Next request scope (Next's own work stores, whose `after()` collects the
// callbacks; they run once the body has been read, as Next runs them when the response is over), so the
// request ends in the `after()` callback without a stream wrapper. bench/next-http.mjs measures the real
// thing under `next start`.
// BENCH_DRIP_NEXTJS_BASELINE may name another build of @drip/nextjs (the path of its ESM entry): its
// withDrip() is then timed in the same rounds (API never answering), for before/after figures.
// Results go to the "Next.js" section of BENCHMARKS.md.
// Usage: node bench/next-call.mjs [--rounds 5] [--calls 10000] [--write false]
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Drip } from '@drip/core';
import { writeSection } from './lib/common.mjs';
import { parseFlags } from './lib/http-bench.mjs';

// Next's server sets this global before its request stores are created; so does the emulated scope.
globalThis.AsyncLocalStorage ??= AsyncLocalStorage;
const { dripMeter, withDrip } = await import('@drip/nextjs');
const benchDir = dirname(fileURLToPath(import.meta.url));
const flags = parseFlags(process.argv.slice(2), { rounds: 5, calls: 10_000, write: true });
const loadBefore = loadavg()
  .map((l) => l.toFixed(1))
  .join(', ');
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
// An emulated Next request scope: the stores Next's after() reads, and the callbacks it collected.
const require = createRequire(import.meta.url);
const { workAsyncStorage } = require('next/dist/server/app-render/work-async-storage.external.js');
const { workUnitAsyncStorage } = require('next/dist/server/app-render/work-unit-async-storage.external.js');
const afterTasks = [];
const workStore = { afterContext: { after: (task) => void afterTasks.push(task) } };
const workUnitStore = { type: 'request' };
const inNext = (fn) => (request, ctx) =>
  workAsyncStorage.run(workStore, () => workUnitAsyncStorage.run(workUnitStore, () => fn(request, ctx)));
const nextOptions = {
  client: new Drip({ apiKey: info.apiKey, baseUrl: info.url, fetch: () => new Promise(() => {}) }),
  customer: () => customer.id,
};
const nextBare = inNext(bare);
const nextParked = inNext(withDrip(handler, nextOptions));
// The pipeline alone, as a minimal adapter would drive it (begin, run, finish with a waitUntil), on its
// own meter: the floor that withDrip() adds to.
const pipelineOptions = {
  client: new Drip({ apiKey: info.apiKey, baseUrl: info.url, fetch: () => new Promise(() => {}) }),
  customer: () => customer.id,
};
const pipelineMeter = dripMeter(pipelineOptions);
const noWait = () => {};
async function pipelineOnly(request, ctx) {
  const begun = pipelineMeter.begin({
    method: request.method,
    path: '/api/items/42',
    route: '/api/items/[id]',
    header: (name) => request.headers.get(name) ?? undefined,
    raw: request,
  });
  const res = await begun.handle.run(() => handler(request, ctx, begun.context));
  begun.handle.finish({ status: res.status }, { waitUntil: noWait });
  return res;
}
const baselinePath = process.env.BENCH_DRIP_NEXTJS_BASELINE;
const baselineOptions = {
  client: new Drip({ apiKey: info.apiKey, baseUrl: info.url, fetch: () => new Promise(() => {}) }),
  customer: () => customer.id,
  waitUntil: () => {},
};
const baselineModule = baselinePath ? await import(pathToFileURL(baselinePath).href) : undefined;
const baseline = baselineModule?.withDrip(handler, baselineOptions);
const context = { params: Promise.resolve({ id: '42' }) };

async function loop(fn, calls) {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (let i = 0; i < calls; i++) {
    const res = await fn(new Request('http://app.test/api/items/42'), context);
    await res.arrayBuffer();
    // Next runs the after() callbacks once the response is over (not awaited: they wait for delivery).
    for (let t = afterTasks.pop(); t !== undefined; t = afterTasks.pop()) t();
  }
  const used = process.cpuUsage(cpu);
  return {
    wall: Number(process.hrtime.bigint() - started) / 1000 / calls,
    cpu: (used.user + used.system) / calls,
  };
}

const results = {
  bare: [],
  pipeline: [],
  parked: [],
  drip: [],
  'next-bare': [],
  'next-parked': [],
  baseline: [],
};
const fns = {
  bare,
  pipeline: pipelineOnly,
  parked,
  drip: wrapped,
  'next-bare': nextBare,
  'next-parked': nextParked,
  baseline,
};
const modes = [
  'bare',
  'pipeline',
  'parked',
  'drip',
  'next-bare',
  'next-parked',
  ...(baseline ? ['baseline'] : []),
];
let summary;
try {
  for (const mode of modes) await loop(fns[mode], 2_000);
  for (let round = 0; round < flags.rounds; round++) {
    for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
      const us = await loop(fns[mode], flags.calls);
      results[mode].push(us);
      log(`round ${round + 1} ${mode}: ${us.cpu.toFixed(2)} µs CPU/call, ${us.wall.toFixed(2)} µs wall/call`);
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
  const med = (mode, key) => median(results[mode].map((r) => r[key]));
  const row = (label, mode) =>
    `| ${label} | ${med(mode, 'cpu').toFixed(2)} | ${med(mode, 'wall').toFixed(2)} |`;
  const cost = (label, mode) =>
    `| ${label} | ${(med(mode, 'cpu') - med('bare', 'cpu')).toFixed(2)} | ${(med(mode, 'wall') - med('bare', 'wall')).toFixed(2)} |`;
  const rounds = (key) =>
    results.bare.map((_, i) => modes.map((mode) => results[mode][i][key].toFixed(1)).join(' / ')).join(', ');
  summary = `## Next.js: withDrip() per call, in-process

Command: \`node bench/next-call.mjs\` (${flags.rounds} interleaved rounds of ${flags.calls} sequential calls with
\`new Request()\`, response body read to the end; medians). Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}.
Outside a Next request the wrapper takes its portable path (custom \`waitUntil\`, body passed through a
metering stream); under \`next start\` it ends the request in Next's \`after()\` callback instead (see the
next section). CPU is the process's user + system time per call (the background delivery included).
Load average before the run ${loadBefore}.

| Median | CPU µs per call | wall µs per call |
| --- | --- | --- |
${row('Bare handler', 'bare')}
${row('The pipeline alone (begin, run, finish; API never answering), no wrapper', 'pipeline')}
${row('Wrapped by `withDrip()`, API never answering (wrapper + pipeline + enqueue)', 'parked')}
${row('Wrapped by `withDrip()`, delivered to the local Drip server', 'drip')}
${baseline ? `${row('Baseline build of `withDrip()` (BENCH_DRIP_NEXTJS_BASELINE), API never answering', 'baseline')}\n` : ''}${cost('Cost of the pipeline alone', 'pipeline')}
${cost('Cost of `withDrip()` without delivery', 'parked')}
${cost('Cost of `withDrip()` with delivery in the same process', 'drip')}
${baseline ? `${cost('Cost of the baseline build without delivery', 'baseline')}\n` : ''}${row('Inside an emulated Next request scope: bare handler', 'next-bare')}
${row('Inside an emulated Next request scope: `withDrip()`, API never answering', 'next-parked')}
| Cost of \`withDrip()\` inside Next (after() path), without delivery | ${(med('next-parked', 'cpu') - med('next-bare', 'cpu')).toFixed(2)} | ${(med('next-parked', 'wall') - med('next-bare', 'wall')).toFixed(2)} |

Rounds, CPU µs (${modes.join(' / ')}): ${rounds('cpu')}.
Rounds, wall µs: ${rounds('wall')}.
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
  if (baselineModule) await baselineModule.dripMeter(baselineOptions).close(100);
  await dripMeter(nextOptions).close(100);
  await pipelineMeter.close(100);
  server.kill('SIGTERM');
}
if (summary && flags.write !== 'false' && flags.write !== false) writeSection('bench:next-call', summary);
