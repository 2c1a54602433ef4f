// NestJS 11 on Express: bare vs DripInterceptor (usage + a run with one event per request, delivered to
// the local Drip server). Results go to the "HTTP: NestJS (Express)" section of BENCHMARKS.md.
// Usage: node bench/http-nest.mjs [--rounds 3] [--duration 10] [--warmup 3] [--connections 50] [--write false]
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHttpBenchmark } from './lib/http-bench.mjs';

await runHttpBenchmark({
  name: 'http-nest',
  section: 'bench:http-nest',
  title: 'NestJS (Express)',
  description:
    'NestJS 11.2.10 on @nestjs/platform-express; the metered app adds `DripModule.forRoot()` with a customer resolver and `DripInterceptor` on the controller, one `run.event()` per request (through `@DripRun()`), default outbox.',
  appScript: join(dirname(fileURLToPath(import.meta.url)), 'http-nest-app.mjs'),
  targets: { ratio: 0.95 },
});
