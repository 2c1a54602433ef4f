import { describe, expect, it } from 'vitest';
import {
  DripError,
  DripIdempotencyError,
  DripNetworkError,
  DripPaymentRequiredError,
  DripRateLimitError,
  DripServerError,
  DripTimeoutError,
  DripValidationError,
} from '../src/errors';
import { FakeClock, makeClient, type Reply } from './helpers';

const usage = { customerId: 'cus_1', meter: 'api_calls', quantity: 1 } as const;
const ok = {
  status: 201,
  body: { success: true, usageEventId: 'use_1', customerId: 'cus_1', usageType: 'api_calls', quantity: 1 },
};
const err = (status: number, code: string, extra: Record<string, unknown> = {}) => ({
  status,
  body: { error: code.toLowerCase(), code, ...extra },
});

describe('retries (spec §7.2)', () => {
  it.each([
    ['network error', 'network-error' as Reply],
    ['500', err(500, 'INTERNAL_ERROR')],
    ['502', err(502, 'BAD_GATEWAY')],
    ['503', err(503, 'SERVICE_UNAVAILABLE')],
    ['504', err(504, 'GATEWAY_TIMEOUT')],
    ['408', err(408, 'REQUEST_TIMEOUT')],
    ['429', err(429, 'RATE_LIMIT_EXCEEDED')],
    ['409 IDEMPOTENCY_KEY_IN_PROGRESS', err(409, 'IDEMPOTENCY_KEY_IN_PROGRESS')],
    ['non-JSON 503', { status: 503, text: '<html>busy</html>' } as Reply],
  ])('retries a keyed call after %s with the same idempotency key', async (_n, first) => {
    const { client, calls, clock } = makeClient([first, ok]);
    const res = await clock.run(client.trackUsage(usage));
    expect(res.usageEventId).toBe('use_1');
    expect(calls).toHaveLength(2);
    expect(calls[0]!.body).toEqual(calls[1]!.body);
    expect((calls[0]!.body as { idempotencyKey: string }).idempotencyKey).toBe('track_testinst_1');
  });

  it.each([
    [400, 'INVALID_JSON'],
    [401, 'UNAUTHORIZED'],
    [402, 'PAYMENT_REQUIRED'],
    [403, 'CUSTOMER_BLOCKED'],
    [404, 'CUSTOMER_NOT_FOUND'],
    [405, 'METHOD_NOT_ALLOWED'],
    [409, 'IDEMPOTENCY_KEY_REUSED'],
    [413, 'PAYLOAD_TOO_LARGE'],
    [422, 'VALIDATION_ERROR'],
    [501, 'NOT_IMPLEMENTED'],
    [505, 'HTTP_VERSION'],
  ])('never retries %i %s', async (status, code) => {
    const { client, calls, clock } = makeClient([err(status, code), ok]);
    const e = await clock.run(client.trackUsage(usage)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DripError);
    expect(e).toMatchObject({ statusCode: status, code, requestId: 'req_1', attempts: 1 });
    expect(calls).toHaveLength(1);
  });

  it('maps statuses to classes', async () => {
    const table: Array<[Reply, unknown]> = [
      [
        err(402, 'PAYMENT_REQUIRED', { payment: { amount: '0.001000', currency: 'USDC' } }),
        DripPaymentRequiredError,
      ],
      [
        err(422, 'VALIDATION_ERROR', { details: [{ path: 'quantity', message: 'bad' }] }),
        DripValidationError,
      ],
      [err(409, 'IDEMPOTENCY_KEY_REUSED'), DripIdempotencyError],
    ];
    for (const [reply, cls] of table) {
      const { client } = makeClient([reply]);
      const e = await client.trackUsage(usage).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(cls);
    }
    const { client } = makeClient([
      err(402, 'PAYMENT_REQUIRED', { payment: { amount: '0.001000', currency: 'USDC' } }),
    ]);
    const e = (await client.charge(usage).catch((x: unknown) => x)) as DripPaymentRequiredError;
    expect(e.payment).toEqual({ amount: '0.001000', currency: 'USDC' });
    const v = makeClient([err(422, 'VALIDATION_ERROR', { details: [{ path: 'quantity', message: 'bad' }] })]);
    const ve = (await v.client.trackUsage(usage).catch((x: unknown) => x)) as DripValidationError;
    expect(ve.details).toEqual([{ path: 'quantity', message: 'bad' }]);
  });

  it('gives up after maxAttempts (default 4) and throws the last error', async () => {
    const { client, calls, clock } = makeClient([err(500, 'INTERNAL_ERROR')]);
    const e = await clock.run(client.trackUsage(usage)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DripServerError);
    expect((e as DripError).attempts).toBe(4);
    expect(calls).toHaveLength(4);
  });

  it('per-call maxAttempts: 1 disables retries', async () => {
    const { client, calls, clock } = makeClient([err(503, 'SERVICE_UNAVAILABLE'), ok]);
    await expect(clock.run(client.trackUsage({ ...usage, maxAttempts: 1 }))).rejects.toMatchObject({
      statusCode: 503,
    });
    expect(calls).toHaveLength(1);
  });

  it('full-jitter backoff: waits random * min(cap, base * 2^(n-1))', async () => {
    const clock = new FakeClock();
    const { client, calls } = makeClient([err(500, 'INTERNAL_ERROR')], { clock, random: () => 0.5 });
    const start = clock.now();
    await clock.run(client.trackUsage(usage)).catch(() => undefined);
    const gaps = calls.map((c) => c.at - start);
    // 0.5 * 250, then 0.5 * 500, then 0.5 * 1000, cumulative
    expect(gaps).toEqual([0, 125, 375, 875]);
  });

  it('backoff is capped at backoffCapMs', async () => {
    const clock = new FakeClock();
    const { client, calls } = makeClient([err(500, 'INTERNAL_ERROR')], {
      clock,
      random: () => 0.999,
      maxAttempts: 8,
      backoffCapMs: 1000,
      deadlineMs: 600_000,
    });
    await clock.run(client.trackUsage(usage)).catch(() => undefined);
    const deltas = calls.slice(1).map((c, i) => c.at - calls[i]!.at);
    expect(Math.max(...deltas)).toBeLessThanOrEqual(1000);
    expect(deltas.at(-1)).toBe(999);
  });

  it('retry-unsafe calls (createWebhook) are retried on 429/503 only', async () => {
    const a = makeClient(['network-error', { status: 201, body: { id: 'wh_1', url: 'u', secret: 's' } }]);
    await expect(
      a.clock.run(a.client.createWebhook({ url: 'https://e.com/h', events: ['*'] })),
    ).rejects.toMatchObject({
      code: 'NETWORK_ERROR',
    });
    expect(a.calls).toHaveLength(1);
    const b = makeClient([err(500, 'INTERNAL_ERROR')]);
    await expect(b.clock.run(b.client.createApiKey({ name: 'x' }))).rejects.toMatchObject({
      statusCode: 500,
    });
    expect(b.calls).toHaveLength(1);
    const c = makeClient([
      err(503, 'SERVICE_UNAVAILABLE'),
      { status: 201, body: { id: 'wh_1', url: 'u', secret: 's' } },
    ]);
    expect((await c.clock.run(c.client.createWebhook({ url: 'https://e.com/h', events: ['*'] }))).id).toBe(
      'wh_1',
    );
    expect(c.calls).toHaveLength(2);
    const d = makeClient([
      err(429, 'RATE_LIMIT_EXCEEDED'),
      { status: 200, body: { secret: 's2', message: 'm' } },
    ]);
    expect((await d.clock.run(d.client.rotateWebhookSecret('wh_1'))).secret).toBe('s2');
  });

  it('a network error on a GET is retried', async () => {
    const { client, calls, clock } = makeClient(['network-error', { status: 200, body: { id: 'cus_1' } }]);
    expect((await clock.run(client.getCustomer('cus_1'))).id).toBe('cus_1');
    expect(calls).toHaveLength(2);
  });

  it('logs each retry at debug level with attempt, delay and request id', async () => {
    const logs: Array<Record<string, unknown> | undefined> = [];
    const { client, clock } = makeClient([err(503, 'SERVICE_UNAVAILABLE'), ok], {
      logger: { debug: (_m, ctx) => logs.push(ctx) },
    });
    await clock.run(client.trackUsage(usage));
    expect(logs).toEqual([
      expect.objectContaining({ attempt: 1, delayMs: 125, requestId: 'req_1', code: 'SERVICE_UNAVAILABLE' }),
    ]);
  });
});

