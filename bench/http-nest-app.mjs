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
import { Controller, Get, Injectable, Module, Param, Post, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

const { DRIP_REQUEST_METER, DripInterceptor, DripModule, DripRun } = await import(
  process.env.BENCH_DRIP_NESTJS ? pathToFileURL(process.env.BENCH_DRIP_NESTJS).href : '@drip/nestjs'
);
const mode = ['drip', 'meter-only', 'noop'].includes(process.argv[2]) ? process.argv[2] : 'bare';
const metered = mode === 'drip' || mode === 'meter-only';
const customerId = process.env.BENCH_CUSTOMER_ID;
let served = 0;
let meter;

class ItemsController {
  get(id, drip) {
    served++;
    drip?.run.event({ eventType: 'bench.lookup', quantity: 1 });
    return { id, name: 'Widget', price: 42 };
  }
}
class NoopInterceptor {
  intercept(_context, next) {
    return next.handle();
  }
}
Reflect.decorate([Injectable()], NoopInterceptor);
const itemDecorators = [Controller('items')];
if (metered) itemDecorators.push(UseInterceptors(DripInterceptor));
if (mode === 'noop') itemDecorators.push(UseInterceptors(NoopInterceptor));
Reflect.decorate(itemDecorators, ItemsController);
const getDescriptor = Object.getOwnPropertyDescriptor(ItemsController.prototype, 'get');
Param('id')(ItemsController.prototype, 'get', 0);
DripRun()(ItemsController.prototype, 'get', 1);
Reflect.decorate([Get(':id')], ItemsController.prototype, 'get', getDescriptor);

class BenchController {
  stats() {
    return { served, cpu: process.cpuUsage() };
  }
  async flush() {
    if (meter) await meter.flush(120_000);
    return { served, stats: meter ? meter.stats() : null };
  }
}
Reflect.decorate([Controller('__bench')], BenchController);
for (const [name, decorator] of [
  ['stats', Get('stats')],
  ['flush', Post('flush')],
]) {
  const descriptor = Object.getOwnPropertyDescriptor(BenchController.prototype, name);
  Reflect.decorate([decorator], BenchController.prototype, name, descriptor);
}

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
Reflect.decorate([Module({ imports, controllers: [ItemsController, BenchController] })], AppModule);

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
    served: () => served,
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
