// The app under test for bench/http-nest.mjs. `node http-nest-app.mjs bare|drip|meter-only|noop`:
// NestJS 11 on the Express platform. `drip` adds DripModule.forRoot() and DripInterceptor on the
// controller, with a usage record and a run with one event per request, delivered to the local Drip
// server (DRIP_API_URL / DRIP_API_KEY). `meter-only` is the same metering with a client whose fetch never
// answers (request-path cost alone). `noop` puts an interceptor that only returns `next.handle()` on the
// controller: what Nest's interceptor machinery costs before any metering (diagnostic).
// BENCH_DRIP_NESTJS may name another build of @drip/nestjs (the path of its ESM entry), to compare
// two builds under the same harness. Control routes under /__bench are not metered. Plain JavaScript:
// decorators are applied with Reflect.decorate and no decorator metadata exists, as in an esbuild/swc
// build without it.
import 'reflect-metadata';
import { pathToFileURL } from 'node:url';
import { Drip } from '@drip/core';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { benchControllers, NoopInterceptor } from './lib/nest-bench.mjs';

const { DRIP_REQUEST_METER, DripInterceptor, DripModule, DripRun } = await import(
  process.env.BENCH_DRIP_NESTJS ? pathToFileURL(process.env.BENCH_DRIP_NESTJS).href : '@drip/nestjs'
);
const mode = ['drip', 'meter-only', 'noop'].includes(process.argv[2]) ? process.argv[2] : 'bare';
const metered = mode === 'drip' || mode === 'meter-only';
const customerId = process.env.BENCH_CUSTOMER_ID;
let meter;

const { controllers, served } = benchControllers({
  interceptors: metered ? [DripInterceptor] : mode === 'noop' ? [NoopInterceptor] : [],
  DripRun,
  flush: async () => {
    if (meter) await meter.flush(120_000);
    return { stats: meter ? meter.stats() : null };
  },
});

class AppModule {}
const imports = [];
if (metered) {
  const client = new Drip({
    apiKey: process.env.DRIP_API_KEY,
    baseUrl: process.env.DRIP_API_URL,
    ...(mode === 'meter-only' ? { fetch: () => new Promise(() => {}) } : {}),
  });
  // BENCH_NO_ASYNC_CONTEXT=1: no AsyncLocalStorage request scope (the `asyncContext: false` option).
  const asyncContext = process.env.BENCH_NO_ASYNC_CONTEXT !== '1';
  imports.push(DripModule.forRoot({ client, customer: () => customerId, asyncContext }));
}
Reflect.decorate([Module({ imports, controllers })], AppModule);

const app = await NestFactory.create(AppModule, { logger: ['error'] });
const express = app.getHttpAdapter().getInstance();
express.disable('x-powered-by');
express.disable('etag');
if (process.env.BENCH_INJECT) {
  // In-process mode (bench/http-inject.mjs): Nest's Express instance driven without a socket.
  await app.init();
  if (metered) meter = app.get(DRIP_REQUEST_METER);
  const { runInjected } = await import('./lib/inject.mjs');
  await runInjected(express, {
    served,
    flush: async () => {
      if (!meter || mode !== 'drip') return null;
      await meter.flush(120_000);
      return meter.stats();
    },
  });
}
await app.listen(0, '127.0.0.1');
if (metered) meter = app.get(DRIP_REQUEST_METER);
process.stdout.write(
  `${JSON.stringify({ url: `http://127.0.0.1:${app.getHttpServer().address().port}` })}\n`,
);
process.once('SIGTERM', async () => {
  if (mode === 'meter-only') process.exit(0); // its delivery never answers: nothing to flush
  await app.close(); // DripModule flushes on shutdown
  process.exit(0);
});
