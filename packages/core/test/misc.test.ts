import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Drip } from '../src/client';
import { DripError, createDripError, isDripError } from '../src/errors';
import { drip, getDrip, resetDrip } from '../src/singleton';
import { VERSION } from '../src/version';
import { makeClient } from './helpers';

const here = dirname(fileURLToPath(import.meta.url));

describe('version', () => {
  it('VERSION matches package.json', () => {
    const pkg = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});

describe('lazy drip singleton', () => {
  it('reads the environment on first use, not at import; shared on globalThis', async () => {
    const saved = { k: process.env.DRIP_API_KEY, u: process.env.DRIP_API_URL };
    resetDrip();
    delete process.env.DRIP_API_KEY;
    try {
      expect(() => drip.keyType).toThrow(expect.objectContaining({ code: 'CONFIGURATION_ERROR' }));
      process.env.DRIP_API_KEY = 'pk_live_0123456789';
      process.env.DRIP_API_URL = 'http://127.0.0.1:9/';
      expect(drip.keyType).toBe('public');
      expect(drip.mode).toBe('live');
      expect(drip.baseUrl).toBe('http://127.0.0.1:9/v1');
      expect(getDrip()).toBe((globalThis as Record<symbol, unknown>)[Symbol.for('drip.client')]);
      expect(typeof drip.nextIdempotencyKey('x')).toBe('string');
    } finally {
      resetDrip();
      if (saved.k === undefined) delete process.env.DRIP_API_KEY;
      else process.env.DRIP_API_KEY = saved.k;
      if (saved.u === undefined) delete process.env.DRIP_API_URL;
      else process.env.DRIP_API_URL = saved.u;
    }
  });
});

describe('errors', () => {
  it('isDripError recognises errors from another copy (brand, not instanceof)', () => {
    class Foreign extends Error {}
    const foreign = new Foreign('x');
    Object.defineProperty(Foreign.prototype, Symbol.for('drip.error'), { value: true });
    expect(isDripError(foreign)).toBe(true);
    expect(isDripError(new Error('x'))).toBe(false);
    expect(isDripError(null)).toBe(false);
    expect(isDripError({ code: 'X', statusCode: 1 })).toBe(false);
  });

  it('isDripError works across the built ESM and CJS copies, which also share the key sequence', async () => {
    const dist = join(here, '..', 'dist');
    const esm = (await import(join(dist, 'index.js'))) as typeof import('../src/index');
    const cjs = createRequire(import.meta.url)(join(dist, 'index.cjs')) as typeof import('../src/index');
    const e = createDripError({ statusCode: 404, code: 'X', message: 'm' });
    expect(cjs.isDripError(e)).toBe(true);
    expect(esm.isDripError(cjs.createDripError({ statusCode: 500, code: 'Y', message: 'm' }))).toBe(true);
    expect(e instanceof cjs.DripError).toBe(false); // why the brand exists
    const a = esm.generateIdempotencyKey('p');
    const b = cjs.generateIdempotencyKey('p');
    const [, idA, nA] = a.split('_');
    const [, idB, nB] = b.split('_');
    expect(idA).toBe(idB);
    expect(Number.parseInt(nB!, 36)).toBe(Number.parseInt(nA!, 36) + 1);
  });

  it('carries message, statusCode, code, requestId, data, cause', () => {
    const cause = new Error('root');
    const e = new DripError('m', 418, 'TEAPOT', { a: 1 }, 'req_1', cause);
    expect(e).toMatchObject({
      message: 'm',
      statusCode: 418,
      code: 'TEAPOT',
      requestId: 'req_1',
      data: { a: 1 },
    });
    expect(e.cause).toBe(cause);
    expect(JSON.stringify(e)).toContain('TEAPOT');
  });
});

describe('wrapApiCall (spec §4, §9 row 9)', () => {
  it('runs call() once, generates the key before it, charges what extractUsage returns', async () => {
    const order: string[] = [];
    const { client, calls } = makeClient(
      [{ status: 201, body: { success: true, usageEventId: 'u', isDuplicate: false, charge: null } }],
      {
        idempotencyKeyFactory: (p) => {
          order.push(`key:${p}`);
          return `${p}-1`;
        },
      },
    );
    const res = await client.wrapApiCall({
      customerId: 'cus_1',
      meter: 'llm_tokens',
      call: () => {
        order.push('call');
        return { tokens: 42 };
      },
      extractUsage: (r) => r.tokens,
    });
    expect(order).toEqual(['key:wrap', 'call']);
    expect(res.result).toEqual({ tokens: 42 });
    expect(res.idempotencyKey).toBe('wrap-1');
    expect(calls[0]!.body).toEqual({
      customerId: 'cus_1',
      usageType: 'llm_tokens',
      quantity: 42,
      idempotencyKey: 'wrap-1',
    });
  });
  it('a throwing call() is never retried and nothing is charged', async () => {
    let n = 0;
    const { client, calls } = makeClient([{ status: 201, body: {} }]);
    await expect(
      client.wrapApiCall({
        customerId: 'c',
        meter: 'm',
        call: () => {
          n += 1;
          throw new Error('upstream');
        },
        extractUsage: () => 1,
      }),
    ).rejects.toThrow('upstream');
    expect(n).toBe(1);
    expect(calls).toHaveLength(0);
  });
  it('an invalid extracted quantity is a validation error; retryOptions bound the single retry layer', async () => {
    const a = makeClient([{ status: 201, body: {} }]);
    await expect(
      a.client.wrapApiCall({ customerId: 'c', meter: 'm', call: () => 1, extractUsage: () => Number.NaN }),
    ).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
    });
    const b = makeClient([{ status: 503, body: { error: 'x', code: 'SERVICE_UNAVAILABLE' } }]);
    await expect(
      b.clock.run(
        b.client.wrapApiCall({
          customerId: 'c',
          meter: 'm',
          call: () => 1,
          extractUsage: () => 1,
          retryOptions: { maxAttempts: 2 },
        }),
      ),
    ).rejects.toMatchObject({ statusCode: 503 });
    expect(b.calls).toHaveLength(2);
  });
});

describe('Drip exposes the static webhook helpers', () => {
  it('has verify, generate and construct', () => {
    expect(typeof Drip.verifyWebhookSignature).toBe('function');
    expect(typeof Drip.generateWebhookSignature).toBe('function');
    expect(typeof Drip.constructWebhookEvent).toBe('function');
  });
});
