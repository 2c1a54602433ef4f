import { createTestDrip } from '@drip/testing';
import { describe, expect, it } from 'vitest';
import { meterResponse } from '../src/adapter-kit';
import { Drip } from '../src/client';
import { isDripError } from '../src/errors';
import { createRequestMeter } from '../src/pipeline/request-meter';
import type { BeginResult, RequestOutcome } from '../src/pipeline/types';
import { FakeClock, type MeterReq, meterView, resolveBegin, setupMeter } from './helpers';

/** Begins a request for `customer`, lets the handler add usage, ends it with `outcome`. */
async function serve(
  meter: ReturnType<typeof setupMeter>['meter'],
  customer: string,
  handler: (ctx: Extract<BeginResult, { kind: 'continue' }>['context']) => void,
  outcome: RequestOutcome,
): Promise<void> {
  const r = await resolveBegin(
    meter.begin(meterView('GET', '/work', { headers: {}, user: { customerId: customer } })),
  );
  if (r.kind !== 'continue') throw new Error(`expected continue, got ${r.kind}`);
  r.handle.run(() => handler(r.context));
  r.handle.finish(outcome);
}

describe('one outcome rule for the default meter and extra usage', () => {
  const outcomes: Array<[string, RequestOutcome, boolean]> = [
    ['2xx', { status: 200 }, true],
    ['3xx', { status: 302 }, true],
    ['4xx', { status: 404 }, false],
    ['5xx', { status: 503 }, false],
    ['thrown', { status: 500, error: new Error('boom') }, false],
    ['aborted', { status: 200, aborted: true }, false],
  ];

  it.each(outcomes)(
    '%s: usage() is billed exactly when the default meter is',
    async (_label, outcome, bills) => {
      const { api, meter } = setupMeter();
      await serve(meter, 'cus_rule', (ctx) => ctx.usage('llm_tokens', 40), outcome);
      await meter.flush(5_000);
      expect(api.totalUsage({ customerId: 'cus_rule', meter: 'api_calls' })).toBe(bills ? 1 : 0);
      expect(api.totalUsage({ customerId: 'cus_rule', meter: 'llm_tokens' })).toBe(bills ? 40 : 0);
      expect(api.runs).toHaveLength(1);
    },
  );

  it.each(outcomes)(
    "%s: usage(m, n, { billOn: 'always' }) is billed however the request ends",
    async (_l, outcome) => {
      const { api, meter } = setupMeter();
      await serve(
        meter,
        'cus_always',
        (ctx) => {
          ctx.usage('llm_tokens', 40, { billOn: 'always' });
          ctx.usage('llm_tokens', 2);
        },
        outcome,
      );
      await meter.flush(5_000);
      const bills = outcomes.find(([, o]) => o === outcome)?.[2];
      // One record per meter: the always part, plus the outcome part when the outcome bills.
      api.expectUsage({
        customerId: 'cus_always',
        meter: 'llm_tokens',
        quantity: bills ? 42 : 40,
        records: 1,
      });
    },
  );

  it('billOn applies to extra usage too: { serverError: true } bills usage() on a 5xx', async () => {
    const { api, meter } = setupMeter({ billOn: { serverError: true } });
    await serve(meter, 'cus_5xx', (ctx) => ctx.usage('llm_tokens', 7), { status: 502 });
    await meter.flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_5xx', meter: 'llm_tokens' })).toBe(7);
    expect(api.totalUsage({ customerId: 'cus_5xx', meter: 'api_calls' })).toBe(1);
  });
});

describe('meter names follow the client rule', () => {
  it("usage('api calls') is never sent: counted, and onError gets a VALIDATION_ERROR DripError", async () => {
    const errors: unknown[] = [];
    const { api, meter } = setupMeter({ onError: (err) => errors.push(err) });
    await serve(meter, 'cus_names', (ctx) => ctx.usage('api calls', 3), { status: 200 });
    await meter.flush(5_000);
    expect(api.usage.map((u) => u.meter)).toEqual(['api_calls']);
    expect(api.requests.some((q) => JSON.stringify(q.body ?? null).includes('api calls'))).toBe(false);
    expect(meter.stats().pipeline.meteringErrors).toBe(1);
    expect(errors).toHaveLength(1);
    expect(isDripError(errors[0]) && errors[0].code).toBe('VALIDATION_ERROR');
    expect(String((errors[0] as Error).message)).toContain('api calls');
  });
});

describe('skip carried on the request view', () => {
  it('a view marked skip is not metered and shows in stats().pipeline.skipped', async () => {
    const { api, meter } = setupMeter();
    const r = await resolveBegin(
      meter.begin({
        ...meterView('GET', '/health', { headers: {}, user: { customerId: 'cus_skip' } }),
        skip: true,
      }),
    );
    expect(r.kind).toBe('skip');
    if (r.kind === 'continue') r.handle.finish({ status: 200 });
    await meter.flush(5_000);
    expect(api.usage).toHaveLength(0);
    expect(api.runs).toHaveLength(0);
    expect(meter.stats().pipeline.skipped).toBe(1);
  });
});

