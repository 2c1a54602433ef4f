import { describe, expect, it } from 'vitest';
import { createOutbox } from '../src/outbox/outbox';
import { createTestDrip } from '@drip/testing';
import { Drip } from '../src/client';
import { created, type MeterReq, meterView, resolveBegin, setupMeter, transportOutbox } from './helpers';

/** One request through the meter, as a client sends it (with its own `Idempotency-Key`). */
async function serve(meter: ReturnType<typeof setupMeter>['meter'], key: string, customer = 'cus_1') {
  const req: MeterReq = { headers: { 'idempotency-key': key, 'x-customer': customer } };
  const begun = await resolveBegin(meter.begin(meterView('POST', '/api/chat', req)));
  if (begun.kind !== 'continue') throw new Error('not metered');
  begun.handle.finish({ status: 200, route: '/api/chat' });
}

describe('aggregation never bills a retried request twice (issue 12, item 1)', () => {
  const options = {
    idempotencyHeader: 'Idempotency-Key',
    customer: (req: MeterReq) => req.headers['x-customer'],
    outbox: { aggregate: { windowMs: 50 } },
  };

  it('a retry in the same aggregation window is billed once', async () => {
    const { api, meter } = setupMeter(options);
    await serve(meter, 'req-1');
    await serve(meter, 'req-1'); // the client's retry
    await serve(meter, 'req-2');
    await meter.flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_1', meter: 'api_calls' })).toBe(2);
    expect(api.runs).toHaveLength(2);
    await meter.close(1_000);
  });

  it('a retry in a later aggregation window is billed once', async () => {
    const { api, meter } = setupMeter(options);
    await serve(meter, 'req-1');
    await serve(meter, 'req-2');
    await meter.flush(5_000);
    await serve(meter, 'req-1'); // retried after the first window was sealed and sent
    await serve(meter, 'req-3');
    await meter.flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_1', meter: 'api_calls' })).toBe(3);
    await meter.close(1_000);
  });

  it('keyless usage is still summed into one record per window', async () => {
    const api = createTestDrip();
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
    const outbox = createOutbox({ client, aggregate: { windowMs: 50 }, shutdownHooks: false });
    for (let i = 0; i < 10; i++)
      outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'tokens', quantity: 3 });
    await outbox.flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_1', meter: 'tokens' })).toBe(30);
    expect(api.usage).toHaveLength(1);
    expect(outbox.stats().aggregated).toBe(9);
    await outbox.close(1_000);
  });

  it('a keyed record is sent under its own key, never folded into an aggregate', async () => {
    const api = createTestDrip();
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
    const outbox = createOutbox({ client, aggregate: { windowMs: 50 }, shutdownHooks: false });
    outbox.enqueue({
      type: 'usage',
      customerId: 'cus_1',
      meter: 'tokens',
      quantity: 3,
      idempotencyKey: 'k-1',
    });
    outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'tokens', quantity: 3 });
    outbox.enqueue({
      type: 'usage',
      customerId: 'cus_1',
      meter: 'tokens',
      quantity: 3,
      idempotencyKey: 'k-1',
    });
    await outbox.flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_1', meter: 'tokens' })).toBe(6);
    expect(api.usage.map((u) => u.idempotencyKey)).toContain('k-1');
    await outbox.close(1_000);
  });
});

describe('aggregation groups by units', () => {
  it('aggregation keeps records with different units apart', async () => {
    const { outbox, posts } = transportOutbox(created, { aggregate: { windowMs: 5 } });
    const base = { type: 'usage' as const, customerId: 'cus_1', meter: 'storage' };
    outbox.enqueue({ ...base, quantity: 2, units: 'GB' });
    outbox.enqueue({ ...base, quantity: 3, units: 'MB' });
    outbox.enqueue({ ...base, quantity: 4, units: 'GB' });
    expect(await outbox.flush(5_000)).toEqual({ delivered: true, remaining: 0 });
    const sent = posts.map((p) => [p.body.units, p.body.quantity]).sort();
    expect(sent).toEqual([
      ['GB', 6],
      ['MB', 3],
    ]);
    await outbox.close(1_000);
  });
});