describe('Retry-After (spec §7.1)', () => {
  it('honours seconds and does not consume attempts', async () => {
    const clock = new FakeClock();
    const ra = { ...err(429, 'RATE_LIMIT_EXCEEDED'), headers: { 'retry-after': '2' } };
    const { client, calls } = makeClient([ra, ra, ra, ra, ra, ok], { clock, maxAttempts: 2 });
    const start = clock.now();
    await clock.run(client.trackUsage(usage));
    expect(calls).toHaveLength(6); // 5 Retry-After waits with maxAttempts 2
    expect(calls.map((c) => c.at - start)).toEqual([0, 2000, 4000, 6000, 8000, 10000]);
  });

  it('reads an HTTP date, and the body retryAfter when no header', async () => {
    const clock = new FakeClock();
    clock.t = Date.parse('2026-03-01T12:00:00.000Z');
    const dated = {
      ...err(503, 'SERVICE_UNAVAILABLE'),
      headers: { 'retry-after': 'Sun, 01 Mar 2026 12:00:03 GMT' },
    };
    const body = err(429, 'RATE_LIMIT_EXCEEDED', { retryAfter: 1 });
    const { client, calls } = makeClient([dated, body, ok], { clock });
    const start = clock.now();
    await clock.run(client.trackUsage(usage));
    expect(calls.map((c) => c.at - start)).toEqual([0, 3000, 4000]);
  });

  it('caps Retry-After at 30 s', async () => {
    const clock = new FakeClock();
    const ra = { ...err(503, 'SERVICE_UNAVAILABLE'), headers: { 'retry-after': '45' } };
    const { client, calls } = makeClient([ra, ok], { clock, deadlineMs: 120_000 });
    const start = clock.now();
    await clock.run(client.trackUsage(usage));
    expect(calls[1]!.at - start).toBe(30_000);
  });

  it('a Retry-After beyond the remaining deadline ends the call at once with the 429', async () => {
    const clock = new FakeClock();
    const ra = { ...err(429, 'RATE_LIMIT_EXCEEDED'), headers: { 'retry-after': '20' } };
    const { client, calls } = makeClient([ra, ok], { clock, deadlineMs: 10_000 });
    const start = clock.now();
    const e = await clock.run(client.trackUsage(usage)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DripRateLimitError);
    expect((e as DripRateLimitError).retryAfterMs).toBe(20_000);
    expect(calls).toHaveLength(1);
    expect(clock.now() - start).toBe(0);
  });

  it('maxAttempts: 1 is exactly one HTTP attempt: no Retry-After wait inside the transport', async () => {
    const clock = new FakeClock();
    const ra = { ...err(429, 'RATE_LIMIT_EXCEEDED'), headers: { 'retry-after': '2' } };
    const { client, calls } = makeClient([ra, ok], { clock });
    const start = clock.now();
    const e = await clock
      .run(client.request('POST', '/usage', { body: { ...usage, idempotencyKey: 'k1' }, maxAttempts: 1 }))
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DripRateLimitError);
    expect(e).toMatchObject({ attempts: 1, retryAfterMs: 2_000 });
    expect(calls).toHaveLength(1);
    expect(clock.now() - start).toBe(0);
  });

  it('409 IDEMPOTENCY_KEY_IN_PROGRESS with Retry-After: 1 is retried after 1 s', async () => {
    const clock = new FakeClock();
    const ip = { ...err(409, 'IDEMPOTENCY_KEY_IN_PROGRESS'), headers: { 'retry-after': '1' } };
    const { client, calls } = makeClient([ip, ok], { clock });
    const start = clock.now();
    await clock.run(client.trackUsage(usage));
    expect(calls.map((c) => c.at - start)).toEqual([0, 1000]);
  });
});

