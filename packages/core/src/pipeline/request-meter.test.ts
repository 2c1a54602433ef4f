import { createTestDrip } from '@drip/testing';
import { describe, expect, it, vi } from 'vitest';
import {
  type MeterReq as FakeReq,
  resolveBegin as resolve,
  setupMeter as setup,
  meterView as view,
} from '../../test/helpers';
import { Drip } from '../client';
import { createRequestMeter, isPromiseLike } from './request-meter';
import type { BeginResult } from './types';

describe('createRequestMeter', () => {
  it('meters a request per customer with one usage record per meter and one run', async () => {
    const { api, meter } = setup();
    const req: FakeReq = { headers: {}, user: { customerId: 'cus_1' } };
    const r = meter.begin(view('GET', '/items/42', req));
    expect(isPromiseLike(r)).toBe(false);
    const begun = r as BeginResult;
    if (begun.kind !== 'continue') throw new Error(`expected continue, got ${begun.kind}`);
    expect(begun.context.customerId).toBe('cus_1');
    begun.handle.run(() => {
      begun.context.run.event({ eventType: 'llm.call', model: 'gpt-4', inputTokens: 5 });
      begun.context.usage('llm_tokens', 500);
      begun.context.usage('llm_tokens', 342);
    });
    begun.handle.finish({ status: 200 });
    begun.handle.finish({ status: 500 }); // ignored
    await meter.flush(5_000);
    api.expectUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1, records: 1 });
    api.expectUsage({ customerId: 'cus_1', meter: 'llm_tokens', quantity: 842, records: 1 });
    const run = api.expectRun({
      workflow: 'get-items-id',
      status: 'COMPLETED',
      customerId: 'cus_1',
      events: [{ eventType: 'llm.call', model: 'gpt-4', inputTokens: 5 }],
    });
    expect(run.externalRunId).toBe(`mw:cus_1:${begun.context.requestId}`);
    expect(api.usage.find((u) => u.meter === 'llm_tokens')?.idempotencyKey).toBe(
      `mw:cus_1:${begun.context.requestId}:llm_tokens:0`,
    );
    expect(meter.stats().pipeline.metered).toBe(1);
    await meter.close(1_000);
  });

  it('skips unidentified requests with one warning, rejects or bills anonymous by policy', async () => {
    const warn = vi.fn();
    const { api, meter } = setup({ logger: { warn } });
    expect((await resolve(meter.begin(view('GET', '/a', { headers: {} })))).kind).toBe('skip');
    expect((await resolve(meter.begin(view('GET', '/b', { headers: {} })))).kind).toBe('skip');
    expect(warn.mock.calls.filter((c) => String(c[0]).includes('no customer'))).toHaveLength(1);
    const rejecting = setup({ unidentified: 'reject' }).meter;
    const rej = await resolve(rejecting.begin(view('GET', '/a', { headers: {} })));
    expect(rej).toMatchObject({ kind: 'respond', status: 401, body: { code: 'CUSTOMER_REQUIRED' } });
    const anon = setup({ unidentified: 'anonymous', anonymousCustomerId: 'cus_anon' });
    const a = await resolve(anon.meter.begin(view('GET', '/a', { headers: {} })));
    if (a.kind !== 'continue') throw new Error('expected continue');
    a.handle.finish({ status: 200 });
    await anon.meter.flush(5_000);
    anon.api.expectUsage({ customerId: 'cus_anon', meter: 'api_calls', quantity: 1 });
    expect(api.usage).toHaveLength(0);
  });

  it('uses the resolver chain, async resolvers, and survives a throwing resolver', async () => {
    const { api, meter } = setup({
      customer: [
        (req) => req.headers['x-customer'],
        async (req) => (req.headers['x-async'] ? `async_${req.headers['x-async']}` : undefined),
      ],
    });
    const sync = await resolve(meter.begin(view('GET', '/x', { headers: { 'x-customer': 'cus_h' } })));
    expect(sync.kind === 'continue' && sync.context.customerId).toBe('cus_h');
    const pending = meter.begin(view('GET', '/x', { headers: { 'x-async': '7' } }));
    expect(isPromiseLike(pending)).toBe(true);
    const later = await resolve(pending);
    expect(later.kind === 'continue' && later.context.customerId).toBe('async_7');
    const throwing = setup({
      customer: () => {
        throw new Error('boom');
      },
    });
    expect((await resolve(throwing.meter.begin(view('GET', '/x', { headers: {} })))).kind).toBe('skip');
    expect(throwing.meter.stats().pipeline.meteringErrors).toBe(1);
    expect(api.usage).toHaveLength(0);
  });

  it('applies the routes table, billing outcomes and quantity functions', async () => {
    const { api, meter } = setup({
      routes: {
        'POST /agent/:id': {
          meter: 'agent_calls',
          quantity: (_req, end) => end.events.length * 10,
          workflow: 'agent',
        },
        'GET /health': { skip: true },
        'GET /no-run': { run: false },
      },
      customer: () => 'cus_r',
    });
    expect((await resolve(meter.begin(view('GET', '/health', { headers: {} })))).kind).toBe('skip');
    const a = await resolve(meter.begin(view('POST', '/agent/9', { headers: {} })));
    if (a.kind !== 'continue') throw new Error('expected continue');
    a.context.run.event({ eventType: 'tool.call' });
    a.context.run.event({ eventType: 'tool.call' });
    a.handle.finish({ status: 201 });
    const notBilled = await resolve(meter.begin(view('POST', '/agent/9', { headers: {} })));
    if (notBilled.kind !== 'continue') throw new Error('expected continue');
    notBilled.handle.finish({ status: 404 });
    const failed = await resolve(meter.begin(view('POST', '/agent/9', { headers: {} })));
    if (failed.kind !== 'continue') throw new Error('expected continue');
    failed.handle.finish({ status: 500, error: new Error('db down') });
    const noRun = await resolve(meter.begin(view('GET', '/no-run', { headers: {} })));
    if (noRun.kind !== 'continue') throw new Error('expected continue');
    noRun.handle.finish({ status: 200 });
    await meter.flush(5_000);
    api.expectUsage({ customerId: 'cus_r', meter: 'agent_calls', quantity: 20, records: 1 });
    api.expectUsage({ customerId: 'cus_r', meter: 'api_calls', quantity: 1, records: 1 });
    api.expectRun({ workflow: 'agent', status: 'COMPLETED', events: 2 });
    api.expectRun({ workflow: 'agent', status: 'FAILED', count: 1 });
    expect(api.runs.find((r) => r.status === 'FAILED')?.errorMessage).toBe('db down');
    expect(api.runs).toHaveLength(3);
  });

  it('honours the trusted request-id header and never dedupes across customers', async () => {
    const { api, meter } = setup({
      idempotencyHeader: 'Idempotency-Key',
      customer: (req) => req.headers['x-c'],
    });
    for (const c of ['cus_a', 'cus_b', 'cus_a']) {
      const r = await resolve(
        meter.begin(view('POST', '/pay', { headers: { 'idempotency-key': 'req-1', 'x-c': c } })),
      );
      if (r.kind !== 'continue') throw new Error('expected continue');
      expect(r.context.requestId).toBe('req-1');
      r.handle.finish({ status: 200 });
    }
    await meter.flush(5_000);
    api.expectUsage({ customerId: 'cus_a', meter: 'api_calls', quantity: 1, records: 1 });
    api.expectUsage({ customerId: 'cus_b', meter: 'api_calls', quantity: 1, records: 1 });
  });

  it('normalises unknown paths, takes correlationId from traceparent, redacts metadata', async () => {
    const { api, meter } = setup({
      customer: () => 'cus_m',
      metadata: {
        headers: ['x-region', 'authorization'],
        fields: () => ({ email: 'a@b.c', plan: 'pro' }),
        redact: ['email'],
      },
    });
    const r = await resolve(
      meter.begin(
        view('GET', '/orders/550e8400-e29b-41d4-a716-446655440000/lines/12', {
          headers: {
            traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
            'x-region': 'eu',
            authorization: 'Bearer secret',
          },
        }),
      ),
    );
    if (r.kind !== 'continue') throw new Error('expected continue');
    r.handle.finish({ status: 200 });
    await meter.flush(5_000);
    const run = api.expectRun({ workflow: 'get-orders-id-lines-id' });
    expect(run.correlationId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(api.usage[0]?.metadata).toEqual({
      method: 'GET',
      route: '/orders/:id/lines/:id',
      'x-region': 'eu',
      authorization: '[redacted]',
      email: '[redacted]',
      plan: 'pro',
    });
  });

  it('never lets metering errors reach the handler', async () => {
    const onError = vi.fn();
    const { api, meter } = setup({ customer: () => 'cus_e', onError, quantity: () => Number.NaN });
    const r = await resolve(meter.begin(view('GET', '/x', { headers: {} })));
    if (r.kind !== 'continue') throw new Error('expected continue');
    expect(() => r.context.usage('', 1)).not.toThrow();
    expect(() => r.context.usage('tokens', Number.POSITIVE_INFINITY)).not.toThrow();
    expect(() => r.context.run.event({ eventType: '' })).not.toThrow();
    expect(() => r.handle.finish({ status: 200 })).not.toThrow();
    await meter.flush(5_000);
    expect(onError).toHaveBeenCalledTimes(4);
    expect(meter.stats().pipeline.meteringErrors).toBe(4);
    expect(api.usage).toHaveLength(0);
    expect(api.runs).toHaveLength(1);
  });

  it('answers the gate with 429 and fails open or closed on API errors', async () => {
    const api = createTestDrip({
      entitlements: (customerId) =>
        customerId === 'cus_over' ? { allowed: false, remaining: 0, limit: 10 } : { allowed: true },
    });
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch, maxAttempts: 1 });
    const make = (onApiError: 'allow' | 'deny') =>
      createRequestMeter<FakeReq>({
        client,
        customer: (req) => req.headers['x-c'],
        gate: { entitlement: true, onApiError },
        logger: { warn: () => {} },
        outbox: { shutdownHooks: false },
      });
    const meter = make('allow');
    const denied = await resolve(meter.begin(view('GET', '/x', { headers: { 'x-c': 'cus_over' } })));
    expect(denied).toMatchObject({
      kind: 'respond',
      status: 429,
      body: { code: 'ENTITLEMENT_LIMIT_REACHED' },
    });
    const ok = await resolve(meter.begin(view('GET', '/x', { headers: { 'x-c': 'cus_ok' } })));
    expect(ok.kind).toBe('continue');
    const calls = api.requests.filter((q) => q.path === '/entitlements/check').length;
    await resolve(meter.begin(view('GET', '/x', { headers: { 'x-c': 'cus_ok' } })));
    expect(api.requests.filter((q) => q.path === '/entitlements/check').length).toBe(calls); // cached
    api.down();
    expect(
      (await resolve(make('allow').begin(view('GET', '/x', { headers: { 'x-c': 'cus_new' } })))).kind,
    ).toBe('continue');
    expect(
      await resolve(make('deny').begin(view('GET', '/x', { headers: { 'x-c': 'cus_new' } }))),
    ).toMatchObject({
      kind: 'respond',
      status: 503,
    });
  });

  it('hands delivery to the platform waitUntil', async () => {
    const { api, meter } = setup({ customer: () => 'cus_w' });
    const r = await resolve(meter.begin(view('GET', '/x', { headers: {} })));
    if (r.kind !== 'continue') throw new Error('expected continue');
    const handed: Promise<unknown>[] = [];
    r.handle.finish({ status: 200 }, { waitUntil: (p) => handed.push(p) });
    expect(handed).toHaveLength(1);
    await Promise.all(handed);
    api.expectUsage({ customerId: 'cus_w', quantity: 1 });
    api.expectRun({ workflow: 'get-x', status: 'COMPLETED' });
  });

  it('without an API key, requests go on and the records are dropped as no-client (counted once built)', async () => {
    const saved = process.env.DRIP_API_KEY;
    delete process.env.DRIP_API_KEY;
    try {
      const warn = vi.fn();
      const meter = createRequestMeter<FakeReq>({
        customer: () => 'cus_nokey',
        logger: { warn },
        outbox: { shutdownHooks: false, flushIntervalMs: 1 },
      });
      const r = await resolve(meter.begin(view('GET', '/x', { headers: {} })));
      expect(r.kind).toBe('continue');
      if (r.kind === 'continue') r.handle.finish({ status: 200 });
      await meter.flush(1_000);
      expect(meter.stats().dropped['no-client']).toBe(2);
      expect(() => meter.client).toThrow(/DRIP_API_KEY|apiKey|key/i);
      expect(warn.mock.calls.some((c) => String(c[0]).includes('no Drip client'))).toBe(true);
    } finally {
      if (saved !== undefined) process.env.DRIP_API_KEY = saved;
    }
  });

  it('takes the correlation id from the active OpenTelemetry span when there is no traceparent', async () => {
    const key = Symbol.for('opentelemetry.js.api.1');
    const spanKey = Symbol.for('OpenTelemetry Context Key SPAN');
    const g = globalThis as unknown as Record<symbol, unknown>;
    g[key] = {
      context: {
        active: () => ({
          getValue: (k: symbol) =>
            k === spanKey
              ? { spanContext: () => ({ traceId: '0af7651916cd43dd8448eb211c80319c' }) }
              : undefined,
        }),
      },
    };
    try {
      const { api, meter } = setup({ customer: () => 'cus_otel' });
      const r = await resolve(meter.begin(view('GET', '/x', { headers: {} })));
      if (r.kind !== 'continue') throw new Error('expected continue');
      r.handle.finish({ status: 200 });
      await meter.flush(5_000);
      expect(api.expectRun({ customerId: 'cus_otel' }).correlationId).toBe(
        '0af7651916cd43dd8448eb211c80319c',
      );
    } finally {
      delete g[key];
    }
  });

  it('gates on the available balance', async () => {
    const api = createTestDrip();
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch, maxAttempts: 1 });
    api.addCustomer('cus_b');
    const make = (minUsdc: string) =>
      createRequestMeter<FakeReq>({
        client,
        customer: () => 'cus_b',
        gate: { balance: { minUsdc } },
        outbox: { shutdownHooks: false },
      });
    expect((await resolve(make('1.5').begin(view('GET', '/x', { headers: {} })))).kind).toBe('continue');
    expect(await resolve(make('100.000001').begin(view('GET', '/x', { headers: {} })))).toMatchObject({
      kind: 'respond',
      status: 402,
      body: { code: 'PAYMENT_REQUIRED', availableUsdc: '100.000000' },
    });
  });
});

