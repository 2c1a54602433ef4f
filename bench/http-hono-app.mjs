// The app under test for bench/http-hono.mjs. `node http-hono-app.mjs bare|drip` on @hono/node-server.
// `drip` adds drip() with a usage record and a run with one event per request, delivered to the local
// Drip server (DRIP_API_URL / DRIP_API_KEY). Control routes under /__bench are not metered.
import { drip } from '@drip/hono';
import { appMode, isMetered, meteringOptions } from './lib/app-modes.mjs';
import { getRequestListener, serve } from '@hono/node-server';
import { Hono } from 'hono';

// Modes (bare, drip and the diagnostics): bench/lib/app-modes.mjs.
const mode = appMode(process.argv[2]);
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
if (isMetered(mode)) {
  metering = drip(await meteringOptions(mode, customerId));
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
    flush: async () => {
      if (!metering) return null;
      await metering.meter.flush(120_000);
      return metering.meter.stats();
    },
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
