import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Drip } from '@drip/core';
import { createTestDrip, type TestDrip } from '@drip/testing';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { afterEach, describe, expect, it } from 'vitest';
import { drip } from '../src/index';
import { routeOf } from './helpers';

const CUSTOMER = 'cus_acme';

let api: TestDrip;
let metering: ReturnType<typeof drip>;
let close: (() => Promise<void>) | undefined;

afterEach(async () => {
  await close?.();
  close = undefined;
  await metering?.meter.close(2_000);
});

/** A real @hono/node-server on loopback serving the app with drip() on every route. */
async function start(mount: (app: Hono) => void): Promise<string> {
  api = createTestDrip();
  metering = drip({
    client: new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch }),
    customer: (c) => c.req.header('x-user'),
  });
  const app = new Hono();
  app.use('*', metering);
  mount(app);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      if ('closeAllConnections' in server) server.closeAllConnections();
    });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('drip() on a real @hono/node-server', () => {
  it('meters a JSON route per customer; the body and status are what the handler produced', async () => {
    const base = await start((app) => {
      app.get('/items/:id', (c) => c.json({ id: c.req.param('id'), tags: ['a', 'b'] }, 203));
    });
    const res = await fetch(`${base}/items/42`, { headers: { 'x-user': CUSTOMER } });
    expect(res.status).toBe(203);
    expect(await res.text()).toBe('{"id":"42","tags":["a","b"]}');
    await metering.meter.flush(5_000);
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1 });
    const run = api.expectRun({ customerId: CUSTOMER, status: 'COMPLETED', count: 1 });
    expect(routeOf(run)).toBe('/items/:id');
  });

  it('a handler that throws: the app answers as without metering and the run FAILED names the error', async () => {
    const base = await start((app) => {
      app.get('/boom/:id', () => {
        throw new RangeError('out of stock');
      });
      app.onError((err, c) => c.json({ error: err.message }, 502));
    });
    const res = await fetch(`${base}/boom/7`, { headers: { 'x-user': CUSTOMER } });
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('{"error":"out of stock"}');
    await metering.meter.flush(5_000);
    const run = api.expectRun({ customerId: CUSTOMER, status: 'FAILED', count: 1 });
    expect(run.errorCode).toBe('RangeError');
    expect(routeOf(run)).toBe('/boom/:id');
    // 5xx is not billed by default.
    expect(api.usage.filter((u) => u.customerId === CUSTOMER)).toHaveLength(0);
  });

  it("reads request headers from Node's own object: traceparent becomes the run's correlation id", async () => {
    const base = await start((app) => {
      app.get('/items/:id', (c) => c.json({ id: c.req.param('id') }));
    });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${base}/items/5`, {
      headers: { 'x-user': CUSTOMER, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(res.status).toBe(200);
    await metering.meter.flush(5_000);
    const run = api.expectRun({ customerId: CUSTOMER, status: 'COMPLETED', count: 1 });
    expect(run.correlationId).toBe(traceId);
  });

  it('works with no arguments at all: DRIP_API_KEY and DRIP_API_URL from the environment', async () => {
    const memory = createTestDrip();
    // The in-memory API behind a real loopback socket, as a Drip server would be.
    const bridge = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: (req) => memory.handle(req), hostname: '127.0.0.1', port: 0 }, () =>
        resolve(s),
      );
    });
    const saved = { key: process.env.DRIP_API_KEY, url: process.env.DRIP_API_URL };
    process.env.DRIP_API_KEY = memory.apiKey;
    process.env.DRIP_API_URL = `http://127.0.0.1:${(bridge.address() as AddressInfo).port}`;
    const zero = drip();
    try {
      const app = new Hono();
      app.use('*', async (c, next) => {
        (c.set as (k: string, v: unknown) => void)('user', { customerId: CUSTOMER });
        await next();
      });
      app.use('*', zero);
      app.get('/items/:id', (c) => c.json({ id: c.req.param('id') }));
      expect(await (await app.request('/items/3')).json()).toEqual({ id: '3' });
      await zero.meter.close(5_000);
    } finally {
      process.env.DRIP_API_KEY = saved.key;
      process.env.DRIP_API_URL = saved.url;
      if (saved.key === undefined) delete process.env.DRIP_API_KEY;
      if (saved.url === undefined) delete process.env.DRIP_API_URL;
      await new Promise((resolve) => bridge.close(resolve));
    }
    memory.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1 });
    const run = memory.expectRun({ customerId: CUSTOMER, status: 'COMPLETED' });
    expect(routeOf(run)).toBe('/items/:id');
    const sent = memory.requests.find((r) => r.path.startsWith('/runs'));
    expect(sent?.headers['x-drip-client']).toContain('@drip/hono');
  });

  it('a client that disconnects before a slow handler answers is recorded as aborted, not billed', async () => {
    let finished!: () => void;
    const handlerDone = new Promise<void>((resolve) => {
      finished = resolve;
    });
    const base = await start((app) => {
      app.get('/slow', async (c) => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        finished();
        return c.json({ late: true });
      });
    });
    const req = httpRequest(`${base}/slow`, { headers: { 'x-user': CUSTOMER } });
    req.on('error', () => {});
    req.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
    req.destroy();
    await handlerDone;
    await new Promise((resolve) => setTimeout(resolve, 50));
    await metering.meter.flush(5_000);
    expect(api.usage).toHaveLength(0);
    expect(api.runs).toHaveLength(1);
    expect(api.runs[0]?.status).toBe('CANCELLED');
  });

  it('a plain ReadableStream body (no streaming headers) is metered when its last chunk is written', async () => {
    const base = await start((app) => {
      app.get('/export/:n', (c) => {
        const n = Number(c.req.param('n'));
        const run = c.get('drip')?.run;
        let i = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (i === n) {
              controller.close();
              return;
            }
            await new Promise((resolve) => setTimeout(resolve, 40));
            run?.event({ eventType: 'export.chunk', index: i });
            controller.enqueue(new TextEncoder().encode(`row ${i++}\n`));
          },
        });
        return new Response(body, { headers: { 'content-type': 'text/plain' } });
      });
    });
    const res = await fetch(`${base}/export/4`, { headers: { 'x-user': CUSTOMER } });
    expect(await res.text()).toBe('row 0\nrow 1\nrow 2\nrow 3\n');
    await metering.meter.flush(5_000);
    // Every chunk's event was emitted before the run ended, so the run carries all four.
    const run = api.expectRun({ customerId: CUSTOMER, status: 'COMPLETED', events: 4 });
    expect(Date.parse(String(run.endedAt)) - Date.parse(String(run.startedAt))).toBeGreaterThanOrEqual(150);
  });

  it('an SSE stream is metered when it ends; one cut by the client is aborted and not billed', async () => {
    const base = await start((app) => {
      app.get('/events/:n', (c) =>
        streamSSE(c, async (stream) => {
          const n = Number(c.req.param('n'));
          for (let i = 0; i < n && !stream.aborted; i++) {
            await stream.writeSSE({ data: String(i) });
            c.get('drip')?.run.event({ eventType: 'stream.chunk', index: i });
            await stream.sleep(5);
          }
        }),
      );
    });
    const full = await fetch(`${base}/events/3`, { headers: { 'x-user': CUSTOMER } });
    expect(await full.text()).toBe('data: 0\n\ndata: 1\n\ndata: 2\n\n');

    const cut = new AbortController();
    const partial = await fetch(`${base}/events/200`, {
      headers: { 'x-user': 'cus_cut' },
      signal: cut.signal,
    });
    const reader = partial.body!.getReader();
    await reader.read();
    cut.abort();
    await reader.cancel().catch(() => {});
    // The server sees the disconnect asynchronously: wait (bounded) until both requests have ended.
    for (let i = 0; i < 100 && (metering.meter.stats().pipeline?.metered ?? 0) < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await metering.meter.flush(5_000);

    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1 });
    api.expectRun({ customerId: CUSTOMER, status: 'COMPLETED', events: 3 });
    expect(api.totalUsage({ customerId: 'cus_cut' })).toBe(0);
    const cutRun = api.expectRun({ customerId: 'cus_cut', count: 1 });
    expect(cutRun.status).toBe('CANCELLED');
  });
});
