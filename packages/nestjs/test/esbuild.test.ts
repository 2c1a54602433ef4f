import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Drip, type RequestMeter } from '@drip/core';
import { createTestDrip } from '@drip/testing';
import type { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { build } from 'esbuild';
import supertest from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';

// An app and the adapter compiled by esbuild (no decorator metadata), Nest and core loaded as packages.
describe('an app compiled by esbuild', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'drip-nest-esbuild-'));
  let app: INestApplication | undefined;
  afterAll(async () => {
    await app?.close();
    rmSync(outDir, { recursive: true, force: true });
  });

  it('injects, meters and records the run without design:paramtypes', async () => {
    const outfile = join(outDir, 'app.cjs');
    await build({
      entryPoints: [fileURLToPath(new URL('./esbuild-app.fixture.ts', import.meta.url))],
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile,
      tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)),
      logLevel: 'silent',
    });
    // Resolve the app's imports from this package (the built @drip/nestjs dist, Nest, rxjs).
    const load = createRequire(fileURLToPath(new URL('../package.json', import.meta.url)));
    const Module = load('node:module') as { _resolveFilename: (...args: unknown[]) => string };
    const original = Module._resolveFilename;
    Module._resolveFilename = function (request: unknown, parent: unknown, ...rest: unknown[]) {
      try {
        return original.call(this, request, parent, ...rest);
      } catch {
        return load.resolve(String(request));
      }
    };
    let exports: { EsbuildAppModule: { register(client: unknown): DynamicModule }; PricesController: object };
    try {
      exports = load(outfile);
    } finally {
      Module._resolveFilename = original;
    }
    expect(Reflect.getMetadata('design:paramtypes', exports.PricesController)).toBeUndefined();

    const api = createTestDrip();
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
    app = await NestFactory.create(exports.EsbuildAppModule.register(client), { logger: false });
    await app.init();
    const res = await supertest(app.getHttpServer()).get('/prices/abc');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: 'abc', price: 30 });
    await app.get<RequestMeter>('DRIP_REQUEST_METER').flush(5_000);
    api.expectUsage({ customerId: 'cus_esbuild', meter: 'price_lookups', quantity: 2 });
    api.expectRun({
      customerId: 'cus_esbuild',
      status: 'COMPLETED',
      events: [{ eventType: 'price.lookup', item: 'abc' }],
    });
  });
});
