// The app under test for bench/http-express.mjs. `node http-express-app.mjs bare|drip`.
// `drip` adds dripMiddleware with a usage record and a run with one event per request, delivered to the
// local Drip server (DRIP_API_URL / DRIP_API_KEY). Control routes under /__bench are not metered.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Drip } from '@drip/core';
import { dripMiddleware } from '@drip/express';
import express from 'express';

// `meter-only`: the same metering, but the client's fetch never answers, so the figures show what the
// request path costs (adapter + pipeline + enqueue) without delivery work in the app process.
// `no-scope`: the same metering and delivery with the request scope off (`asyncContext: false`), to show
// what Node 20's AsyncLocalStorage (async hooks on every promise and tick) costs.
// `spill`: the same metering and delivery with a file-backed outbox store and `overflow: 'spill'`: what
// the outbox cannot hold in memory waits on disk instead of being dropped (the zero-loss configuration).
// Diagnostics of the in-process benchmark (bench/http-inject.mjs), all with the request scope off:
// `noop-mw`: a middleware that only calls next(), no metering (what any middleware costs);
// `skip`: the adapter mounted but every request unidentified and skipped (adapter + pipeline entry);
// `instant`: full metering whose client's fetch answers at once without a network (lib/instant-fetch.mjs).
const MODES = ['drip', 'meter-only', 'no-scope', 'spill', 'noop-mw', 'skip', 'instant'];
const mode = MODES.includes(process.argv[2]) ? process.argv[2] : 'bare';
const scopeOff = ['no-scope', 'skip', 'instant'].includes(mode);
const customerId = process.env.BENCH_CUSTOMER_ID;
let served = 0;

const app = express();
app.disable('x-powered-by');
app.disable('etag');
let metering;
app.get('/__bench/stats', (_req, res) => {
  res.json({ served, cpu: process.cpuUsage() });
});
app.post('/__bench/flush', async (_req, res) => {
  if (metering) await metering.meter.flush(120_000);
  res.json({ served, stats: metering ? metering.meter.stats() : null });
});
if (mode === 'noop-mw') app.use((_req, _res, next) => next());
if (mode !== 'bare' && mode !== 'noop-mw') {
  const client = new Drip({
    apiKey: process.env.DRIP_API_KEY,
    baseUrl: process.env.DRIP_API_URL,
    ...(mode === 'meter-only' ? { fetch: () => new Promise(() => {}) } : {}),
    ...(mode === 'instant' ? { fetch: (await import('./lib/instant-fetch.mjs')).instantFetch } : {}),
  });
  metering = dripMiddleware({
    client,
    customer: mode === 'skip' ? () => undefined : () => customerId,
    ...(mode === 'skip' ? { unidentified: 'skip', logger: { warn() {}, error() {} } } : {}),
    ...(scopeOff ? { asyncContext: false } : {}),
    ...(mode === 'spill'
      ? {
          outbox: {
            store: (await import('@drip/core/node')).createFileOutboxStore({
              dir: mkdtempSync(join(tmpdir(), 'drip-bench-outbox-')),
            }),
            overflow: 'spill',
          },
        }
      : {}),
  });
  app.use(metering);
}
app.get('/items/:id', (req, res) => {
  served++;
  req.drip?.run.event({ eventType: 'bench.lookup', quantity: 1 });
  res.json({ id: req.params.id, name: 'Widget', price: 42 });
});

if (process.env.BENCH_INJECT) {
  // In-process mode (bench/http-inject.mjs): no socket, see lib/inject.mjs.
  const { runInjected } = await import('./lib/inject.mjs');
  await runInjected(app, {
    served: () => served,
    flush: async () => (metering ? (await metering.meter.flush(120_000), metering.meter.stats()) : null),
  });
}
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
process.once('SIGTERM', async () => {
  server.close();
  server.closeAllConnections();
  if (metering) await metering.meter.close(10_000);
  process.exit(0);
});