describe('timeouts and deadlines', () => {
  it('a hung attempt times out (TIMEOUT 408) and is retried with the same key', async () => {
    const clock = new FakeClock();
    const { client, calls } = makeClient(['hang', ok], { clock, timeoutMs: 1000 });
    const start = clock.now();
    await clock.run(client.trackUsage(usage));
    expect(calls).toHaveLength(2);
    expect(calls[1]!.at - start).toBe(1000 + 125);
    expect(calls[1]!.body).toEqual(calls[0]!.body);
  });

  it('the per-attempt timeout error is a DripTimeoutError TIMEOUT', async () => {
    const { client, clock } = makeClient(['hang'], { timeoutMs: 500, maxAttempts: 1 });
    const e = await clock.run(client.trackUsage(usage)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DripTimeoutError);
    expect(e).toMatchObject({ statusCode: 408, code: 'TIMEOUT' });
  });

  it('the overall deadline ends the call with DEADLINE_EXCEEDED, not retried', async () => {
    const clock = new FakeClock();
    const { client, calls } = makeClient(['hang'], {
      clock,
      timeoutMs: 1000,
      deadlineMs: 2500,
      maxAttempts: 10,
    });
    const start = clock.now();
    const e = await clock.run(client.trackUsage(usage)).catch((x: unknown) => x);
    expect(e).toMatchObject({ statusCode: 408, code: 'DEADLINE_EXCEEDED' });
    expect(clock.now() - start).toBeLessThanOrEqual(2500);
    expect(calls.length).toBeGreaterThanOrEqual(2);
  });

  it('POST /usage defaults to a 30 s attempt timeout; other calls 15 s', async () => {
    const a = makeClient(['hang'], { maxAttempts: 1 });
    const t0 = a.clock.now();
    await a.clock.run(a.client.charge(usage)).catch(() => undefined);
    expect(a.clock.now() - t0).toBe(30_000);
    const b = makeClient(['hang'], { maxAttempts: 1 });
    const t1 = b.clock.now();
    await b.clock.run(b.client.trackUsage(usage)).catch(() => undefined);
    expect(b.clock.now() - t1).toBe(15_000);
  });

  it('per-call timeoutMs overrides the default', async () => {
    const { client, clock } = makeClient(['hang']);
    const t0 = clock.now();
    await clock.run(client.getCustomer('cus_1', { timeoutMs: 50, maxAttempts: 1 })).catch(() => undefined);
    expect(clock.now() - t0).toBe(50);
  });

  it('the caller signal aborts at once with ABORTED and no retry, also during a backoff wait', async () => {
    const { client, calls, clock } = makeClient(['hang']);
    const ac = new AbortController();
    const p = client.trackUsage({ ...usage, signal: ac.signal });
    await clock.advance(10);
    ac.abort();
    const e = await p.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DripNetworkError);
    expect(e).toMatchObject({ code: 'ABORTED', statusCode: 0 });
    expect(calls).toHaveLength(1);

    const b = makeClient([err(503, 'SERVICE_UNAVAILABLE')]);
    const ac2 = new AbortController();
    const p2 = b.client.trackUsage({ ...usage, signal: ac2.signal });
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(b.clock.pendingTimers).toBe(1); // the backoff sleep
    ac2.abort();
    await expect(p2).rejects.toMatchObject({ code: 'ABORTED' });
    expect(b.calls).toHaveLength(1);
  });

  it('an already-aborted signal sends nothing', async () => {
    const { client, calls } = makeClient([ok]);
    const ac = new AbortController();
    ac.abort();
    await expect(client.trackUsage({ ...usage, signal: ac.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    });
    expect(calls).toHaveLength(0);
  });
});

