// The app under test for bench/http-nest.mjs. `node http-nest-app.mjs bare|drip`: NestJS 11 on the
// Express platform. `drip` adds DripModule.forRoot() and DripInterceptor on the controller, with a usage
// record and a run with one event per request, delivered to the local Drip server (DRIP_API_URL /
// DRIP_API_KEY). Control routes under /__bench are not metered. Plain JavaScript: decorators are applied
// with Reflect.decorate and no decorator metadata exists, as in an esbuild/swc build without it.
import 'reflect-metadata';
import { Drip } from '@drip/core';
import { DRIP_REQUEST_METER, DripInterceptor, DripModule, DripRun } from '@drip/nestjs';
import { Controller, Get, Module, Param, Post, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

const mode = process.argv[2] === 'drip' ? 'drip' : 'bare';
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
const itemDecorators = [Controller('items')];
if (mode === 'drip') itemDecorators.push(UseInterceptors(DripInterceptor));
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
if (mode === 'drip') {
  const client = new Drip({ apiKey: process.env.DRIP_API_KEY, baseUrl: process.env.DRIP_API_URL });
  imports.push(DripModule.forRoot({ client, customer: () => customerId }));
}
Reflect.decorate([Module({ imports, controllers: [ItemsController, BenchController] })], AppModule);

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
