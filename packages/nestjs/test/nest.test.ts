import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Drip } from '@drip/core';
import { createTestDrip } from '@drip/testing';
import {
  type CallHandler,
  Controller,
  type ExecutionContext,
  Get,
  type INestApplication,
  Injectable,
  UseInterceptors,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { lastValueFrom, of } from 'rxjs';
import supertest from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DRIP_OPTIONS,
  DripInterceptor,
  DripMeter,
  DripModule,
  type DripNestOptions,
  DripRun,
} from '../src/index';
import * as src from '../src/index';
import { armGate, boot, controllers, gate, meterOf, type Platform } from './fixtures';

const api = createTestDrip();
const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
const { Items, Plain } = controllers(src);

/** One handler inherited by two controllers whose class-level rules differ. */
class QuotesBase {
  @Get()
  list(@DripRun() drip?: { run: { event(e: { eventType: string }): void } }) {
    drip?.run.event({ eventType: 'quote.list' });
    return { ok: true };
  }
}
@Controller('cheap')
@UseInterceptors(DripInterceptor)
@DripMeter('cheap_calls')
class CheapQuotes extends QuotesBase {}
@Controller('dear')
@UseInterceptors(DripInterceptor)
@DripMeter('dear_calls', 3)
class DearQuotes extends QuotesBase {}

let app: INestApplication | undefined;
beforeEach(() => api.reset());
afterEach(async () => {
  gate.release();
  await app?.close();
  app = undefined;
});

