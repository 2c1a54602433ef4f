import { describe, expect, it } from 'vitest';
import { DripValidationError } from '../src/errors';
import { FakeClock, makeClient, type Reply } from './helpers';

const ok = (q = 1): Reply => ({
  status: 201,
  body: {
    success: true,
    usageEventId: 'use_1',
    isDuplicate: false,
    charge: { id: 'chg_1', amountUsdc: `${(q / 1000).toFixed(6)}`, status: 'CONFIRMED' },
  },
});

describe('StreamMeter (spec §5.6)', () => {
  it('flushes the running total to POST /usage with a stream_ key', async () => {
    const { client, calls } = makeClient([ok(7)]);
    const m = client.createStreamMeter({ customerId: 'cus_1', meter: 'tokens', metadata: { s: 1 } });
    m.add(3);
    m.add(4);
    m.add(0);
    expect(m.total).toBe(7);
    const res = await m.flush();
    expect(res).toEqual({
      success: true,
      quantity: 7,
      charge: { id: 'chg_1', amountUsdc: '0.007000', status: 'CONFIRMED' },
      isDuplicate: false,
    });
    expect(calls[0]!.path).toBe('/v1/usage');
    expect(calls[0]!.body).toEqual({
      customerId: 'cus_1',
      usageType: 'tokens',
      quantity: 7,
      idempotencyKey: 'stream_testinst_1',
      metadata: { s: 1 },
    });
    expect(m.total).toBe(0);
    expect(await m.flush()).toMatchObject({ quantity: 0 }); // nothing to send
    expect(calls).toHaveLength(1);
  });

  it('a failed flush keeps its key and quantity; additions meanwhile go to the next flush', async () => {
    const { client, calls, clock } = makeClient([
      { status: 422, body: { error: 'bad', code: 'VALIDATION_ERROR' } },
      ok(),
      ok(),
    ]);
    const m = client.createStreamMeter({ customerId: 'cus_1', meter: 'tokens', idempotencyKey: 'base' });
    m.add(5);
    await expect(m.flush()).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    m.add(2);
    await clock.run(m.flush());
    await clock.run(m.flush());
    expect(
      calls.map((c) => [
        (c.body as { idempotencyKey: string }).idempotencyKey,
        (c.body as { quantity: number }).quantity,
      ]),
    ).toEqual([
      ['base:flush:1', 5],
      ['base:flush:1', 5],
      ['base:flush:2', 2],
    ]);
    expect(m.flushCount).toBe(2);
  });

  it('automatic retries resend the same key (one retry layer: the client transport)', async () => {
    const { client, calls, clock } = makeClient([
      'network-error',
      { status: 503, body: { error: 'x', code: 'SERVICE_UNAVAILABLE' } },
      ok(),
    ]);
    const m = client.createStreamMeter({ customerId: 'cus_1', meter: 'tokens' });
    m.add(1);
    await clock.run(m.flush());
    expect(new Set(calls.map((c) => (c.body as { idempotencyKey: string }).idempotencyKey)).size).toBe(1);
    expect(calls).toHaveLength(3);
  });

  it('concurrent flush() calls share one in-flight promise', async () => {
    const { client, calls } = makeClient([ok()]);
    const m = client.createStreamMeter({ customerId: 'cus_1', meter: 'tokens' });
    m.add(1);
    const a = m.flush();
    const b = m.flush();
    expect(a).toBe(b);
    await a;
    expect(calls).toHaveLength(1);
  });

  it('flushThreshold triggers a background flush; onAdd/onFlush are called', async () => {
    const flushed: number[] = [];
    const added: number[] = [];
    const { client, calls } = makeClient([ok()]);
    const m = client.createStreamMeter({
      customerId: 'cus_1',
      meter: 'tokens',
      flushThreshold: 10,
      onAdd: (_q, total) => added.push(total),
      onFlush: (r) => flushed.push(r.quantity),
    });
    m.add(6);
    expect(calls).toHaveLength(0);
    m.add(6);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(calls).toHaveLength(1);
    expect(added).toEqual([6, 12]);
    expect(flushed).toEqual([12]);
  });

  it('flushIntervalMs flushes on a timer; close() flushes the rest and stops the timer', async () => {
    const clock = new FakeClock();
    const { client, calls } = makeClient([ok()], { clock });
    const m = client.createStreamMeter({ customerId: 'cus_1', meter: 'tokens', flushIntervalMs: 1000 });
    m.add(2);
    await clock.advance(999);
    expect(calls).toHaveLength(0);
    await clock.advance(1);
    expect(calls).toHaveLength(1);
    m.add(3);
    await client.close();
    expect(calls).toHaveLength(2);
    expect((calls[1]!.body as { quantity: number }).quantity).toBe(3);
    expect(clock.pendingTimers).toBe(0);
    expect(() => m.add(1)).toThrow(DripValidationError);
  });

  it('background errors go to onError and never throw into the caller', async () => {
    const errors: unknown[] = [];
    const { client } = makeClient([{ status: 404, body: { error: 'x', code: 'CUSTOMER_NOT_FOUND' } }]);
    const m = client.createStreamMeter({
      customerId: 'cus_1',
      meter: 'tokens',
      flushThreshold: 1,
      onError: (e) => errors.push(e),
    });
    m.add(1);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(errors).toHaveLength(1);
    expect(m.pendingQuantity).toBe(1);
    m.reset();
    expect(m.pendingQuantity).toBe(0);
    expect(m.total).toBe(0);
  });

  it.each([Number.NaN, -1, Number.POSITIVE_INFINITY])('add(%s) is a validation error', (q) => {
    const { client } = makeClient([ok()]);
    const m = client.createStreamMeter({ customerId: 'cus_1', meter: 'tokens' });
    expect(() => m.add(q)).toThrow(DripValidationError);
    expect(m.total).toBe(0);
  });
});