describe('responses', () => {
  it('a non-JSON error body keeps its HTTP status (INVALID_RESPONSE, data.body <= 2 KiB)', async () => {
    const { client } = makeClient([{ status: 404, text: 'x'.repeat(5000) }]);
    const e = (await client.getCustomer('cus_1').catch((x: unknown) => x)) as DripError;
    expect(e).toMatchObject({ statusCode: 404, code: 'INVALID_RESPONSE' });
    expect((e.data as { body: string }).body).toHaveLength(2048);
  });
  it('reads message before error, keeps requestId and data', async () => {
    const { client } = makeClient([
      { status: 404, body: { message: 'M', error: 'E', code: 'RUN_NOT_FOUND', extra: 1 } },
    ]);
    const e = (await client.getRun('run_1').catch((x: unknown) => x)) as DripError;
    expect(e.message).toBe('M');
    expect(e.requestId).toBe('req_1');
    expect(e.data).toEqual({ message: 'M', error: 'E', code: 'RUN_NOT_FOUND', extra: 1 });
  });
  it('client.request returns data, status, requestId and headers', async () => {
    const { client, calls } = makeClient([
      { status: 200, body: { results: [] }, headers: { 'idempotent-replayed': 'true' } },
    ]);
    const res = await client.request<{ results: unknown[] }>('POST', '/usage/internal/bulk', {
      body: { events: [] },
      query: { a: 1, b: undefined },
      maxAttempts: 1,
    });
    expect(res.data).toEqual({ results: [] });
    expect(res.status).toBe(200);
    expect(res.requestId).toBe('req_1');
    expect(res.headers.get('idempotent-replayed')).toBe('true');
    expect(calls[0]!.url).toBe('http://127.0.0.1:3001/v1/usage/internal/bulk?a=1');
  });
  it('client.request retrySafe: false stops after a network error; true retries', async () => {
    const a = makeClient(['network-error', { status: 200, body: {} }]);
    await expect(
      a.clock.run(a.client.request('POST', '/x', { body: {}, retrySafe: false })),
    ).rejects.toMatchObject({
      code: 'NETWORK_ERROR',
    });
    const b = makeClient(['network-error', { status: 200, body: {} }]);
    expect((await b.clock.run(b.client.request('POST', '/x', { body: {}, retrySafe: true }))).status).toBe(
      200,
    );
  });
});