describe.each<Platform>(['express', 'fastify'])('DripInterceptor on %s', (platform) => {
  async function start(options: DripNestOptions = {}, extra: Parameters<typeof boot>[3] = []) {
    app = await boot(platform, DripModule.forRoot({ client, ...options }), [Items, Plain], extra);
    return { http: supertest(app.getHttpServer()), meter: meterOf(app) };
  }

  it('meters a handler per customer from req.user, with the run, its events and the route template', async () => {
    const { http, meter } = await start();
    const res = await http.get('/items/42').set('x-customer', 'cus_1');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: '42', customer: 'cus_1' });
    await meter.flush(5_000);
    api.expectUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1, records: 1 });
    api.expectUsage({ customerId: 'cus_1', meter: 'lookups', quantity: 2 });
    const run = api.expectRun({
      customerId: 'cus_1',
      status: 'COMPLETED',
      events: [{ eventType: 'db.lookup', table: 'items' }],
    });
    expect(JSON.stringify(run)).toContain('/items/:id');
  });

  it("uses a handler's @DripMeter(meter, quantity) over the controller's", async () => {
    const { http, meter } = await start();
    const res = await http.post('/items/search').set('x-customer', 'cus_2').send({ q: 'x' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ hits: 3 });
    await meter.flush(5_000);
    api.expectUsage({ customerId: 'cus_2', meter: 'searches', quantity: 5 });
    expect(api.totalUsage({ customerId: 'cus_2', meter: 'api_calls' })).toBe(0);
    api.expectRun({ customerId: 'cus_2', events: [{ eventType: 'search.query', terms: 2 }] });
  });

  it('reaches the context from deep code through getDripContext()', async () => {
    const { http, meter } = await start();
    expect((await http.get('/items/deep').set('x-customer', 'cus_deep')).body).toEqual({
      customer: 'cus_deep',
    });
    await meter.flush(5_000);
    api.expectRun({ customerId: 'cus_deep', events: [{ eventType: 'deep.work' }] });
  });

  it('waits for an async customer resolver before the handler runs', async () => {
    const { http, meter } = await start({
      customer: async (req) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return (req.headers['x-tenant'] as string | undefined) ?? null;
      },
    });
    const res = await http.get('/items/11').set('x-tenant', 'cus_async');
    expect(res.body).toEqual({ id: '11', customer: 'cus_async' });
    await meter.flush(5_000);
    api.expectUsage({ customerId: 'cus_async', meter: 'api_calls', quantity: 1 });
    api.expectRun({ customerId: 'cus_async', status: 'COMPLETED', events: [{ eventType: 'db.lookup' }] });
  });

  it('@SkipDrip() and controllers without the interceptor are not metered', async () => {
    const { http, meter } = await start();
    expect((await http.get('/items/free').set('x-customer', 'cus_3')).body).toEqual({ free: true });
    expect((await http.get('/plain/1').set('x-customer', 'cus_3')).body).toEqual({ id: '1', metered: false });
    await meter.flush(5_000);
    expect(api.usage).toHaveLength(0);
    expect(api.runs).toHaveLength(0);
    // @SkipDrip() is carried on the request view: the pipeline counts the skipped request.
    expect(meter.stats().pipeline.skipped).toBe(1);
  });

  it('keeps the status of an HttpException and records the outcome', async () => {
    const { http, meter } = await start();
    const res = await http.get('/items/missing').set('x-customer', 'cus_4');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'no such item' });
    await meter.flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_4' })).toBe(0);
    const run = api.expectRun({ customerId: 'cus_4' });
    // The handler threw: the run fails with the exception's name; the client saw Nest's 404.
    expect(run).toMatchObject({ status: 'FAILED', errorCode: 'NotFoundException' });
  });

  it('records a handler that throws as a failed run, not billed; Nest still answers 500', async () => {
    const { http, meter } = await start();
    const res = await http.get('/items/boom').set('x-customer', 'cus_5');
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ statusCode: 500, message: 'Internal server error' });
    await meter.flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_5' })).toBe(0);
    const run = api.expectRun({ customerId: 'cus_5', status: 'FAILED' });
    expect(run.errorCode).toBe('TypeError');
  });

  it('serves requests normally while the API is unreachable, and delivers once it is back', async () => {
    const { http, meter } = await start();
    api.down();
    const res = await http.get('/items/7').set('x-customer', 'cus_6');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: '7', customer: 'cus_6' });
    api.up();
    await meter.flush(10_000);
    api.expectUsage({ customerId: 'cus_6', meter: 'api_calls', quantity: 1 });
  });

  it('serves the request unmetered when the customer resolver throws', async () => {
    const errors: unknown[] = [];
    const { http, meter } = await start({
      customer: () => {
        throw new Error('resolver down');
      },
      onError: (error: unknown) => errors.push(error),
    });
    const res = await http.get('/items/8').set('x-customer', 'cus_7');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: '8', customer: null });
    await meter.flush(5_000);
    expect(api.usage).toHaveLength(0);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('unidentified callers: skipped by default, refused under reject, billed to the anonymous customer under anonymous', async () => {
    const skipped = await start();
    expect((await skipped.http.get('/items/9')).body).toEqual({ id: '9', customer: null });
    await skipped.meter.flush(5_000);
    expect(api.usage).toHaveLength(0);
    await app?.close();

    const rejected = await start({ unidentified: 'reject' });
    const res = await rejected.http.get('/items/9');
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'CUSTOMER_REQUIRED' });
    await rejected.meter.flush(5_000);
    expect(api.usage).toHaveLength(0);
    await app?.close();

    const anonymous = await start({ unidentified: 'anonymous', anonymousCustomerId: 'cus_anon' });
    expect((await anonymous.http.get('/items/10')).body).toEqual({ id: '10', customer: 'cus_anon' });
    await anonymous.meter.flush(5_000);
    api.expectUsage({ customerId: 'cus_anon', meter: 'api_calls', quantity: 1 });
  });

  it('a gate refusal keeps the status, body and headers the pipeline chose; the handler never runs', async () => {
    const { http, meter } = await start({
      gate: {
        check: ({ customerId }) =>
          customerId === 'cus_broke'
            ? { allow: false, status: 402, body: { error: 'Top up first' }, headers: { 'retry-after': '60' } }
            : { allow: true },
      },
    });
    const refused = await http.get('/items/11').set('x-customer', 'cus_broke');
    expect(refused.status).toBe(402);
    expect(refused.headers['retry-after']).toBe('60');
    expect(refused.headers['content-type']).toMatch(/application\/json/);
    expect(refused.body).toMatchObject({ error: 'Top up first' });
    const allowed = await http.get('/items/12').set('x-customer', 'cus_fine');
    expect(allowed.body).toEqual({ id: '12', customer: 'cus_fine' });
    await meter.flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_broke' })).toBe(0);
    api.expectUsage({ customerId: 'cus_fine', meter: 'api_calls', quantity: 1 });
  });

  it('records a request whose client went away as aborted, not billed', async () => {
    const { meter } = await start();
    armGate();
    await (app as INestApplication).listen(0, '127.0.0.1');
    const { port } = (app as INestApplication).getHttpServer().address() as AddressInfo;
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/items/slow',
      headers: { 'x-customer': 'cus_8' },
    });
    req.on('error', () => {});
    req.end();
    // The handler is running (so the request is metered); now the client goes away.
    await gate.entered;
    req.destroy();
    // Wait (bounded) until the server has seen the close and the request's records are enqueued.
    for (let i = 0; i < 200 && meter.stats().enqueued === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    gate.release();
    await meter.flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_8' })).toBe(0);
    const run = api.expectRun({ customerId: 'cus_8' });
    expect(run.status).toBe('CANCELLED');
  });

  it('as a global APP_INTERCEPTOR meters every controller, once even where also applied per controller', async () => {
    const { http, meter } = await start({}, [{ provide: APP_INTERCEPTOR, useClass: DripInterceptor }]);
    expect((await http.get('/plain/1').set('x-customer', 'cus_9')).body).toEqual({ id: '1', metered: true });
    expect((await http.get('/items/2').set('x-customer', 'cus_9')).status).toBe(200);
    await meter.flush(5_000);
    api.expectUsage({ customerId: 'cus_9', meter: 'api_calls', quantity: 2, records: 2 });
    api.expectRun({ customerId: 'cus_9', count: 2 });
  });
});

