import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Drip } from '@drip/core';
import { createTestDrip } from '@drip/testing';
import type { INestApplication } from '@nestjs/common';
import supertest from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { boot, controllers, type DripExports, meterOf } from './fixtures';

// The published build (tsdown, no emitted decorator metadata) loaded the way a CommonJS Nest app loads it.
const distFile = new URL('../dist/index.cjs', import.meta.url);

describe('the built dist', () => {
  let app: INestApplication | undefined;
  afterAll(async () => {
    await app?.close();
  });

  it('exists (turbo builds it before the tests; `pnpm -F @drip/nestjs build` otherwise)', () => {
    expect(existsSync(distFile)).toBe(true);
  });

  it.each(['express', 'fastify'] as const)('meters a request on %s', async (platform) => {
    const dist = createRequire(import.meta.url)(distFile.pathname) as DripExports;
    const api = createTestDrip();
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
    const { Items } = controllers(dist);
    await app?.close();
    app = await boot(platform, dist.DripModule.forRoot({ client }), [Items]);
    const res = await supertest(app.getHttpServer()).post('/items/search').set('x-customer', 'cus_dist');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ hits: 3 });
    await meterOf(app, dist).flush(5_000);
    api.expectUsage({ customerId: 'cus_dist', meter: 'searches', quantity: 5 });
    api.expectRun({ customerId: 'cus_dist', status: 'COMPLETED', events: [{ eventType: 'search.query' }] });
  });
});
