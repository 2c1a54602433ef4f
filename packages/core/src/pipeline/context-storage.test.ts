import { createTestDrip } from '@drip/testing';
import { describe, expect, it } from 'vitest';
import { Drip } from '../client';
import { createNodeContextStorage } from '../node';
import { getCurrentRun, getDripContext, setDripContextStorage } from './context-storage';
import { createRequestMeter } from './request-meter';
import type { BeginResult } from './types';

async function deepCode(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1));
  getCurrentRun()?.event({ eventType: 'tool.call', name: 'search' });
  getDripContext()?.usage('searches', 2);
}

describe('request scope', () => {
  it('reaches the run from deep async code through AsyncLocalStorage (node entry)', async () => {
    const api = createTestDrip();
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
    const meter = createRequestMeter({
      client,
      customer: () => 'cus_ctx',
      outbox: { shutdownHooks: false, flushIntervalMs: 1 },
    });
    const results = [0, 1].map(
      () => meter.begin({ method: 'GET', path: '/x', header: () => undefined, raw: {} }) as BeginResult,
    );
    // Two interleaved requests keep their own contexts.
    await Promise.all(
      results.map(async (r, i) => {
        if (r.kind !== 'continue') throw new Error('expected continue');
        await r.handle.run(async () => {
          expect(getDripContext()).toBe(r.context);
          if (i === 0) await deepCode();
        });
        r.handle.finish({ status: 200 });
      }),
    );
    expect(getCurrentRun()).toBeUndefined();
    await meter.flush(5_000);
    api.expectUsage({ customerId: 'cus_ctx', meter: 'searches', quantity: 2, records: 1 });
    api.expectRun({ workflow: 'get-x', events: [{ eventType: 'tool.call', name: 'search' }], count: 1 });
    api.expectRun({ workflow: 'get-x', events: 0, count: 1 });
  });

  it('without a store the handler still runs and the context is passed explicitly', () => {
    setDripContextStorage(undefined);
    try {
      const meter = createRequestMeter({ customer: () => 'c', outbox: { shutdownHooks: false } });
      const r = meter.begin({ method: 'GET', path: '/x', header: () => undefined, raw: {} }) as BeginResult;
      if (r.kind !== 'continue') throw new Error('expected continue');
      expect(r.handle.run(() => getDripContext())).toBeUndefined();
      expect(r.context.customerId).toBe('c');
    } finally {
      setDripContextStorage(createNodeContextStorage());
    }
  });

  it('asyncContext: false skips the scope but keeps the explicit context', () => {
    const meter = createRequestMeter({
      customer: () => 'c',
      asyncContext: false,
      outbox: { shutdownHooks: false },
    });
    const r = meter.begin({ method: 'GET', path: '/x', header: () => undefined, raw: {} }) as BeginResult;
    if (r.kind !== 'continue') throw new Error('expected continue');
    expect(r.handle.run(() => getDripContext())).toBeUndefined();
    expect(r.handle.run(() => 42)).toBe(42);
    expect(r.context.run.externalRunId).toBe(`mw:c:${r.context.requestId}`);
    const on = createRequestMeter({ customer: () => 'c', outbox: { shutdownHooks: false } });
    const r2 = on.begin({ method: 'GET', path: '/x', header: () => undefined, raw: {} }) as BeginResult;
    if (r2.kind !== 'continue') throw new Error('expected continue');
    expect(r2.handle.run(() => getDripContext())).toBe(r2.context);
  });
});