describe('DripInterceptor metadata', () => {
  it("applies each controller's own @DripMeter to a handler both inherit, on every request", async () => {
    const customer = (req: { headers: Record<string, unknown> }) => req.headers['x-customer'] as string;
    app = await boot('express', DripModule.forRoot({ client, customer }), [CheapQuotes, DearQuotes]);
    const http = supertest(app.getHttpServer());
    // Twice each, interleaved: the second request to each controller reads what the first one cached.
    for (const path of ['/cheap', '/dear', '/cheap', '/dear']) {
      expect((await http.get(path).set('x-customer', 'cus_q')).body).toEqual({ ok: true });
    }
    await meterOf(app).flush(5_000);
    api.expectUsage({ customerId: 'cus_q', meter: 'cheap_calls', quantity: 2, records: 2 });
    api.expectUsage({ customerId: 'cus_q', meter: 'dear_calls', quantity: 6, records: 2 });
    expect(api.totalUsage({ customerId: 'cus_q', meter: 'api_calls' })).toBe(0);
    api.expectRun({ customerId: 'cus_q', count: 4 });
  });
});

describe('DripModule', () => {
  it('forRootAsync builds the options from injected providers', async () => {
    @Injectable()
    class Config {
      get(name: string): string | undefined {
        return name === 'meter' ? 'configured_calls' : undefined;
      }
    }
    const module = DripModule.forRootAsync({
      inject: [Config],
      useFactory: (config: Config) => ({ client, meter: config.get('meter') }),
    });
    module.providers = [...(module.providers ?? []), Config];
    module.exports = [...(module.exports ?? []), Config];
    app = await boot('express', module, [Items]);
    const options = app.get<DripNestOptions>(DRIP_OPTIONS);
    expect(options.meter).toBe('configured_calls');
    // The controller's @DripMeter('api_calls') still wins over the module default for its handlers.
    await supertest(app.getHttpServer()).get('/items/1').set('x-customer', 'cus_a').expect(200);
    await meterOf(app).flush(5_000);
    api.expectUsage({ customerId: 'cus_a', meter: 'api_calls', quantity: 1 });
  });

  it('flushes queued records when the app closes', async () => {
    app = await boot('express', DripModule.forRoot({ client }), [Items]);
    await supertest(app.getHttpServer()).get('/items/3').set('x-customer', 'cus_b').expect(200);
    await app.close();
    app = undefined;
    api.expectUsage({ customerId: 'cus_b', meter: 'api_calls', quantity: 1 });
  });

  it('lets non-HTTP contexts through unmetered', async () => {
    app = await boot('express', DripModule.forRoot({ client, customer: () => 'cus_rpc' }), [Items]);
    const interceptor = app.get(DripInterceptor);
    const rpc = {
      getType: () => 'rpc',
      getHandler: () => () => {},
      getClass: () => Object,
      switchToHttp: () => {
        throw new Error('not an HTTP context');
      },
    } as unknown as ExecutionContext;
    const next: CallHandler = { handle: () => of('pong') };
    const out = await Promise.resolve(interceptor.intercept(rpc, next));
    expect(await lastValueFrom(out)).toBe('pong');
    await meterOf(app).flush(5_000);
    expect(api.usage).toHaveLength(0);
  });

  it('injects with explicit tokens (works without emitted decorator metadata)', () => {
    // The package is compiled without emitDecoratorMetadata; Nest would inject `undefined` otherwise.
    expect(Reflect.getMetadata('design:paramtypes', DripInterceptor)).toBeUndefined();
    expect(Reflect.getMetadata('self:paramtypes', DripInterceptor)).toHaveLength(2);
  });
});