describe('gate during an API outage', () => {
  function gatedMeter(clock: FakeClock, failureTtlMs?: number) {
    const api = createTestDrip();
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch, maxAttempts: 1 });
    const meter = createRequestMeter<MeterReq>({
      client,
      customer: (req) => req.headers['x-c'],
      gate: { entitlement: 'api_calls', ...(failureTtlMs === undefined ? {} : { failureTtlMs }) },
      logger: { warn: () => {} },
      outbox: { shutdownHooks: false, clock },
    });
    const gateCalls = () => api.requests.filter((q) => q.path === '/entitlements/check').length;
    return { api, meter, gateCalls };
  }

  it('costs one failed call per failure interval, not one per request (fail-open)', async () => {
    const clock = new FakeClock();
    const { api, meter, gateCalls } = gatedMeter(clock);
    api.down();
    for (let i = 0; i < 10; i++) {
      const r = await resolveBegin(meter.begin(meterView('GET', '/x', { headers: { 'x-c': `cus_${i}` } })));
      expect(r.kind).toBe('continue');
    }
    expect(gateCalls()).toBe(1);
    clock.t += 5_001;
    await resolveBegin(meter.begin(meterView('GET', '/x', { headers: { 'x-c': 'cus_late' } })));
    expect(gateCalls()).toBe(2);
    api.up();
    clock.t += 5_001;
    const r = await resolveBegin(meter.begin(meterView('GET', '/x', { headers: { 'x-c': 'cus_back' } })));
    expect(r.kind).toBe('continue');
    expect(gateCalls()).toBe(3);
  });

  it('failureTtlMs configures the interval', async () => {
    const clock = new FakeClock();
    const { api, meter, gateCalls } = gatedMeter(clock, 60_000);
    api.down();
    await resolveBegin(meter.begin(meterView('GET', '/x', { headers: { 'x-c': 'cus_a' } })));
    clock.t += 30_000;
    await resolveBegin(meter.begin(meterView('GET', '/x', { headers: { 'x-c': 'cus_b' } })));
    expect(gateCalls()).toBe(1);
  });

  it("calls the client's own method: a feature key the client refuses is never sent", async () => {
    const clock = new FakeClock();
    const api = createTestDrip();
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch, maxAttempts: 1 });
    const meter = createRequestMeter<MeterReq>({
      client,
      customer: () => 'cus_feature',
      gate: { entitlement: 'x'.repeat(101) },
      logger: { warn: () => {} },
      outbox: { shutdownHooks: false, clock },
    });
    const r = await resolveBegin(meter.begin(meterView('GET', '/x', { headers: {} })));
    expect(r.kind).toBe('continue'); // fail-open
    expect(api.requests.filter((q) => q.path === '/entitlements/check')).toHaveLength(0);
    expect(meter.stats().pipeline.meteringErrors).toBe(1);
  });
});

describe('adapter kit: one rule for web responses', () => {
  it('a response without a body, or to HEAD, ends when the handler returns', () => {
    const ends: unknown[] = [];
    meterResponse('GET', new Response(null, { status: 204 }), undefined, (end) => ends.push(end));
    meterResponse('HEAD', new Response('body'), undefined, (end) => ends.push(end));
    expect(ends).toEqual([
      { status: 204, aborted: false },
      { status: 200, aborted: false },
    ]);
  });

  it('any other body ends with its body: read to the end, or cancelled (aborted), with status and headers kept', async () => {
    const ends: unknown[] = [];
    const read = meterResponse(
      'GET',
      Response.json({ ok: true }, { status: 201, headers: { 'x-app': 'yes' } }),
      undefined,
      (end) => ends.push(end),
    );
    expect(ends).toEqual([]);
    expect(read.status).toBe(201);
    expect(read.headers.get('x-app')).toBe('yes');
    expect(await read.json()).toEqual({ ok: true });
    expect(ends).toEqual([{ status: 201, aborted: false }]);
    const cancelled = meterResponse('GET', new Response('a long body'), undefined, (end) => ends.push(end));
    await cancelled.body?.cancel();
    expect(ends[1]).toEqual({ status: 200, aborted: true });
  });
});

describe('the route the framework reports at the end, and handler errors', () => {
  const req: MeterReq = { headers: {}, user: { customerId: 'cus_p' } };
  async function begin(r: BeginResult | Promise<BeginResult>) {
    const b = await resolveBegin(r);
    if (b.kind !== 'continue') throw new Error(`expected continue, got ${b.kind}`);
    return b;
  }

  it('a skip rule matched only by the route the framework reports at the end bills nothing', async () => {
    const { api, meter } = setupMeter({ routes: { 'GET /users/:id': { skip: true } } });
    // A mounted router: the full path does not match the template; the route arrives with the outcome.
    const b = await begin(meter.begin(meterView('GET', '/api/users/7', req)));
    b.handle.finish({ status: 200, route: '/users/:id' });
    const billed = await begin(meter.begin(meterView('GET', '/api/other/7', req)));
    billed.handle.finish({ status: 200, route: '/other/:id' });
    await meter.flush(5_000);
    expect(api.usage).toHaveLength(1);
    expect(api.runs).toHaveLength(1);
    expect(meter.stats().pipeline).toMatchObject({ skipped: 1, metered: 1 });
    await meter.close(1_000);
  });

  it('a handler error with a 2xx status records the run as FAILED with the error', async () => {
    const { api, meter } = setupMeter();
    const b = await begin(meter.begin(meterView('GET', '/stream', req)));
    b.handle.finish({ status: 200, error: new RangeError('stream broke') });
    await meter.flush(5_000);
    const run = api.expectRun({ status: 'FAILED', count: 1 });
    expect(run.errorCode).toBe('RangeError');
    expect(run.errorMessage).toBe('stream broke');
    await meter.close(1_000);
  });
});
