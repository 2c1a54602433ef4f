// The app under test for bench/http-express.mjs. `node http-express-app.mjs bare|drip`.
// `drip` adds dripMiddleware with a usage record and a run with one event per request, delivered to the
// local Drip server (DRIP_API_URL / DRIP_API_KEY). Control routes under /__bench are not metered.
import { dripMiddleware } from '@drip/express';
import { appMode, isMetered, meteringOptions } from './lib/app-modes.mjs';
import express from 'express';

// Modes (bare, drip and the diagnostics): bench/lib/app-modes.mjs.
const mode = appMode(process.argv[2]);
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
if (isMetered(mode)) {
  metering = dripMiddleware(await meteringOptions(mode, customerId));
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
    flush: async () => {
      if (!metering) return null;
      await metering.meter.flush(120_000);
      return metering.meter.stats();
    },
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
