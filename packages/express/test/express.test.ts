import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Drip } from '@drip/core';
import { createTestDrip, type TestDrip } from '@drip/testing';
import express5, { type IRouter } from 'express';
import express4 from 'express4';
import supertest from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { type DripExpressOptions, dripErrorHandler, dripMiddleware, getDripContext } from '../src/index';
import { routeOf } from './helpers';

type ExpressFactory = typeof express5;
type App = ReturnType<ExpressFactory>;

const versions: [string, ExpressFactory][] = [
  ['Express 5', express5],
  ['Express 4', express4 as unknown as ExpressFactory],
];

const CUSTOMER = 'cus_acme';

describe.each(versions)('%s', (_label, express) => {
  let api: TestDrip;
  let metering: ReturnType<typeof dripMiddleware> | undefined;
  const servers: Server[] = [];

  afterEach(async () => {
    await metering?.meter.close(2_000);
    metering = undefined;
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  /** The adapter under test, delivering to the in-memory API. */
  function drip(options: DripExpressOptions = {}) {
    api = createTestDrip();
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
    metering = dripMiddleware({ client, ...options });
    return metering;
  }

  /** An app whose auth layer sets `req.user` from `x-user`, like passport would. */
  function appWith(mount: (app: App) => void): App {
    const app = express();
    app.use((req, _res, next) => {
      const user = req.header('x-user');
      if (user !== undefined) (req as typeof req & { user?: unknown }).user = { customerId: user };
      next();
    });
    mount(app);
    return app;
  }

  function routes(app: IRouter): void {
    app.get('/items/:id', (req, res) => {
      res.set('x-handler', 'items').json({ id: req.params.id, name: `Item ${req.params.id}` });
    });
    app.post('/agent', (req, res) => {
      req.drip?.run.event({ eventType: 'llm.call', model: 'gpt-4o-mini', inputTokens: 10, outputTokens: 30 });
      getDripContext(req)?.run.event({ eventType: 'tool.call', name: 'web-search', duration: 12 });
      req.drip?.usage('llm_tokens', 25);
      req.drip?.usage('llm_tokens', 15);
      res.status(201).json({ answer: 'ok' });
    });
    app.get('/fail', () => {
      throw new TypeError('handler broke');
    });
    app.get('/boom/:name', () => {
      throw new TypeError('handler broke');
    });
    app.get('/missing', (_req, res) => {
      res.status(404).json({ error: 'not found' });
    });
  }

  async function flush(): Promise<void> {
    await metering?.meter.flush(5_000);
  }

  it('meters a request per customer with the default meter and a completed run, response untouched', async () => {
    const metered = appWith((app) => {
      app.use(drip());
      routes(app);
    });
    const bare = appWith((app) => routes(app));

    const got = await supertest(metered).get('/items/42').set('x-user', CUSTOMER);
    const want = await supertest(bare).get('/items/42').set('x-user', CUSTOMER);
    expect(got.status).toBe(want.status);
    expect(got.text).toBe(want.text);
    expect(got.headers['content-type']).toBe(want.headers['content-type']);
    expect(got.headers['x-handler']).toBe('items');

    await flush();
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1, records: 1 });
    const run = api.expectRun({ customerId: CUSTOMER, status: 'COMPLETED', count: 1 });
    expect(routeOf(run)).toBe('/items/:id');
  });

  it('works with no arguments at all: DRIP_API_KEY and DRIP_API_URL from the environment', async () => {
    const memory = createTestDrip();
    // The in-memory API behind a real loopback socket, as a Drip server would be.
    const bridge = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
      const answer = await memory.handle(
        new Request(`http://127.0.0.1${req.url}`, {
          method: req.method,
          headers,
          body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
        }),
      );
      res.writeHead(answer.status, Object.fromEntries(answer.headers));
      res.end(Buffer.from(await answer.arrayBuffer()));
    });
    servers.push(bridge);
    bridge.listen(0, '127.0.0.1');
    await once(bridge, 'listening');
    const saved = { key: process.env.DRIP_API_KEY, url: process.env.DRIP_API_URL };
    process.env.DRIP_API_KEY = memory.apiKey;
    process.env.DRIP_API_URL = `http://127.0.0.1:${(bridge.address() as AddressInfo).port}`;
    try {
      const mw = dripMiddleware();
      metering = mw;
      const app = appWith((a) => {
        a.use(mw);
        routes(a);
      });
      expect((await supertest(app).get('/items/3').set('x-user', CUSTOMER)).body).toEqual({
        id: '3',
        name: 'Item 3',
      });
      await mw.meter.flush(5_000);
    } finally {
      process.env.DRIP_API_KEY = saved.key;
      process.env.DRIP_API_URL = saved.url;
      if (saved.key === undefined) delete process.env.DRIP_API_KEY;
      if (saved.url === undefined) delete process.env.DRIP_API_URL;
    }
    memory.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1 });
    const run = memory.expectRun({ customerId: CUSTOMER, status: 'COMPLETED' });
    expect(routeOf(run)).toBe('/items/:id');
    const sent = memory.requests.find((r) => r.path.startsWith('/runs'));
    expect(sent?.headers['x-drip-client']).toContain('@drip/express');
  });

  it('records the handler events and sums extra usage per meter', async () => {
    const app = appWith((a) => {
      a.use(express.json());
      a.use(drip());
      routes(a);
    });
    const res = await supertest(app).post('/agent').set('x-user', CUSTOMER).send({ prompt: 'hi' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ answer: 'ok' });
    await flush();
    api.expectUsage({ customerId: CUSTOMER, meter: 'llm_tokens', quantity: 40 });
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1 });
    const run = api.expectRun({
      customerId: CUSTOMER,
      status: 'COMPLETED',
      events: [
        { eventType: 'llm.call', model: 'gpt-4o-mini', inputTokens: 10, outputTokens: 30 },
        { eventType: 'tool.call', name: 'web-search', duration: 12 },
      ],
    });
    expect(routeOf(run)).toBe('/agent');
  });

  it('reads the template of a route in a mounted router, never the concrete path', async () => {
    const app = appWith((a) => {
      const router = express.Router();
      router.use(drip()); // router-level use
      routes(router);
      a.use('/api/v1', router);
    });
    for (const id of ['42', '43', 'abc']) {
      expect((await supertest(app).get(`/api/v1/items/${id}`).set('x-user', CUSTOMER)).status).toBe(200);
    }
    await flush();
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 3 });
    expect(api.runs.map(routeOf)).toEqual(['/api/v1/items/:id', '/api/v1/items/:id', '/api/v1/items/:id']);
  });

  it('normalises ids in a parameterised mount path, also when an error leaves the router', async () => {
    const app = appWith((a) => {
      a.use(drip());
      const router = express.Router({ mergeParams: true });
      router.get('/orders/:orderId', (req, res) => {
        res.json({ order: req.params.orderId });
      });
      router.get('/orders/:orderId/fail', () => {
        throw new Error('nope');
      });
      a.use('/users/:uid', router);
      a.use(dripErrorHandler());
    });
    expect((await supertest(app).get('/users/42/orders/abc').set('x-user', CUSTOMER)).body).toEqual({
      order: 'abc',
    });
    expect((await supertest(app).get('/users/43/orders/xyz/fail').set('x-user', CUSTOMER)).status).toBe(500);
    await flush();
    expect(api.runs.map(routeOf)).toEqual(['/users/:id/orders/:orderId', '/users/:id/orders/:orderId/fail']);
  });

  it('meters once when mounted at both app and router level', async () => {
    const mw = drip();
    const app = appWith((a) => {
      a.use(mw);
      const router = express.Router();
      router.use(mw);
      routes(router);
      a.use('/api', router);
    });
    expect((await supertest(app).get('/api/items/1').set('x-user', CUSTOMER)).status).toBe(200);
    await flush();
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1, records: 1 });
    expect(api.runs).toHaveLength(1);
  });

  it('fails the run with the error name when a handler throws, and does not bill it; the 500 is unchanged', async () => {
    const metered = appWith((a) => {
      a.use(drip());
      const router = express.Router();
      routes(router);
      a.use('/api', router);
      a.use(dripErrorHandler());
    });
    const bare = appWith((a) => {
      const router = express.Router();
      routes(router);
      a.use('/api', router);
    });
    const got = await supertest(metered).get('/api/boom/widget').set('x-user', CUSTOMER);
    const want = await supertest(bare).get('/api/boom/widget').set('x-user', CUSTOMER);
    expect(got.status).toBe(500);
    expect(got.text).toBe(want.text);
    await flush();
    expect(api.totalUsage({ customerId: CUSTOMER })).toBe(0);
    const run = api.expectRun({ customerId: CUSTOMER, status: 'FAILED', count: 1 });
    expect(run.errorCode).toBe('TypeError');
    // The router restored req.baseUrl when the error left it; the template still has the mount path.
    expect(routeOf(run)).toBe('/api/boom/:name');
  });

  it('fails the run for an error passed to next(err) from an async handler; the app error handler still answers', async () => {
    const app = appWith((a) => {
      a.use(drip());
      a.get('/later', (_req, _res, next) => {
        setTimeout(() => next(new RangeError('too far')), 5);
      });
      a.use(dripErrorHandler());
      a.use(
        (
          err: Error,
          _req: unknown,
          res: { status(n: number): { json(b: unknown): void } },
          _next: unknown,
        ) => {
          res.status(418).json({ handled: err.message });
        },
      );
    });
    const res = await supertest(app).get('/later').set('x-user', CUSTOMER);
    expect(res.status).toBe(418);
    expect(res.body).toEqual({ handled: 'too far' });
    await flush();
    const run = api.expectRun({ customerId: CUSTOMER, status: 'FAILED', count: 1 });
    expect(run.errorCode).toBe('RangeError');
    expect(api.totalUsage({ customerId: CUSTOMER })).toBe(0);
  });

  it('falls back to the normalised path when no route matched (404), and does not bill it', async () => {
    const app = appWith((a) => {
      a.use(drip());
      routes(a);
    });
    const res = await supertest(app).get('/nowhere/123').set('x-user', CUSTOMER);
    expect(res.status).toBe(404);
    await flush();
    expect(api.usage).toHaveLength(0);
    expect(api.runs.map(routeOf)).toEqual(['/nowhere/:id']);
  });

  it('does not bill a 4xx by default but records its run', async () => {
    const app = appWith((a) => {
      a.use(drip());
      routes(a);
    });
    const res = await supertest(app).get('/missing').set('x-user', CUSTOMER);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not found' });
    await flush();
    expect(api.totalUsage()).toBe(0);
    const run = api.expectRun({ customerId: CUSTOMER, status: 'COMPLETED', count: 1 });
    expect(routeOf(run)).toBe('/missing');
  });

  it('applies the per-route table to the template Express matched at the end', async () => {
    const app = appWith((a) => {
      a.use(express.json());
      a.use(
        drip({
          routes: {
            'POST /api/agent': { meter: 'agent_calls', workflow: 'agent' },
            'GET /api/items/:id': { quantity: 3 },
          },
        }),
      );
      const router = express.Router();
      routes(router);
      a.use('/api', router);
    });
    expect((await supertest(app).post('/api/agent').set('x-user', CUSTOMER).send({})).status).toBe(201);
    expect((await supertest(app).get('/api/items/9').set('x-user', CUSTOMER)).status).toBe(200);
    await flush();
    api.expectUsage({ customerId: CUSTOMER, meter: 'agent_calls', quantity: 1 });
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 3 });
    api.expectRun({ customerId: CUSTOMER, workflow: 'agent', status: 'COMPLETED', count: 1 });
  });

  it('a trusted idempotency header makes a replayed request bill once', async () => {
    const app = appWith((a) => {
      a.use(drip({ idempotencyHeader: 'Idempotency-Key' }));
      routes(a);
    });
    for (let i = 0; i < 2; i++) {
      const res = await supertest(app)
        .get('/items/1')
        .set('x-user', CUSTOMER)
        .set('Idempotency-Key', 'order-77');
      expect(res.status).toBe(200);
    }
    expect(
      (await supertest(app).get('/items/1').set('x-user', CUSTOMER).set('Idempotency-Key', 'order-78'))
        .status,
    ).toBe(200);
    await flush();
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 2, records: 2 });
  });

  it('a gate refusal is answered as JSON with the status and headers the pipeline chose', async () => {
    let ran = false;
    const app = appWith((a) => {
      a.use(
        drip({
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
      );
      a.get('/items/:id', (_req, res) => {
        ran = true;
        res.json({ ok: true });
      });
    });
    const refused = await supertest(app).get('/items/1').set('x-user', 'cus_broke');
    expect(refused.status).toBe(402);
    expect(refused.headers['content-type']).toMatch(/application\/json/);
    expect(refused.headers['retry-after']).toBe('60');
    expect(refused.body).toEqual({ error: 'Top up first' });
    expect(ran).toBe(false);
    const allowed = await supertest(app).get('/items/1').set('x-user', CUSTOMER);
    expect(allowed.status).toBe(200);
    expect(ran).toBe(true);
    await flush();
    expect(api.totalUsage({ customerId: 'cus_broke' })).toBe(0);
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1 });
  });

  describe('unidentified requests', () => {
    it('skip (default): served untouched, nothing recorded, req.drip absent', async () => {
      let seen: unknown = 'unset';
      const app = appWith((a) => {
        a.use(drip());
        a.get('/items/:id', (req, res) => {
          seen = getDripContext(req);
          res.json({ id: req.params.id });
        });
      });
      const res = await supertest(app).get('/items/1');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: '1' });
      expect(seen).toBeUndefined();
      await flush();
      expect(api.usage).toHaveLength(0);
      expect(api.runs).toHaveLength(0);
    });

    it('reject: a JSON 401 from the pipeline, the handler never runs', async () => {
      let ran = false;
      const app = appWith((a) => {
        a.use(drip({ unidentified: 'reject' }));
        a.get('/items/:id', (_req, res) => {
          ran = true;
          res.json({});
        });
      });
      const res = await supertest(app).get('/items/1');
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.body).toEqual(expect.any(Object));
      expect(ran).toBe(false);
      await flush();
      expect(api.usage).toHaveLength(0);
    });

    it('anonymous: metered under the anonymous customer', async () => {
      const app = appWith((a) => {
        a.use(drip({ unidentified: 'anonymous' }));
        routes(a);
      });
      expect((await supertest(app).get('/items/1')).status).toBe(200);
      await flush();
      expect(api.usage).toHaveLength(1);
      expect(api.usage[0]?.customerId).not.toBe(CUSTOMER);
      expect(api.usage[0]?.meter).toBe('api_calls');
    });
  });

  it('the default customer chain also reads req.auth (express-jwt style) when there is no req.user', async () => {
    const app = express();
    app.use((req, _res, next) => {
      (req as typeof req & { auth?: unknown }).auth = { customerId: 'cus_jwt' };
      next();
    });
    app.use(drip());
    routes(app);
    expect((await supertest(app).get('/items/7')).status).toBe(200);
    await flush();
    api.expectUsage({ customerId: 'cus_jwt', meter: 'api_calls', quantity: 1, records: 1 });
    api.expectRun({ customerId: 'cus_jwt', status: 'COMPLETED', count: 1 });
  });

  it('a resolver that throws leaves the response untouched and bills nothing', async () => {
    const app = appWith((a) => {
      a.use(
        drip({
          customer: () => {
            throw new Error('resolver broke');
          },
        }),
      );
      routes(a);
    });
    const res = await supertest(app).get('/items/5').set('x-user', CUSTOMER);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: '5', name: 'Item 5' });
    await flush();
    expect(api.usage).toHaveLength(0);
  });

  it('an async resolver and a custom meter from the options', async () => {
    const app = appWith((a) => {
      a.use(drip({ customer: async (req) => `cus_${req.header('x-tenant')}`, meter: 'requests' }));
      routes(a);
    });
    expect((await supertest(app).get('/items/5').set('x-tenant', 'globex')).status).toBe(200);
    await flush();
    api.expectUsage({ customerId: 'cus_globex', meter: 'requests', quantity: 1 });
  });

  it('keeps serving while the Drip API is unreachable, and delivers once it is back', async () => {
    const app = appWith((a) => {
      a.use(drip());
      routes(a);
    });
    api.down();
    for (let i = 0; i < 5; i++) {
      const res = await supertest(app).get(`/items/${i}`).set('x-user', CUSTOMER);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: String(i), name: `Item ${i}` });
    }
    await metering?.meter.flush(200);
    expect(api.usage).toHaveLength(0);
    api.up();
    await metering?.meter.flush(10_000);
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 5 });
    expect(api.runs).toHaveLength(5);
  });

  async function listen(app: App): Promise<string> {
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('an aborted request (client gone before the response) is not billed', async () => {
    let closed!: () => void;
    const handlerSawClose = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const app = appWith((a) => {
      a.use(drip());
      a.get('/slow', (req, res) => {
        req.on('close', () => closed());
        setTimeout(() => {
          if (!res.writableEnded) res.json({ late: true });
        }, 300);
      });
    });
    const base = await listen(app);
    const req = httpRequest(`${base}/slow`, { headers: { 'x-user': CUSTOMER } });
    req.on('error', () => {});
    req.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
    req.destroy();
    await handlerSawClose;
    await new Promise((resolve) => setTimeout(resolve, 400));
    await flush();
    expect(api.usage).toHaveLength(0);
    expect(api.runs).toHaveLength(1);
    expect(api.runs[0]?.status).toBe('CANCELLED');
  });

  it('a streamed (SSE) response is metered when it ends, not when it starts', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const app = appWith((a) => {
      a.use(drip());
      a.get('/events', async (req, res) => {
        res.setHeader('content-type', 'text/event-stream');
        res.flushHeaders();
        res.write('data: one\n\n');
        req.drip?.run.event({ eventType: 'stream.chunk' });
        await gate;
        res.write('data: two\n\n');
        req.drip?.run.event({ eventType: 'stream.chunk' });
        res.end();
      });
    });
    const base = await listen(app);
    const chunks: string[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${base}/events`, { headers: { 'x-user': CUSTOMER } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          chunks.push(c);
          if (chunks.length === 1) {
            // First chunk is on the wire: nothing may have been recorded yet.
            void flush().then(() => {
              expect(api.usage).toHaveLength(0);
              expect(api.runs).toHaveLength(0);
              release();
            }, reject);
          }
        });
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    await ended;
    expect(chunks.join('')).toBe('data: one\n\ndata: two\n\n');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await flush();
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1 });
    api.expectRun({
      status: 'COMPLETED',
      events: [{ eventType: 'stream.chunk' }, { eventType: 'stream.chunk' }],
    });
  });
});

describe('Express 5 only', () => {
  it('a rejected promise from an async handler fails the run with the error name; the 500 is unchanged', async () => {
    const api = createTestDrip();
    const metering = dripMiddleware({
      client: new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch }),
      customer: () => CUSTOMER,
    });
    const build = (withDrip: boolean) => {
      const app = express5();
      if (withDrip) app.use(metering);
      app.get('/async', async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        throw new SyntaxError('bad input');
      });
      if (withDrip) app.use(dripErrorHandler());
      return app;
    };
    const got = await supertest(build(true)).get('/async');
    const want = await supertest(build(false)).get('/async');
    expect(got.status).toBe(500);
    // Express's page shows the error's stack outside production. Its frames are not the adapter's to keep
    // (async frames depend on who awaited the handler's promise), so compare the page without them.
    const frames = /<br>(?: &nbsp;)+at [^<]*/g;
    expect(got.text).toContain('SyntaxError: bad input');
    expect(got.text.replace(frames, '')).toBe(want.text.replace(frames, ''));
    await metering.meter.close(5_000);
    const run = api.expectRun({ customerId: CUSTOMER, status: 'FAILED', count: 1 });
    expect(run.errorCode).toBe('SyntaxError');
    expect(api.totalUsage()).toBe(0);
  });
});
