// The app's own customer ids, charging from the middleware, and failures that explain themselves
// (issue 15). Everything is asserted on what reaches the in-memory API and on the lines a user reads.
import { createFakeClock, createTestDrip } from '@drip/testing';
import { describe, expect, it } from 'vitest';
import { Drip, createOutbox, createRequestMeter } from '../src/index';

function lines() {
  const out: string[] = [];
  const logger = {
    info: (m: string) => out.push(`info ${m}`),
    warn: (m: string) => out.push(`warn ${m}`),
  };
  return { out, logger };
}

/** Waits until the report's lines are out (they are grouped on the next timer tick). */
const tick = () => new Promise((r) => setTimeout(r, 5));

describe('app-own customer ids', () => {
  it('creates an unknown customer once, on first delivery, and bills it under its Drip id', async () => {
    const api = createTestDrip({ autoCreateCustomers: false, bulk: false });
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
    const outbox = createOutbox({ client, shutdownHooks: false, maxInFlight: 4 });
    for (let i = 0; i < 5; i++) {
      outbox.enqueue({ type: 'usage', externalCustomerId: 'alice', meter: 'api_calls', quantity: 1 });
    }
    outbox.enqueue({ type: 'run', externalCustomerId: 'alice', workflow: 'chat', status: 'COMPLETED' });
    expect((await outbox.flush(5_000)).delivered).toBe(true);
    expect(api.totalUsage({ customerId: 'cus_alice', meter: 'api_calls' })).toBe(5);
    expect(api.runs.map((r) => r.customerId)).toEqual(['cus_alice']);
    const creates = api.requests.filter((r) => r.method === 'POST' && r.path === '/customers');
    expect(creates).toHaveLength(1);
    expect(outbox.stats().deadLettered).toBe(0);
    await outbox.close();
  });

  it('resolves own ids inside bulk batches and keeps the other records untouched', async () => {
    const api = createTestDrip({ autoCreateCustomers: false, customers: ['cus_known'] });
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
    const outbox = createOutbox({ client, shutdownHooks: false });
    outbox.enqueue({ type: 'usage', externalCustomerId: 'bob', meter: 'tokens', quantity: 7 });
    outbox.enqueue({ type: 'usage', customerId: 'cus_known', meter: 'tokens', quantity: 2 });
    outbox.enqueue({ type: 'usage', externalCustomerId: 'carol', meter: 'tokens', quantity: 3 });
    await outbox.flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_bob', meter: 'tokens' })).toBe(7);
    expect(api.totalUsage({ customerId: 'cus_known', meter: 'tokens' })).toBe(2);
    expect(api.totalUsage({ customerId: 'cus_carol', meter: 'tokens' })).toBe(3);
    expect(outbox.stats().sent).toBe(3);
    await outbox.close();
  });

  it('a request meter resolver may return { externalCustomerId }', async () => {
    const api = createTestDrip({ autoCreateCustomers: false, bulk: false });
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
    const meter = createRequestMeter<{ user: string }>({
      client,
      customer: (req) => ({ externalCustomerId: req.user }),
      outbox: { shutdownHooks: false },
    });
    const r = await meter.begin({
      method: 'GET',
      path: '/items',
      route: '/items',
      header: () => undefined,
      raw: { user: 'alice' },
    });
    if (r.kind !== 'continue') throw new Error(`expected continue, got ${r.kind}`);
    r.handle.finish({ status: 200 });
    await meter.flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_alice', meter: 'api_calls' })).toBe(1);
    expect(api.runs[0]?.customerId).toBe('cus_alice');
    await meter.close();
  });
});

describe('charging from the middleware', () => {
  it('sends the listed meters to POST /usage and the others to /usage/internal', async () => {
    const api = createTestDrip({ bulk: true });
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
    const outbox = createOutbox({ client, shutdownHooks: false, charge: ['llm_tokens'] });
    outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'llm_tokens', quantity: 40 });
    outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
    await outbox.flush(5_000);
    const paths = api.requests.filter((r) => r.method === 'POST').map((r) => r.path);
    expect(paths).toContain('/usage');
    expect(paths).toContain('/usage/internal/bulk');
    const charged = api.requests.find((r) => r.path === '/usage');
    expect(JSON.stringify(charged?.body)).toContain('llm_tokens');
    expect(api.totalUsage({ customerId: 'cus_1', meter: 'llm_tokens' })).toBe(40);
    expect(api.totalUsage({ customerId: 'cus_1', meter: 'api_calls' })).toBe(1);
    await outbox.close();
  });
});

