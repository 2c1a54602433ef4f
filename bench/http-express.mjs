// Express 5: bare vs dripMiddleware (usage + a run with one event per request, delivered to the local
// Drip server). Results go to the "HTTP: Express" section of BENCHMARKS.md.
// Usage: node bench/http-express.mjs [--rounds 3] [--duration 10] [--warmup 3] [--connections 50] [--write false]
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHttpBenchmark } from './lib/http-bench.mjs';

await runHttpBenchmark({
  name: 'http-express',
  section: 'bench:http-express',
  title: 'Express',
  description:
    'Express 5.3.0; the metered app adds `dripMiddleware()` with a customer resolver, one `run.event()` per request, default outbox.',
  appScript: join(dirname(fileURLToPath(import.meta.url)), 'http-express-app.mjs'),
  targets: { ratio: 0.95 },
  extraModes: [
    { mode: 'no-scope', label: 'request scope off' },
    { mode: 'meter-only', label: 'metering only, delivery never answers' },
    { mode: 'spill', label: "file store with `overflow: 'spill'`" },
  ],
});
