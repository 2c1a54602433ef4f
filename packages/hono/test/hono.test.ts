import { Drip } from '@drip/core';
import { createTestDrip, type TestDrip } from '@drip/testing';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { streamSSE } from 'hono/streaming';
import { afterEach, describe, expect, it } from 'vitest';
import { type DripHonoOptions, drip } from '../src/index';
import { routeOf } from './helpers';

const CUSTOMER = 'cus_acme';

let api: TestDrip;
let metering: ReturnType<typeof drip> | undefined;

afterEach(async () => {
  await metering?.meter.close(2_000);
  metering = undefined;
});

function meter(options: DripHonoOptions = {}) {
  api = createTestDrip();
  const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
  metering = drip({ client, ...options });
  return metering;
}

/** An app whose auth layer sets `c.get('user')` from `x-user`, then the routes under test. */
function appWith(mount?: (app: Hono) => void): Hono {
  const app = new Hono();
  app.use('*', async (c, next) => {
    const user = c.req.header('x-user');
    if (user !== undefined) (c.set as (k: string, v: unknown) => void)('user', { customerId: user });
    await next();
  });
  mount?.(app);
  app.get('/items/:id', (c) => {
    c.header('x-handler', 'items');
    return c.json({ id: c.req.param('id'), name: `Item ${c.req.param('id')}` });
  });
  app.post('/agent', (c) => {
    const d = c.get('drip');
    d?.run.event({ eventType: 'llm.call', model: 'gpt-4o-mini', inputTokens: 10, outputTokens: 30 });
    d?.run.event({ eventType: 'tool.call', name: 'web-search', duration: 12 });
    d?.usage('llm_tokens', 25);
    d?.usage('llm_tokens', 15);
    return c.json({ answer: 'ok' }, 201);
  });
  app.get('/fail', () => {
    throw new TypeError('handler broke');
  });
  app.get('/teapot', () => {
    throw new HTTPException(418, { message: 'short and stout' });
  });
  return app;
}

async function flush(): Promise<void> {
  await metering?.meter.flush(5_000);
}