describe('failures that explain themselves', () => {
  it('an own id sent as a Drip id: code, customer, count and a hint', async () => {
    const api = createTestDrip({ autoCreateCustomers: false, bulk: false });
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
    const { out, logger } = lines();
    const outbox = createOutbox({ client, logger, shutdownHooks: false });
    for (let i = 0; i < 3; i++)
      outbox.enqueue({ type: 'usage', customerId: 'alice', meter: 'm', quantity: 1 });
    await outbox.flush(5_000);
    await tick();
    const warn = out.filter((l) => l.startsWith('warn'));
    expect(warn).toHaveLength(1);
    expect(warn[0]).toContain(
      'usage not delivered: CUSTOMER_NOT_FOUND for customer "alice" (3 usage records)',
    );
    expect(warn[0]).toContain('return { externalCustomerId: "alice" } from the customer resolver');
    expect(outbox.stats().problems).toEqual({ 'rejected:CUSTOMER_NOT_FOUND': 3 });
    expect(outbox.deadLetters()).toHaveLength(3);
    await outbox.close();
  });

  it('a wrong key: 401 with the server message, counted, kept as dead letters', async () => {
    const api = createTestDrip({ apiKey: 'sk_test_the_right_key_123', bulk: false });
    const client = new Drip({ apiKey: 'sk_test_a_wrong_key_4567', baseUrl: api.baseUrl, fetch: api.fetch });
    const { out, logger } = lines();
    const outbox = createOutbox({ client, logger, shutdownHooks: false });
    outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'm', quantity: 1 });
    outbox.enqueue({ type: 'usage', customerId: 'cus_2', meter: 'm', quantity: 1 });
    await outbox.flush(5_000);
    await tick();
    const warn = out.find((l) => l.startsWith('warn')) ?? '';
    expect(warn).toMatch(/^warn drip outbox: usage not delivered: 401 .+ \(UNAUTHORIZED, 2 usage records\)/);
    expect(warn).toContain('Hint: check DRIP_API_KEY');
    expect(outbox.stats().problems['rejected:UNAUTHORIZED']).toBe(2);
    expect(outbox.deadLetters()).toHaveLength(2);
    await outbox.close();
  });

  it('no key: says what to set, with the count', async () => {
    const { out, logger } = lines();
    const outbox = createOutbox({
      logger,
      shutdownHooks: false,
      clientFactory: () => new Drip({ apiKey: '', baseUrl: 'http://127.0.0.1:9/v1' }),
    });
    outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'm', quantity: 1 });
    outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'm', quantity: 2 });
    await outbox.flush(1_000);
    await tick();
    const warn = out.filter((l) => l.includes('no-client'));
    expect(warn).toHaveLength(1);
    expect(warn[0]).toContain(
      'no-client: no Drip client: set DRIP_API_KEY (or pass apiKey / client) (2 usage records)',
    );
    expect(outbox.stats().problems['no-client']).toBe(2);
    await outbox.close();
  });

  it('server down: where it tried, the error, and that records are kept', async () => {
    const { out, logger } = lines();
    const client = new Drip({
      apiKey: 'sk_test_0123456789abcdef',
      baseUrl: 'http://127.0.0.1:9/v1',
      fetch: () => Promise.reject(new TypeError('fetch failed')),
    });
    const outbox = createOutbox({ client, logger, shutdownHooks: false, bulk: 'never', backoffBaseMs: 1 });
    outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'm', quantity: 1 });
    const r = await outbox.flush(200);
    await tick();
    expect(r.delivered).toBe(false);
    const warn = out.find((l) => l.includes('cannot deliver')) ?? '';
    expect(warn).toContain('drip outbox: cannot deliver to http://127.0.0.1:9/v1: NETWORK_ERROR');
    expect(warn).toContain('records are kept and retried');
    expect(warn).toContain('Hint: is the server running and DRIP_API_URL right?');
    expect(outbox.stats().queued + outbox.stats().inFlight).toBe(1);
    await outbox.close(50);
  });

  it('is rate-limited, not once per process: later failures come in one line per interval, with their count', async () => {
    const clock = createFakeClock();
    const api = createTestDrip({ autoCreateCustomers: false, bulk: false, clock });
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch, clock });
    const { out, logger } = lines();
    const outbox = createOutbox({ client, logger, clock, shutdownHooks: false, flushIntervalMs: 10 });
    const send = async (n: number) => {
      for (let i = 0; i < n; i++)
        outbox.enqueue({ type: 'usage', customerId: 'cus_x', meter: 'm', quantity: 1 });
      await clock.advance(100);
      await clock.advance(1); // the report's lines go out on the timer tick after the answers
    };
    await send(2);
    expect(out).toEqual([
      'warn drip outbox: usage not delivered: CUSTOMER_NOT_FOUND for customer "cus_x" (2 usage records): Customer cus_x not found; kept in deadLetters()',
    ]);
    await send(3);
    await send(4);
    expect(out).toHaveLength(1); // within 30 s of the last line: counted, not yet written
    await clock.advance(30_000);
    expect(out).toHaveLength(2);
    expect(out[1]).toContain('CUSTOMER_NOT_FOUND for customer "cus_x" (7 usage records)');
    expect(outbox.stats().problems).toEqual({ 'rejected:CUSTOMER_NOT_FOUND': 9 });
    // close() writes what is still waiting, whatever the interval: the process may end right after.
    await send(1);
    expect(out).toHaveLength(2);
    await outbox.close();
    expect(out).toHaveLength(3);
    expect(out[2]).toContain('CUSTOMER_NOT_FOUND for customer "cus_x" (1 usage record)');
  });

  it('the first accepted delivery logs where and in which mode, once', async () => {
    const api = createTestDrip({ bulk: false });
    const client = new Drip({ apiKey: 'sk_test_0123456789abcdef', baseUrl: api.baseUrl, fetch: api.fetch });
    const { out, logger } = lines();
    const outbox = createOutbox({ client, logger, shutdownHooks: false });
    outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'm', quantity: 1 });
    await outbox.flush(5_000);
    outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'm', quantity: 1 });
    await outbox.flush(5_000);
    const info = out.filter((l) => l.startsWith('info'));
    expect(info).toEqual([
      `info drip outbox: delivering to ${api.baseUrl} (test mode): first batch accepted`,
    ]);
    await outbox.close();
  });
});

