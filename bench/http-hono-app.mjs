// The app under test for bench/http-hono.mjs. `node http-hono-app.mjs bare|drip` on @hono/node-server.
// `drip` adds drip() with a usage record and a run with one event per request, delivered to the local
// Drip server (DRIP_API_URL / DRIP_API_KEY). Control routes under /__bench are not metered.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Drip } from '@drip/core';
import { drip } from '@drip/hono';
import { getRequestListener, serve } from '@hono/node-server';
import { Hono } from 'hono';

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

const app = new Hono();
let metering;
app.get('/__bench/stats', (c) => c.json({ served, cpu: process.cpuUsage() }));
app.post('/__bench/flush', async (c) => {
  if (metering) await metering.meter.flush(120_000);
  return c.json({ served, stats: metering ? metering.meter.stats() : null });
});
if (mode === 'noop-mw') app.use('/items/*', (_c, next) => next());
if (mode !== 'bare' && mode !== 'noop-mw') {
  const client = new Drip({
    apiKey: process.env.DRIP_API_KEY,
    baseUrl: process.env.DRIP_API_URL,
    ...(mode === 'meter-only' ? { fetch: () => new Promise(() => {}) } : {}),
    ...(mode === 'instant' ? { fetch: (await import('./lib/instant-fetch.mjs')).instantFetch } : {}),
  });
  metering = drip({
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
  app.use('/items/*', metering);
}
app.get('/items/:id', (c) => {
  served++;
  c.get('drip')?.run.event({ eventType: 'bench.lookup', quantity: 1 });
  return c.json({ id: c.req.param('id'), name: 'Widget', price: 42 });
});

if (process.env.BENCH_INJECT) {
  // In-process mode (bench/http-inject.mjs): @hono/node-server's request listener without a socket.
  const { runInjected } = await import('./lib/inject.mjs');
  await runInjected(getRequestListener(app.fetch), {
    served: () => served,
    flush: async () => (metering ? (await metering.meter.flush(120_000), metering.meter.stats()) : null),
  });
}
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${info.port}` })}\n`);
});
process.once('SIGTERM', async () => {
  server.close();
  if (metering) await metering.meter.close(10_000);
  process.exit(0);
});
