// Hono on @hono/node-server: bare vs drip() (usage + a run with one event per request, delivered to the
// local Drip server). Results go to the "HTTP: Hono" section of BENCHMARKS.md.
// Usage: node bench/http-hono.mjs [--rounds 3] [--duration 10] [--warmup 3] [--connections 50] [--write false]
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHttpBenchmark } from './lib/http-bench.mjs';

await runHttpBenchmark({
  name: 'http-hono',
  section: 'bench:http-hono',
  title: 'Hono',
  description:
    'Hono 4.13.19 on @hono/node-server 2.1.8; the metered app adds `drip()` with a customer resolver, one `run.event()` per request, default outbox.',
  appScript: join(dirname(fileURLToPath(import.meta.url)), 'http-hono-app.mjs'),
  targets: { ratio: 0.8 },
  extraModes: [
    { mode: 'no-scope', label: 'request scope off' },
    { mode: 'meter-only', label: 'metering only, delivery never answers' },
    { mode: 'spill', label: "file store with `overflow: 'spill'`" },
  ],
});