describe('the gate with the app own ids', () => {
  type Req = { user: string };
  const begin = async (meter: ReturnType<typeof createRequestMeter<Req>>, user: string) =>
    meter.begin({ method: 'GET', path: '/items', route: '/items', header: () => undefined, raw: { user } });

  it('asks the API about the Drip customer the own id maps to, with one create per id for gate and delivery', async () => {
    const asked: string[] = [];
    const api = createTestDrip({
      autoCreateCustomers: false,
      bulk: false,
      // Only the Drip customer of "bob" is over its limit.
      entitlements: (customerId) => {
        asked.push(customerId);
        return customerId === 'cus_bob' ? { allowed: false, remaining: 0, limit: 10 } : { allowed: true };
      },
    });
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch, maxAttempts: 1 });
    const meter = createRequestMeter<Req>({
      client,
      customer: (req) => ({ externalCustomerId: req.user }),
      gate: { entitlement: true },
      outbox: { shutdownHooks: false },
    });
    const alice = await begin(meter, 'alice');
    if (alice.kind !== 'continue') throw new Error(`expected continue, got ${alice.kind}`);
    alice.handle.finish({ status: 200 });
    expect(await begin(meter, 'bob')).toMatchObject({
      kind: 'respond',
      status: 429,
      body: { code: 'ENTITLEMENT_LIMIT_REACHED' },
    });
    expect(asked).toEqual(['cus_alice', 'cus_bob']);
    await meter.flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_alice', meter: 'api_calls' })).toBe(1);
    // The gate's lookup and the delivery share one directory: one create per id.
    const creates = api.requests.filter((r) => r.method === 'POST' && r.path === '/customers');
    expect(creates.map((r) => (r.body as { externalCustomerId: string }).externalCustomerId)).toEqual([
      'alice',
      'bob',
    ]);
    await meter.close();
  });

  it('checks the balance of the mapped customer (a balance below the minimum answers 402)', async () => {
    const api = createTestDrip({ autoCreateCustomers: false });
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch, maxAttempts: 1 });
    const meter = createRequestMeter<Req>({
      client,
      customer: (req) => ({ externalCustomerId: req.user }),
      gate: { balance: { minUsdc: '500' } },
      outbox: { shutdownHooks: false },
    });
    expect(await begin(meter, 'carol')).toMatchObject({
      kind: 'respond',
      status: 402,
      body: { code: 'PAYMENT_REQUIRED', availableUsdc: '100.000000' },
    });
    await meter.close();
  });

  it('an API that cannot answer the lookup is an outage: onApiError decides, one lookup per failure window', async () => {
    const api = createTestDrip({ autoCreateCustomers: false });
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch, maxAttempts: 1 });
    const { out, logger } = lines();
    const meter = createRequestMeter<Req>({
      client,
      logger,
      customer: (req) => ({ externalCustomerId: req.user }),
      gate: { entitlement: true, onApiError: 'deny' },
      outbox: { shutdownHooks: false },
    });
    api.inject({ type: 'status', status: 503, route: '/customers' });
    for (let i = 0; i < 3; i++) {
      expect(await begin(meter, 'dave')).toMatchObject({
        kind: 'respond',
        status: 503,
        body: { code: 'BILLING_UNAVAILABLE' },
      });
    }
    expect(api.requests.filter((r) => r.path === '/customers')).toHaveLength(1);
    expect(api.requests.filter((r) => r.path === '/entitlements/check')).toHaveLength(0);
    expect(out.join('\n')).toContain('drip: metering error (gate): customer lookup for "dave" failed');
    await meter.close();
  });
});