async function snapshot(res: Response) {
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

/**
 * What a server does with a response: reads its body to the end (the request is metered when its body
 * has been delivered, on every runtime). Reading a clone pulls the original through.
 */
async function served(pending: Response | Promise<Response>): Promise<Response> {
  const res = await pending;
  await res.clone().arrayBuffer();
  return res;
}

describe('drip() through app.request()', () => {
  it('meters a request per customer with the default meter and a completed run, response untouched', async () => {
    const metered = appWith((a) => a.use('*', meter()));
    const bare = appWith();
    const got = await metered.request('/items/42', { headers: { 'x-user': CUSTOMER } });
    const want = await bare.request('/items/42', { headers: { 'x-user': CUSTOMER } });
    expect(got.headers.get('x-handler')).toBe('items');
    expect(await snapshot(got)).toEqual(await snapshot(want));
    await flush();
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1, records: 1 });
    const run = api.expectRun({ customerId: CUSTOMER, status: 'COMPLETED', count: 1 });
    expect(routeOf(run)).toBe('/items/:id');
  });

  it('records handler events and sums extra usage per meter', async () => {
    const app = appWith((a) => a.use('*', meter()));
    const res = await served(app.request('/agent', { method: 'POST', headers: { 'x-user': CUSTOMER } }));
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ answer: 'ok' });
    await flush();
    api.expectUsage({ customerId: CUSTOMER, meter: 'llm_tokens', quantity: 40 });
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1 });
    api.expectRun({
      customerId: CUSTOMER,
      status: 'COMPLETED',
      events: [
        { eventType: 'llm.call', model: 'gpt-4o-mini', inputTokens: 10, outputTokens: 30 },
        { eventType: 'tool.call', name: 'web-search', duration: 12 },
      ],
    });
  });

  it('reads the template of a route in a sub-app, never the concrete path', async () => {
    const sub = new Hono();
    sub.get('/items/:id', (c) => c.json({ id: c.req.param('id') }));
    const app = appWith((a) => {
      a.use('/api/*', meter());
      a.route('/api/v1', sub);
    });
    for (const id of ['42', '43']) {
      expect(
        (await served(app.request(`/api/v1/items/${id}`, { headers: { 'x-user': CUSTOMER } }))).status,
      ).toBe(200);
    }
    await flush();
    expect(api.runs.map(routeOf)).toEqual(['/api/v1/items/:id', '/api/v1/items/:id']);
  });

  it('falls back to the normalised path when no route matched (404)', async () => {
    const app = appWith((a) => a.use('*', meter()));
    const res = await served(app.request('/nowhere/123', { headers: { 'x-user': CUSTOMER } }));
    expect(res.status).toBe(404);
    await flush();
    expect(api.usage).toHaveLength(0);
    expect(api.runs.map(routeOf)).toEqual(['/nowhere/:id']);
  });

  it('meters once when registered twice on overlapping paths', async () => {
    const mw = meter();
    const app = appWith((a) => {
      a.use('*', mw);
      a.use('/items/*', mw);
    });
    expect((await served(app.request('/items/1', { headers: { 'x-user': CUSTOMER } }))).status).toBe(200);
    await flush();
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1, records: 1 });
    expect(api.runs).toHaveLength(1);
  });

  it('fails the run with the error name when a handler throws, not billed; the 500 is unchanged', async () => {
    const metered = appWith((a) => a.use('*', meter()));
    const bare = appWith();
    const got = await metered.request('/fail', { headers: { 'x-user': CUSTOMER } });
    const want = await bare.request('/fail', { headers: { 'x-user': CUSTOMER } });
    expect(got.status).toBe(500);
    expect(await snapshot(got)).toEqual(await snapshot(want));
    await flush();
    expect(api.totalUsage()).toBe(0);
    const run = api.expectRun({ customerId: CUSTOMER, status: 'FAILED', count: 1 });
    expect(run.errorCode).toBe('TypeError');
    expect(routeOf(run)).toBe('/fail');
  });

  it('an HTTPException keeps its status and body', async () => {
    const app = appWith((a) => a.use('*', meter()));
    const res = await served(app.request('/teapot', { headers: { 'x-user': CUSTOMER } }));
    expect(res.status).toBe(418);
    expect(await res.text()).toBe('short and stout');
    await flush();
    expect(api.totalUsage()).toBe(0);
  });

  it('applies the per-route table by template, and a gate refusal is JSON with the chosen status', async () => {
    let ran = 0;
    const app = appWith((a) =>
      a.use(
        '*',
        meter({
          routes: { 'POST /agent': { meter: 'agent_calls', workflow: 'agent' } },
          gate: {
            check: ({ customerId }) =>
              customerId === 'cus_broke'
                ? {
                    allow: false,
                    status: 402,
                    body: { error: 'Top up first' },
                    headers: { 'retry-after': '60' },
                  }
                : { allow: true },
          },
        }),
      ),
    );
    app.get('/count', (c) => {
      ran++;
      return c.json({ ran });
    });
    const refused = await served(app.request('/count', { headers: { 'x-user': 'cus_broke' } }));
    expect(refused.status).toBe(402);
    expect(refused.headers.get('content-type')).toMatch(/application\/json/);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(await refused.json()).toEqual({ error: 'Top up first' });
    expect(ran).toBe(0);
    expect(
      (await served(app.request('/agent', { method: 'POST', headers: { 'x-user': CUSTOMER } }))).status,
    ).toBe(201);
    await flush();
    expect(api.totalUsage({ customerId: 'cus_broke' })).toBe(0);
    api.expectUsage({ customerId: CUSTOMER, meter: 'agent_calls', quantity: 1 });
    api.expectRun({ customerId: CUSTOMER, workflow: 'agent', status: 'COMPLETED', count: 1 });
  });

  it('a trusted idempotency header makes a replayed request bill once', async () => {
    const app = appWith((a) => a.use('*', meter({ idempotencyHeader: 'Idempotency-Key' })));
    for (const key of ['order-77', 'order-77', 'order-78']) {
      const res = await served(
        app.request('/items/1', { headers: { 'x-user': CUSTOMER, 'idempotency-key': key } }),
      );
      expect(res.status).toBe(200);
    }
    await flush();
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 2, records: 2 });
  });

  describe('unidentified requests', () => {
    it('skip (default): served untouched, nothing recorded, c.get("drip") absent', async () => {
      let seen: unknown = 'unset';
      const app = new Hono();
      app.use('*', meter());
      app.get('/x', (c) => {
        seen = c.get('drip');
        return c.json({ ok: true });
      });
      const res = await served(app.request('/x'));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
      expect(seen).toBeUndefined();
      await flush();
      expect(api.usage).toHaveLength(0);
      expect(api.runs).toHaveLength(0);
    });

    it('reject: a JSON 401 from the pipeline, the handler never runs', async () => {
      let ran = false;
      const app = new Hono();
      app.use('*', meter({ unidentified: 'reject' }));
      app.get('/x', (c) => {
        ran = true;
        return c.json({});
      });
      const res = await served(app.request('/x'));
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(await res.json()).toEqual(expect.any(Object));
      expect(ran).toBe(false);
    });

    it('anonymous: metered under the anonymous customer', async () => {
      const app = appWith((a) => a.use('*', meter({ unidentified: 'anonymous' })));
      expect((await served(app.request('/items/1'))).status).toBe(200);
      await flush();
      expect(api.usage).toHaveLength(1);
      expect(api.usage[0]?.meter).toBe('api_calls');
    });
  });

  it('a resolver that throws leaves the response untouched and bills nothing', async () => {
    const app = appWith((a) =>
      a.use(
        '*',
        meter({
          customer: () => {
            throw new Error('resolver broke');
          },
        }),
      ),
    );
    const res = await served(app.request('/items/5', { headers: { 'x-user': CUSTOMER } }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: '5', name: 'Item 5' });
    await flush();
    expect(api.usage).toHaveLength(0);
  });

  it('keeps serving while the Drip API is unreachable, and delivers once it is back', async () => {
    const app = appWith((a) => a.use('*', meter()));
    api.down();
    for (let i = 0; i < 5; i++) {
      const res = await served(app.request(`/items/${i}`, { headers: { 'x-user': CUSTOMER } }));
      expect(await res.json()).toEqual({ id: String(i), name: `Item ${i}` });
    }
    await metering?.meter.flush(200);
    expect(api.usage).toHaveLength(0);
    api.up();
    await metering?.meter.flush(10_000);
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 5 });
    expect(api.runs).toHaveLength(5);
  });

  it('hands delivery to executionCtx.waitUntil when the platform has one', async () => {
    const app = appWith((a) => a.use('*', meter()));
    const waited: Promise<unknown>[] = [];
    const executionCtx = {
      waitUntil: (p: Promise<unknown>) => {
        waited.push(p);
      },
      passThroughOnException: () => {},
      props: {},
    };
    const res = await served(app.request('/items/9', { headers: { 'x-user': CUSTOMER } }, {}, executionCtx));
    expect(res.status).toBe(200);
    expect(waited.length).toBeGreaterThan(0);
    await Promise.all(waited); // what the Workers runtime does after the response
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1 });
    expect(api.runs).toHaveLength(1);
  });

  it('an SSE stream is metered when it ends', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const app = appWith((a) => {
      a.use('*', meter());
      a.get('/events', (c) =>
        streamSSE(c, async (stream) => {
          await stream.writeSSE({ data: 'one' });
          c.get('drip')?.run.event({ eventType: 'stream.chunk' });
          await gate;
          await stream.writeSSE({ data: 'two' });
          c.get('drip')?.run.event({ eventType: 'stream.chunk' });
        }),
      );
    });
    const res = await app.request('/events', { headers: { 'x-user': CUSTOMER } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    await flush();
    expect(api.usage).toHaveLength(0);
    expect(api.runs).toHaveLength(0);
    release();
    for (let i = 0; i < 100; i++) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value);
    }
    expect(text).toBe('data: one\n\ndata: two\n\n');
    await flush();
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1 });
    api.expectRun({
      status: 'COMPLETED',
      events: [{ eventType: 'stream.chunk' }, { eventType: 'stream.chunk' }],
    });
  });

  it('a stream the client cancels is recorded as aborted and not billed', async () => {
    const app = appWith((a) => {
      a.use('*', meter());
      a.get('/events', (c) =>
        streamSSE(c, async (stream) => {
          for (let i = 0; i < 50 && !stream.aborted; i++) {
            await stream.writeSSE({ data: String(i) });
            await stream.sleep(5);
          }
        }),
      );
    });
    const res = await app.request('/events', { headers: { 'x-user': CUSTOMER } });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    await flush();
    expect(api.usage).toHaveLength(0);
    expect(api.runs).toHaveLength(1);
    expect(api.runs[0]?.status).toBe('CANCELLED');
  });
});
