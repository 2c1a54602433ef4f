// The app under test for bench/overhead.mjs: `node overhead-app.mjs express|hono <mode>` (Hono on
// @hono/node-server). Modes:
//   bare     no metering
//   noop     a middleware that only calls next(): what any metering middleware costs the framework before it
//            does anything (in Hono it also moves the response off @hono/node-server's synchronous path)
//   floor    an event pushed into an in-memory array per request, drained (bench/lib/reference-meters.mjs)
//   floor-deliver  @drip's two records per request built and delivered in bulk with nothing around them
//            (bench/lib/reference-meters.mjs): the least any metering that sends what Drip sends can cost
//   drip     the adapter (dripMiddleware / drip()) with its usage record and a run with one event per request,
//            delivered to the sink (BENCH_SINK: the sink's prefix for this app)
//   posthog  posthog-node, one capture per request, delivered to the sink
//   otel     OpenTelemetry, two spans per request, batch exporter to the sink
//   drip-before  `drip` with another build of the adapter and @drip/core: BENCH_BEFORE names a folder whose
//            node_modules/@drip/{core,express,hono} hold that build (package.json + dist), so a change to the hot
//            path is measured against the code before it in the same interleaved run (--before on overhead.mjs)
//   queued   the adapter with a client whose fetch never answers (records stay queued): for memory per record
//   no-scope, no-run, no-metadata, file-store: the adapter with `asyncContext: false`, with `run: false` (usage
//            only), with `metadata: false`, with a file-backed durable store (each feature's share)
// Control routes (not metered): GET /__bench/stats { served, cpu }, POST /__bench/flush { served, delivered,
// stats }, GET /__bench/heap (after GC, with --expose-gc).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deliveringFloorMeter, floorMeter, otelMeter, posthogMeter } from './lib/reference-meters.mjs';

const [framework, mode = 'bare'] = process.argv.slice(2);
const sink = process.env.BENCH_SINK;
const customerId = 'cus_bench';
let served = 0;

const dripModes = ['drip', 'drip-before', 'queued', 'no-scope', 'no-run', 'no-metadata', 'file-store'];
let metering; // the adapter (has .meter)
let ref; // a reference meter
if (mode === 'floor') ref = floorMeter();
if (mode === 'floor-deliver') ref = await deliveringFloorMeter(sink);
if (mode === 'posthog') ref = await posthogMeter(sink);
if (mode === 'otel') ref = await otelMeter(sink);

/** An adapter package: this checkout's, or the `drip-before` build's. */
async function load(name) {
  if (mode !== 'drip-before') return import(name);
  return import(pathToFileURL(join(process.env.BENCH_BEFORE, 'node_modules', name, 'dist', 'index.js')).href);
}

async function dripOptions() {
  const { Drip } = await load('@drip/core');
  const client = new Drip({
    apiKey: 'sk_test_bench',
    baseUrl: `${sink}/v1`,
    ...(mode === 'queued' ? { fetch: () => new Promise(() => {}) } : {}),
  });
  return {
    client,
    customer: () => customerId,
    ...(mode === 'no-scope' ? { asyncContext: false } : {}),
    ...(mode === 'no-run' ? { run: false } : {}),
    ...(mode === 'no-metadata' ? { metadata: false } : {}),
    ...(mode === 'file-store'
      ? {
          outbox: {
            store: (await import('@drip/core/node')).createFileOutboxStore({
              dir: mkdtempSync(join(tmpdir(), 'drip-bench-outbox-')),
            }),
          },
        }
      : {}),
  };
}

async function flush() {
  if (metering) await metering.meter.flush(120_000);
  if (ref) await ref.flush();
  return {
    served,
    delivered: ref?.delivered?.() ?? null,
    stats: metering ? metering.meter.stats() : null,
  };
}
function heap() {
  globalThis.gc?.();
  return { heapUsed: process.memoryUsage().heapUsed, queued: metering ? metering.meter.stats().queued : 0 };
}
const body = (id) => ({ id, name: 'Widget', price: 42 });

let listen;
if (framework === 'express') {
  const { default: express } = await import('express');
  const { dripMiddleware } = await load('@drip/express');
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.get('/__bench/stats', (_req, res) => res.json({ served, cpu: process.cpuUsage() }));
  app.get('/__bench/heap', (_req, res) => res.json(heap()));
  app.post('/__bench/flush', async (_req, res) => res.json(await flush()));
  if (mode === 'noop') app.use((_req, _res, next) => next());
  if (dripModes.includes(mode)) {
    metering = dripMiddleware(await dripOptions());
    app.use(metering);
  }
  if (mode === 'otel') {
    app.use((req, res, next) => {
      const handle = ref.start(`${req.method} /items/:id`);
      res.once('finish', () => ref.end(handle, res.statusCode));
      handle.run(next);
    });
  }
  app.get('/items/:id', (req, res) => {
    served++;
    req.drip?.run.event({ eventType: 'bench.lookup', quantity: 1 });
    ref?.inHandler(undefined, customerId);
    res.json(body(req.params.id));
  });
  listen = () =>
    new Promise((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port }));
    });
} else if (framework === 'hono') {
  const { Hono } = await import('hono');
  const { serve } = await import('@hono/node-server');
  const { drip } = await load('@drip/hono');
  const app = new Hono();
  app.get('/__bench/stats', (c) => c.json({ served, cpu: process.cpuUsage() }));
  app.get('/__bench/heap', (c) => c.json(heap()));
  app.post('/__bench/flush', async (c) => c.json(await flush()));
  if (mode === 'noop') app.use('/items/*', (_c, next) => next());
  if (dripModes.includes(mode)) {
    metering = drip(await dripOptions());
    app.use('/items/*', metering);
  }
  if (mode === 'otel') {
    app.use('/items/*', async (c, next) => {
      const handle = ref.start(`${c.req.method} /items/:id`);
      await handle.run(next);
      ref.end(handle, c.res.status);
    });
  }
  app.get('/items/:id', (c) => {
    served++;
    c.get('drip')?.run.event({ eventType: 'bench.lookup', quantity: 1 });
    ref?.inHandler(undefined, customerId);
    return c.json(body(c.req.param('id')));
  });
  listen = () =>
    new Promise((resolve) => {
      const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
        resolve({ server, port: info.port }),
      );
    });
} else {
  throw new Error(`unknown framework ${framework}`);
}

const { server, port } = await listen();
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
process.once('SIGTERM', async () => {
  server.close();
  server.closeAllConnections?.();
  if (metering && mode !== 'queued') await metering.meter.close(10_000);
  await ref?.close?.();
  process.exit(0);
});
