// CPU per request of DripInterceptor itself, in-process, without HTTP: Nest's ExecutionContextHost, a
// handler observable and a response object that emits `close`, driven the way Nest drives an interceptor
// (intercept, subscribe, response closes). Compares, in interleaved rounds of the same process:
//   bare       the same work without an interceptor (context, observable, subscribe, close)
//   pipeline   the pipeline alone on the same work (begin, run, finish on close; no interceptor): the
//              floor the interceptor adds to
//   drip       DripInterceptor of this build (metering, pipeline, one run event per request)
//   baseline   DripInterceptor of another build (BENCH_DRIP_NESTJS_BASELINE: path of its ESM entry),
//              e.g. the build before a change; omitted when the variable is not set.
// The meter delivers to a fetch that answers every bulk call at once (no network), the same for both.
// Figures are medians of CPU µs (user + system) per request; the pipeline's own cost is included.
// Usage: node bench/nest-intercept.mjs [--rounds 7] [--ops 20000]
import 'reflect-metadata';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { createRequestMeter, Drip } from '@drip/core';
import { Reflector } from '@nestjs/core';
import { lastValueFrom, of } from 'rxjs';
import { median, parseFlags } from './lib/http-bench.mjs';
import { instantFetch as okFetch } from './lib/instant-fetch.mjs';

const flags = parseFlags(process.argv.slice(2), { rounds: 7, ops: 20_000 });
const require = createRequire(import.meta.url);
const { ExecutionContextHost } = require('@nestjs/core/helpers/execution-context-host.js');
const current = await import('@drip/nestjs');
const baselinePath = process.env.BENCH_DRIP_NESTJS_BASELINE;
const baselineModule = baselinePath ? await import(pathToFileURL(baselinePath).href) : undefined;

function meter() {
  const client = new Drip({
    apiKey: 'sk_test_0123456789abcdef',
    baseUrl: 'http://127.0.0.1:9',
    fetch: okFetch,
  });
  return createRequestMeter({ client, customer: () => 'cus_bench' });
}

class ItemsController {
  get(drip) {
    drip?.run.event({ eventType: 'bench.lookup', quantity: 1 });
    return { id: '42', name: 'Widget', price: 42 };
  }
}
const handler = ItemsController.prototype.get;
const reflector = new Reflector();
const STATE = Symbol.for('@drip/nestjs.state');

class FakeResponse extends EventEmitter {
  statusCode = 200;
  writableFinished = true;
  setHeader() {}
}

function driver(interceptor) {
  return async () => {
    const req = { method: 'GET', url: '/items/42', headers: {}, route: { path: '/items/:id' }, baseUrl: '' };
    const res = new FakeResponse();
    const ctx = new ExecutionContextHost([req, res, undefined], ItemsController, handler);
    const next = { handle: () => of(handler(req[STATE])) };
    const out = interceptor ? await interceptor.intercept(ctx, next) : next.handle();
    await lastValueFrom(out);
    res.emit('close');
  };
}

function pipelineDriver(m) {
  const header = () => undefined;
  return async () => {
    const req = { method: 'GET', url: '/items/42', headers: {}, route: { path: '/items/:id' }, baseUrl: '' };
    const res = new FakeResponse();
    const ctx = new ExecutionContextHost([req, res, undefined], ItemsController, handler);
    const begun = m.begin({ method: 'GET', path: '/items/42', route: '/items/:id', header, raw: req });
    const next = { handle: () => of(handler(begun.context)) };
    res.once('close', () => begun.handle.finish({ status: res.statusCode }));
    await lastValueFrom(begun.handle.run(() => next.handle(ctx)));
    res.emit('close');
  };
}

const modes = {
  bare: driver(undefined),
  pipeline: pipelineDriver(meter()),
  drip: driver(new current.DripInterceptor(meter(), reflector)),
};
if (baselineModule) modes.baseline = driver(new baselineModule.DripInterceptor(meter(), reflector));
const names = Object.keys(modes);
const results = Object.fromEntries(names.map((n) => [n, []]));
const load = loadavg()[0].toFixed(2);

async function round(fn, ops) {
  const cpu = process.cpuUsage();
  for (let i = 0; i < ops; i++) await fn();
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / ops;
}

for (const n of names) await round(modes[n], 2_000);
for (let r = 0; r < flags.rounds; r++) {
  for (const n of r % 2 === 0 ? names : [...names].reverse())
    results[n].push(await round(modes[n], flags.ops));
}
const med = (n) => median(results[n]);
const lines = [
  `DripInterceptor in-process, ${flags.rounds} interleaved rounds of ${flags.ops} requests, Node ${process.version}, load average ${load} -> ${loadavg()[0].toFixed(2)}`,
  '| Mode | CPU µs/request (median) | beyond bare | rounds |',
  '| --- | --- | --- | --- |',
  ...names.map(
    (n) =>
      `| ${n} | ${med(n).toFixed(2)} | ${(med(n) - med('bare')).toFixed(2)} | ${results[n].map((x) => x.toFixed(1)).join(', ')} |`,
  ),
];
console.log(lines.join('\n'));
process.exit(0);
