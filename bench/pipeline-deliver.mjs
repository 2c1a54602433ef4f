// The metered request path with delivery, in process and without sockets (µs/request): begin(), run() with one
// run.event(), finish({ status: 200 }) as @drip/express does for `GET /items/:id` (one usage record, one run
// record), and every record delivered through a real `Drip` client whose fetch answers at once (one success per
// bulk item, bench/lib/instant-fetch.mjs). What bench/overhead.mjs measures over HTTP, without the HTTP stack's
// noise, so two builds of @drip/core can be compared in one run (A/B, interleaved):
//   node bench/pipeline-deliver.mjs [--requests 50000] [--rounds 7] [--other path/to/other/core/dist/index.js]
//                                   [--features false] [--write false]
// Writes the "Pipeline: per request with delivery" section of BENCHMARKS.md.
// With --other the rounds alternate between this checkout's @drip/core and the other build. --cpu-prof works.
// Also reports the share of each request-path feature (request scope off, run off, metadata off).
import { pathToFileURL } from 'node:url';
import { instantFetch } from './lib/instant-fetch.mjs';
import { calibrate, flags, machine, median, writeSection } from './outbox-common.mjs';

const f = flags({ requests: 50_000, rounds: 7, other: '', features: true, write: true });
const builds = [{ name: 'this', core: await import('@drip/core') }];
if (f.other) builds.push({ name: 'other', core: await import(pathToFileURL(String(f.other)).href) });

async function measure(core, options) {
  const client = new core.Drip({
    apiKey: 'sk_test_bench',
    baseUrl: 'http://sink.invalid/v1',
    fetch: instantFetch,
  });
  const meter = core.createRequestMeter({
    client,
    customer: () => 'cus_bench',
    sdk: { name: '@drip/express', version: '0.0.0' },
    outbox: { shutdownHooks: false },
    ...options,
  });
  const headers = { host: '127.0.0.1', 'user-agent': 'autocannon', accept: '*/*' };
  const header = (n) => headers[n];
  const times = [];
  for (let round = 0; round < 2; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < f.requests; i++) {
      const view = { method: 'GET', path: '/items/42', route: undefined, header, user: undefined, raw: {} };
      const r = meter.begin(view);
      if (r.kind !== 'continue') throw new Error(`unexpected ${r.kind}`);
      r.handle.run(() => r.context.run.event({ eventType: 'bench.lookup', quantity: 1 }));
      r.handle.finish({ status: 200, aborted: false, route: '/items/:id' });
      // Let delivery run between requests as it would between sockets' reads.
      if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
    }
    await meter.flush(60_000);
    times.push(Number(process.hrtime.bigint() - t0) / f.requests / 1000);
  }
  const s = meter.stats();
  if (s.sent !== 2 * 2 * f.requests + (options.run === false ? -2 * f.requests : 0)) {
    throw new Error(`sent ${s.sent} of ${2 * 2 * f.requests}`);
  }
  await meter.close(1_000);
  return times[1];
}

const configs = [{ label: 'usage + run with one event, delivered', options: {} }];
if (f.features !== false && f.features !== 'false') {
  configs.push(
    { label: 'request scope off (`asyncContext: false`)', options: { asyncContext: false } },
    { label: 'usage only (`run: false`)', options: { run: false } },
    { label: 'no metadata (`metadata: false`)', options: { metadata: false } },
  );
}
const cal = calibrate();
const results = new Map();
for (let round = 0; round < f.rounds; round++) {
  const order = round % 2 === 0 ? builds : [...builds].reverse();
  for (const c of configs) {
    for (const b of order) {
      const us = await measure(b.core, c.options);
      const key = `${b.name}|${c.label}`;
      results.set(key, [...(results.get(key) ?? []), us]);
    }
  }
}
const lines = [
  `| Configuration | ${builds.map((b) => (b.name === 'this' ? 'this build µs/request' : 'other build (--other) µs/request')).join(' | ')} |`,
  `| --- | ${builds.map(() => '---').join(' | ')} |`,
  ...configs.map(
    (c) =>
      `| ${c.label} | ${builds.map((b) => median(results.get(`${b.name}|${c.label}`)).toFixed(2)).join(' | ')} |`,
  ),
];
const body = `## Pipeline: per request with delivery

Command: \`node bench/pipeline-deliver.mjs --requests ${f.requests} --rounds ${f.rounds}${f.other ? ' --other <build>' : ''}\` (${machine()}).
${cal.note} One request = what \`@drip/express\` does for \`GET /items/:id\` (begin, run() with one \`run.event()\`,
finish), and every record delivered through a \`Drip\` client whose fetch answers at once (one success per bulk item), no
sockets. Median of ${f.rounds} rounds${builds.length > 1 ? ', the two builds alternating' : ''}.

${lines.join('\n')}
`;
console.log(body);
if (f.write !== false && f.write !== 'false') writeSection('bench:pipeline-deliver', body);