describe("createRequestMeter with the user's client", () => {
  it('adds the adapter to X-Drip-Client per request without changing the client', async () => {
    const api = createTestDrip();
    const sent: string[] = [];
    const fetch: typeof globalThis.fetch = (input, init) => {
      const h = new Headers(init?.headers);
      sent.push(`${String(input)} ${h.get('x-drip-client') ?? ''}`);
      return api.fetch(input, init);
    };
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch });
    const before = client.clientHeader;
    const meter = createRequestMeter<FakeReq>({
      client,
      sdk: { name: '@drip/express', version: '0.1.0' },
      logger: { warn: () => {} },
      outbox: { shutdownHooks: false, flushIntervalMs: 1 },
    });
    const r = await resolve(meter.begin(view('GET', '/a', { headers: {}, user: { customerId: 'cus_1' } })));
    if (r.kind !== 'continue') throw new Error(`expected continue, got ${r.kind}`);
    r.handle.finish({ status: 200 });
    await meter.flush(5_000);
    api.expectUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1, records: 1 });
    expect(sent.length).toBeGreaterThan(0);
    for (const line of sent) {
      expect(line).toMatch(/ @drip\/core@[\d.]+[^;]*; adapter=@drip\/express@0\.1\.0; runtime=/);
    }
    expect(client.clientHeader).toBe(before);
    expect(client.clientHeader).not.toContain('adapter=');
    expect(meter.client).toBe(client);
    await meter.close(1_000);
  });
});