describe('an injected fetch that ignores its signal', () => {
  it('still times out and is retried; the caller abort still ends the call', async () => {
    const clock = new FakeClock();
    let n = 0;
    const never = () => {
      n += 1;
      return new Promise<Response>(() => {});
    };
    const { Drip } = await import('../src/client');
    const client = new Drip({
      apiKey: 'sk_test_0123456789',
      baseUrl: 'http://127.0.0.1:1',
      fetch: never,
      clock,
      maxAttempts: 2,
      timeoutMs: 100,
      random: () => 0,
    });
    const e = await clock.run(client.getCustomer('cus_1')).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'TIMEOUT', statusCode: 408, attempts: 2 });
    expect(n).toBe(2);
    const ac = new AbortController();
    const p = client.getCustomer('cus_1', { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('which failures are retried, and the attempt budget', () => {
  it('client.request: an unkeyed POST is not retried after a network error; a keyed POST and a GET are', async () => {
    const a = makeClient(['network-error', { status: 200, body: {} }]);
    await expect(a.clock.run(a.client.request('POST', '/x', { body: { a: 1 } }))).rejects.toMatchObject({
      code: 'NETWORK_ERROR',
      attempts: 1,
    });
    expect(a.calls).toHaveLength(1);

    const b = makeClient(['network-error', { status: 200, body: {} }]);
    const keyed = await b.clock.run(b.client.request('POST', '/x', { body: { idempotencyKey: 'k_1' } }));
    expect(keyed.attempts).toBe(2);
    expect(b.calls).toHaveLength(2);

    const c = makeClient(['network-error', { status: 200, body: {} }]);
    expect((await c.clock.run(c.client.request('GET', '/x'))).attempts).toBe(2);
  });

  it('Retry-After waits leave the attempt budget for later backoff retries', async () => {
    const clock = new FakeClock();
    const ra = { ...err(429, 'RATE_LIMIT_EXCEEDED'), headers: { 'retry-after': '1' } };
    const created = { status: 201, body: { success: true, usageEventId: 'use_1' } };
    const { client, calls } = makeClient([ra, ra, err(500, 'INTERNAL_ERROR'), created], {
      clock,
      maxAttempts: 2,
    });
    const res = await clock.run(client.trackUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 }));
    expect(res.usageEventId).toBe('use_1');
    expect(calls).toHaveLength(4);
    // Two Retry-After waits, then one backoff retry: still within maxAttempts 2.
    expect(new Set(calls.map((c) => (c.body as { idempotencyKey: string }).idempotencyKey)).size).toBe(1);
  });
});

describe('429 answers', () => {
  it('a 429 without Retry-After carries the body retryAfter (s) as retryAfterMs', async () => {
    const { client, calls } = makeClient([err(429, 'RATE_LIMIT_EXCEEDED', { retryAfter: 7 })]);
    const e = await client.getCustomer('cus_1', { maxAttempts: 1 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DripRateLimitError);
    expect((e as DripRateLimitError).retryAfterMs).toBe(7_000);
    expect(calls).toHaveLength(1);
  });
});
