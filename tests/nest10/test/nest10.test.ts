import 'reflect-metadata';
import { createRequire } from 'node:module';
import { Drip, type DripRequestContext, getDripContext } from '@drip/core';
import {
  DripCustomer,
  DripInterceptor,
  DripMeter,
  DripModule,
  DripRun,
  DRIP_REQUEST_METER,
  SkipDrip,
} from '@drip/nestjs';
import { createTestDrip } from '@drip/testing';
import {
  Controller,
  Get,
  type INestApplication,
  NotFoundException,
  Param,
  Post,
  HttpCode,
  UseInterceptors,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import type { RequestMeter } from '@drip/core';
import supertest from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const api = createTestDrip();
const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });

@Controller('items')
@UseInterceptors(DripInterceptor)
@DripMeter('api_calls')
class ItemsController {
  @Get('free')
  @SkipDrip()
  free() {
    return { free: true };
  }

  @Get('missing')
  missing(): never {
    throw new NotFoundException({ error: 'no such item' });
  }

  @Post('search')
  @HttpCode(200)
  @DripMeter('searches', 5)
  search(@DripRun() drip?: DripRequestContext) {
    drip?.run.event({ eventType: 'search.query' });
    return { hits: 3 };
  }

  @Get('deep')
  async deep() {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return { customer: getDripContext()?.customerId ?? null };
  }

  @Get(':id')
  get(@Param('id') id: string, @DripRun() drip?: DripRequestContext, @DripCustomer() customer?: string) {
    drip?.run.event({ eventType: 'db.lookup' });
    return { id, customer: customer ?? null };
  }
}

let app: INestApplication | undefined;
beforeEach(() => api.reset());
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start() {
  const moduleRef = await Test.createTestingModule({
    imports: [
      DripModule.forRoot({
        client,
        customer: (req) => (req.headers['x-customer'] as string | undefined) ?? null,
      }),
    ],
    controllers: [ItemsController],
  }).compile();
  app = moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
  await app.init();
  return { http: supertest(app.getHttpServer()), meter: app.get<RequestMeter>(DRIP_REQUEST_METER) };
}

describe('@drip/nestjs on NestJS 10 (Express)', () => {
  it('runs on NestJS 10', () => {
    expect(require('@nestjs/core/package.json').version).toMatch(/^10\./);
    expect(require('@nestjs/common/package.json').version).toMatch(/^10\./);
    // The adapter injects this Nest's Reflector (not the one of its own NestJS 11 devDependency).
    const tokens = Reflect.getMetadata('self:paramtypes', DripInterceptor) as Array<{ param: unknown }>;
    expect(tokens.map((t) => t.param)).toContain(Reflector);
  });

  it('meters a request per customer, with its run, events and route template', async () => {
    const { http, meter } = await start();
    const res = await http.get('/items/42').set('x-customer', 'cus_10');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: '42', customer: 'cus_10' });
    await meter.flush(5_000);
    api.expectUsage({ customerId: 'cus_10', meter: 'api_calls', quantity: 1, records: 1 });
    const run = api.expectRun({
      customerId: 'cus_10',
      status: 'COMPLETED',
      events: [{ eventType: 'db.lookup' }],
    });
    expect(JSON.stringify(run)).toContain('/items/:id');
  });

  it("applies a handler's @DripMeter and skips @SkipDrip()", async () => {
    const { http, meter } = await start();
    expect((await http.post('/items/search').set('x-customer', 'cus_s')).body).toEqual({ hits: 3 });
    expect((await http.get('/items/free').set('x-customer', 'cus_s')).body).toEqual({ free: true });
    await meter.flush(5_000);
    api.expectUsage({ customerId: 'cus_s', meter: 'searches', quantity: 5, records: 1 });
    expect(api.totalUsage({ customerId: 'cus_s', meter: 'api_calls' })).toBe(0);
    api.expectRun({ customerId: 'cus_s', count: 1, events: [{ eventType: 'search.query' }] });
  });

  it('keeps the HttpException status and records a failed run, not billed', async () => {
    const { http, meter } = await start();
    const res = await http.get('/items/missing').set('x-customer', 'cus_404');
    expect(res.status).toBe(404);
    await meter.flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_404' })).toBe(0);
    expect(api.expectRun({ customerId: 'cus_404' })).toMatchObject({
      status: 'FAILED',
      errorCode: 'NotFoundException',
    });
  });

  it('carries the request scope to deep code', async () => {
    const { http } = await start();
    expect((await http.get('/items/deep').set('x-customer', 'cus_deep')).body).toEqual({
      customer: 'cus_deep',
    });
  });
});
