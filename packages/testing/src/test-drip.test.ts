import { describe, expect, it } from 'vitest';
import { createFakeClock } from './clock';
import { createTestDrip } from './test-drip';

const usageBody = (key: string, quantity = 1, customerId = 'cus_1') => ({
  customerId,
  usageType: 'api_calls',
  quantity,
  idempotencyKey: key,
});

async function post(
  api: ReturnType<typeof createTestDrip>,
  path: string,
  body: unknown,
  signal?: AbortSignal,
) {
  const res = await api.fetch(`${api.baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${api.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

describe('createTestDrip', () => {
  it('applies usage once per idempotency key and replays duplicates', async () => {
    const api = createTestDrip();
    const first = await post(api, '/usage/internal', usageBody('k1', 2));
    expect(first.status).toBe(201);
    expect(first.body.isDuplicate).toBe(false);
    const again = await post(api, '/usage/internal', usageBody('k1', 2));
    expect(again.status).toBe(201);
    expect(again.body.isDuplicate).toBe(true);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    api.expectUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 2, records: 1 });
    const reused = await post(api, '/usage/internal', usageBody('k1', 3));
    expect(reused.status).toBe(409);
    expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(() => api.expectUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 5 })).toThrow(
      /total 5, got 2/,
    );
  });

  it('rejects missing keys, bad quantities and bad auth like the server', async () => {
    const api = createTestDrip();
    expect((await post(api, '/usage/internal', { customerId: 'c', quantity: 1 })).status).toBe(422);
    expect((await post(api, '/usage/internal', { ...usageBody('k'), quantity: 'many' })).status).toBe(422);
    expect((await post(api, '/usage/internal', usageBody('k', -1))).status).toBe(422);
    const res = await api.fetch(`${api.baseUrl}/usage/internal`, {
      method: 'POST',
      body: JSON.stringify(usageBody('k')),
    });
    expect(res.status).toBe(401);
    expect(api.usage).toHaveLength(0);
  });

  it('advertises and serves bulk routes with per-item results and partial faults', async () => {
    const api = createTestDrip();
    const health = (await (await api.fetch('https://drip.test/health')).json()) as { capabilities: string[] };
    expect(health.capabilities).toEqual(['usage-bulk', 'runs-record-bulk']);
    api.inject({ type: 'partial', route: '/usage/internal/bulk', status: 503, indexes: [1], times: 1 });
    const events = [usageBody('a', 1), usageBody('b', 2), usageBody('c', 4)];
    const r1 = await post(api, '/usage/internal/bulk', { events });
    const results = r1.body.results as Array<{ index: number; status: number; isDuplicate?: boolean }>;
    expect(results.map((x) => x.status)).toEqual([201, 503, 201]);
    expect(api.totalUsage()).toBe(5);
    const r2 = await post(api, '/usage/internal/bulk', { events });
    const again = r2.body.results as Array<{ status: number; isDuplicate?: boolean }>;
    expect(again.map((x) => x.isDuplicate)).toEqual([true, false, true]);
    expect(api.totalUsage()).toBe(7);
    expect(createTestDrip({ bulk: false }).fetch).toBeTypeOf('function');
    const noBulk = createTestDrip({ bulk: false });
    expect((await post(noBulk, '/usage/internal/bulk', { events })).status).toBe(404);
  });

  it('applies every active partial fault to one batch, item by item', async () => {
    const api = createTestDrip();
    api.inject({
      type: 'partial',
      route: '/run-events/batch',
      status: 409,
      code: 'IDEMPOTENCY_KEY_IN_PROGRESS',
      indexes: [0],
      times: 1,
    });
    api.inject({
      type: 'partial',
      route: '/run-events/batch',
      status: 404,
      code: 'RUN_NOT_FOUND',
      indexes: [2],
      times: 1,
    });
    const events = [0, 1, 2].map((i) => ({
      customerId: 'cus_1',
      eventType: 'tool.call',
      idempotencyKey: `e${i}`,
    }));
    const r = await post(api, '/run-events/batch', { events });
    expect(r.body).toMatchObject({ created: 1, skipped: 2 });
    const items = r.body.events as Array<{ skipped?: boolean; reason?: string }>;
    expect(items.map((e) => e.reason)).toEqual(['IDEMPOTENCY_KEY_IN_PROGRESS', undefined, 'RUN_NOT_FOUND']);
    expect(api.runEvents).toHaveLength(1);
  });

  it('records runs, dedupes on externalRunId and matches expectRun', async () => {
    const api = createTestDrip();
    const run = {
      customerId: 'cus_1',
      workflow: 'get-items-id',
      status: 'COMPLETED',
      externalRunId: 'mw:cus_1:r1',
      events: [{ eventType: 'llm.call', model: 'gpt-4', inputTokens: 5 }],
    };
    expect((await post(api, '/runs/record', run)).status).toBe(201);
    const dup = await post(api, '/runs/record', run);
    expect(dup.body.isDuplicate).toBe(true);
    const conflict = await post(api, '/runs/record', { ...run, status: 'FAILED' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe('DUPLICATE_RUN');
    expect(api.runs).toHaveLength(1);
    api.expectRun({
      workflow: 'get-items-id',
      status: 'COMPLETED',
      events: [{ eventType: 'llm.call', model: 'gpt-4' }],
    });
    expect(() => api.expectRun({ workflow: 'get-items-id', status: 'FAILED' })).toThrow(/recorded runs/);
    expect(() => api.expectRun({ workflow: 'get-items-id', events: 2 })).toThrow();
  });

  it('injects status faults with Retry-After, bounded by times', async () => {
    const api = createTestDrip();
    const f = api.inject({ type: 'status', status: 429, retryAfter: 2, times: 1 });
    const r1 = await post(api, '/usage/internal', usageBody('k'));
    expect(r1.status).toBe(429);
    expect(r1.headers.get('retry-after')).toBe('2');
    expect(r1.body.retryAfter).toBe(2);
    expect(f.spent).toBe(true);
    expect((await post(api, '/usage/internal', usageBody('k'))).status).toBe(201);
    expect(api.usage).toHaveLength(1);
  });

  it('resets connections, optionally after applying the request', async () => {
    const api = createTestDrip();
    api.inject({ type: 'reset', afterApply: true, times: 1 });
    await expect(post(api, '/usage/internal', usageBody('k'))).rejects.toThrow(TypeError);
    expect(api.usage).toHaveLength(1);
    const retry = await post(api, '/usage/internal', usageBody('k'));
    expect(retry.body.isDuplicate).toBe(true);
    api.down();
    await expect(post(api, '/usage/internal', usageBody('k2'))).rejects.toThrow('fetch failed');
    api.up();
    expect((await post(api, '/usage/internal', usageBody('k2'))).status).toBe(201);
    api.expectUsage({ quantity: 2 });
  });

  it('hangs on timeout faults until the caller aborts', async () => {
    const api = createTestDrip();
    api.inject({ type: 'timeout', times: 1 });
    const controller = new AbortController();
    const pending = post(api, '/usage/internal', usageBody('k'), controller.signal);
    controller.abort(new Error('client timeout'));
    await expect(pending).rejects.toThrow('client timeout');
    expect(api.usage).toHaveLength(0);
    expect(api.requests[0]?.outcome).toBe('timeout');
  });

  it('delays answers on the fake clock', async () => {
    const clock = createFakeClock(1_000);
    const api = createTestDrip({ clock });
    api.inject({ type: 'latency', ms: 500, times: 1 });
    let done = false;
    const pending = post(api, '/usage/internal', usageBody('k')).then((r) => {
      done = true;
      return r;
    });
    await clock.advance(499);
    expect(done).toBe(false);
    await clock.advance(1);
    expect((await pending).status).toBe(201);
    expect(api.usage[0]?.createdAt).toBe(1_500);
  });

  it('refuses unknown customers when auto-creation is off', async () => {
    const api = createTestDrip({ autoCreateCustomers: false, customers: ['cus_ok'] });
    expect((await post(api, '/usage/internal', usageBody('k', 1, 'cus_nope'))).body.code).toBe(
      'CUSTOMER_NOT_FOUND',
    );
    expect((await post(api, '/usage/internal', usageBody('k', 1, 'cus_ok'))).status).toBe(201);
  });
});

describe('createFakeClock', () => {
  it('fires timers in order only when advanced', async () => {
    const clock = createFakeClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    const t = clock.setTimeout(() => fired.push('x'), 5);
    clock.setTimeout(() => fired.push('a'), 10);
    clock.clearTimeout(t);
    await clock.advance(15);
    expect(fired).toEqual(['a']);
    expect(clock.now()).toBe(15);
    await clock.advance(5);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.pending()).toBe(0);
  });
});
