// The pieces the Nest benchmark apps share (bench/http-nest-app.mjs, bench/overhead-nest-app.mjs): the
// controller under test, a no-op interceptor and the /__bench control routes. Plain JavaScript: decorators are
// applied with Reflect.decorate and no decorator metadata exists, as in an esbuild/swc build without it.
import 'reflect-metadata';
import { Controller, Get, Injectable, Param, Post, UseInterceptors } from '@nestjs/common';

/** An interceptor that only returns next.handle(): what Nest's interceptor machinery costs by itself. */
export class NoopInterceptor {
  intercept(_context, next) {
    return next.handle();
  }
}
Reflect.decorate([Injectable()], NoopInterceptor);

/**
 * The two controllers: `GET /items/:id` (the handler under test; `DripRun` gives it the run, and every
 * interceptor in `interceptors` is applied to it) and `GET /__bench/stats` ({ served, cpu }),
 * `POST /__bench/flush` (`{ served, ...flush() }`). `served()` reads the count of requests served.
 * @param {{ interceptors: unknown[], DripRun: () => ParameterDecorator, flush: () => Promise<object> }} options
 */
export function benchControllers({ interceptors, DripRun, flush }) {
  let served = 0;
  class ItemsController {
    get(id, drip) {
      served++;
      drip?.run.event({ eventType: 'bench.lookup', quantity: 1 });
      return { id, name: 'Widget', price: 42 };
    }
  }
  const itemDecorators = [Controller('items')];
  for (const interceptor of interceptors) itemDecorators.push(UseInterceptors(interceptor));
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
      return { served, ...(await flush()) };
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
  return { controllers: [ItemsController, BenchController], served: () => served };
}
