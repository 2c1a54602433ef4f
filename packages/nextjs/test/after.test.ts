import { Drip } from '@drip/core';
import { createTestDrip } from '@drip/testing';
import { beforeEach, describe, expect, it, vi } from 'vitest';

// Next's after() as the App Router provides it inside a request: callbacks run once the response is over.
const callbacks: Array<() => unknown> = [];
vi.mock('next/server', () => ({
  after: (task: () => unknown) => {
    callbacks.push(task);
  },
}));

const { dripMeter, withDrip } = await import('../src/index');

const api = createTestDrip();
const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
const get = (method = 'GET') =>
  new Request('http://app.test/api/items/7', { method, headers: { 'x-customer': 'cus_after' } });
const ctx = { params: Promise.resolve({ id: '7' }) };

beforeEach(() => {
  api.reset();
  callbacks.length = 0;
});

/** Options whose outbox sends on its own every `flushIntervalMs`. */
const withInterval = (flushIntervalMs: number) => ({
  client,
  customer: (req: Request) => req.headers.get('x-customer'),
  outbox: { flushIntervalMs },
});

describe('delivery through after()', () => {
  it('on a long-running server, the after() callback waits for delivery on the outbox schedule, sending nothing now', async () => {
    // `next start`: no platform `waitUntil`. A send per request would cost a bulk request per few requests;
    // the callback's promise (which Next's shutdown waits for) lasts until the batch with the records is out.
    const opts = withInterval(300);
    const GET = withDrip(async () => Response.json({ ok: true }), opts);
    await (await GET(get(), ctx)).json();
    let done = false;
    const waited = Promise.resolve(callbacks[0]?.()).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toBe(false);
    expect(api.requests.filter((r) => r.path !== '/health')).toHaveLength(0);
    await waited;
    api.expectUsage({ customerId: 'cus_after', meter: 'api_calls', quantity: 1, records: 1 });
    api.expectRun({ customerId: 'cus_after', status: 'COMPLETED' });
  });

  it('on a serverless platform (it publishes waitUntil), the after() callback sends the records at once', async () => {
    const key = Symbol.for('@next/request-context');
    const platform: Promise<unknown>[] = [];
    (globalThis as Record<symbol, unknown>)[key] = {
      get: () => ({ waitUntil: (p: Promise<unknown>) => platform.push(p) }),
    };
    try {
      const opts = withInterval(60_000);
      const GET = withDrip(async () => Response.json({ ok: true }), opts);
      await (await GET(get(), ctx)).json();
      await callbacks[0]?.();
      // Delivered when the callback's promise settled, long before the outbox's own interval.
      api.expectUsage({ customerId: 'cus_after', meter: 'api_calls', quantity: 1, records: 1 });
      api.expectRun({ customerId: 'cus_after', status: 'COMPLETED' });
    } finally {
      delete (globalThis as Record<symbol, unknown>)[key];
    }
  });

  it('registers one after() callback and sends nothing before the response', async () => {
    const opts = { client, customer: (req: Request) => req.headers.get('x-customer') };
    const GET = withDrip(async () => Response.json({ ok: true }), opts);
    const res = await GET(get(), ctx);
    expect(callbacks).toHaveLength(1);
    // Nothing was sent before the response.
    expect(api.requests.filter((r) => r.path !== '/health')).toHaveLength(0);
    expect(await res.json()).toEqual({ ok: true });
    await callbacks[0]?.();
    await dripMeter(opts).flush(5_000);
    api.expectUsage({ customerId: 'cus_after', meter: 'api_calls', quantity: 1, records: 1 });
    api.expectRun({ customerId: 'cus_after', status: 'COMPLETED' });
  });

  it('ends a request whose body Next never read (HEAD) when after() runs', async () => {
    const opts = { client, customer: (req: Request) => req.headers.get('x-customer') };
    const GET = withDrip(async () => Response.json({ big: 'x'.repeat(1000) }), opts);
    const res = await GET(get('HEAD'), ctx);
    expect(res.status).toBe(200);
    await dripMeter(opts).flush(5_000);
    expect(api.usage).toHaveLength(0); // not ended yet: the body is unread
    await callbacks[0]?.();
    await dripMeter(opts).flush(5_000);
    api.expectUsage({ customerId: 'cus_after', meter: 'api_calls', quantity: 1, records: 1 });
    api.expectRun({ customerId: 'cus_after', status: 'COMPLETED' });
  });

  it('returns the handler response itself and ends the request when after() runs', async () => {
    const opts = { client, customer: (req: Request) => req.headers.get('x-customer') };
    const made = Response.json({ ok: true });
    const GET = withDrip(async () => made, opts);
    const res = await GET(get(), ctx);
    // No stream wrapper inside Next: the response object is the handler's own.
    expect(res).toBe(made);
    expect(await res.json()).toEqual({ ok: true });
    await dripMeter(opts).flush(5_000);
    expect(api.usage).toHaveLength(0); // Next has not reported the response over yet
    await callbacks[0]?.();
    await dripMeter(opts).flush(5_000);
    api.expectUsage({ customerId: 'cus_after', meter: 'api_calls', quantity: 1, records: 1 });
    api.expectRun({ customerId: 'cus_after', status: 'COMPLETED' });
  });

  it('records the request as aborted when the client left before the response was over', async () => {
    const opts = { client, customer: (req: Request) => req.headers.get('x-customer') };
    const GET = withDrip(async () => Response.json({ ok: true }), opts);
    // Next aborts the request's signal when the connection closes before the response finished.
    const left = new AbortController();
    const req = new Request('http://app.test/api/items/7', {
      headers: { 'x-customer': 'cus_left' },
      signal: left.signal,
    });
    await GET(req, ctx);
    left.abort();
    await callbacks[0]?.();
    await dripMeter(opts).flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_left' })).toBe(0);
    expect(api.expectRun({ customerId: 'cus_left' }).status).toBe('CANCELLED');
  });
});
