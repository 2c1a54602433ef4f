// The Nest app of bench/overhead.mjs: `node overhead-nest-app.mjs nest <mode>`, NestJS 11 on the Express
// platform. Modes: `bare` (no interceptor), `noop` (an interceptor that only returns next.handle(): what Nest's
// interceptor machinery costs before any metering), `floor` (an interceptor that pushes an event into an
// in-memory array, drained), `drip` (DripModule.forRoot() + DripInterceptor, usage and a run with one event per
// request, delivered to the sink: BENCH_SINK). Control routes under /__bench as in bench/overhead-app.mjs.
// The controllers and the no-op interceptor come from bench/lib/nest-bench.mjs (shared with bench/http-nest-app.mjs).
import 'reflect-metadata';
import { Drip } from '@drip/core';
import { DRIP_REQUEST_METER, DripInterceptor, DripModule, DripRun } from '@drip/nestjs';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { benchControllers, NoopInterceptor } from './lib/nest-bench.mjs';
import { floorMeter } from './lib/reference-meters.mjs';

const mode = process.argv[3] ?? 'bare';
const customerId = 'cus_bench';
let meter;
const floor = mode === 'floor' ? floorMeter() : undefined;

class FloorInterceptor {
  intercept(_context, next) {
    floor.inHandler(undefined, customerId);
    return next.handle();
  }
}
Reflect.decorate([Injectable()], FloorInterceptor);
const { controllers } = benchControllers({
  interceptors:
    mode === 'drip'
      ? [DripInterceptor]
      : mode === 'noop'
        ? [NoopInterceptor]
        : mode === 'floor'
          ? [FloorInterceptor]
          : [],
  DripRun,
  flush: async () => {
    if (meter) await meter.flush(120_000);
    if (floor) await floor.flush();
    return { delivered: floor ? floor.delivered() : null, stats: meter ? meter.stats() : null };
  },
});

class AppModule {}
const imports = [];
if (mode === 'drip') {
  const client = new Drip({ apiKey: 'sk_test_bench', baseUrl: `${process.env.BENCH_SINK}/v1` });
  imports.push(DripModule.forRoot({ client, customer: () => customerId }));
}
Reflect.decorate([Module({ imports, controllers })], AppModule);

const app = await NestFactory.create(AppModule, { logger: ['error'] });
const express = app.getHttpAdapter().getInstance();
express.disable('x-powered-by');
express.disable('etag');
await app.listen(0, '127.0.0.1');
if (mode === 'drip') meter = app.get(DRIP_REQUEST_METER);
process.stdout.write(
  `${JSON.stringify({ url: `http://127.0.0.1:${app.getHttpServer().address().port}` })}\n`,
);
process.once('SIGTERM', async () => {
  await app.close(); // DripModule flushes on shutdown
  process.exit(0);
});
