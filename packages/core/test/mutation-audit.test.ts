/**
 * Tests added by the mutation audit (see MUTATIONS.md): each one fails with a hand-made mutation of the
 * library that the rest of the suite let through. The mutation each test kills is named in its title.
 */
import { describe, expect, it } from 'vitest';
import { DripRateLimitError } from '../src/errors';
import { createInstanceId } from '../src/keys';
import { createOutbox } from '../src/outbox/outbox';
import type { DeliveryResponse, DeliveryTransport, DropInfo, OutboxOptions } from '../src/outbox/types';
import type { BeginResult } from '../src/pipeline/types';
import { generateWebhookSignature, verifyWebhookSignature } from '../src/webhooks';
import { FakeClock, type MeterReq, makeClient, meterView, resolveBegin, setupMeter } from './helpers';

const err = (status: number, code: string, extra: Record<string, unknown> = {}) => ({
  status,
  body: { error: code.toLowerCase(), code, ...extra },
});

describe('transport retry rules (mutation audit)', () => {
  it('client.request: an unkeyed POST is not retried after a network error; a keyed POST and a GET are (M01)', async () => {
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

  it('Retry-After waits leave the attempt budget for later backoff retries (M02)', async () => {
    const clock = new FakeClock();
    const ra = { ...err(429, 'RATE_LIMIT_EXCEEDED'), headers: { 'retry-after': '1' } };
    const ok = { status: 201, body: { success: true, usageEventId: 'use_1' } };
    const { client, calls } = makeClient([ra, ra, err(500, 'INTERNAL_ERROR'), ok], { clock, maxAttempts: 2 });
    const res = await clock.run(client.trackUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 }));
    expect(res.usageEventId).toBe('use_1');
    expect(calls).toHaveLength(4);
    // Two Retry-After waits, then one backoff retry: still within maxAttempts 2.
    expect(new Set(calls.map((c) => (c.body as { idempotencyKey: string }).idempotencyKey)).size).toBe(1);
  });
});

describe('error mapping (mutation audit)', () => {
  it('a 429 without Retry-After carries the body retryAfter (s) as retryAfterMs (M10)', async () => {
    const { client, calls } = makeClient([err(429, 'RATE_LIMIT_EXCEEDED', { retryAfter: 7 })]);
    const e = await client.getCustomer('cus_1', { maxAttempts: 1 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DripRateLimitError);
    expect((e as DripRateLimitError).retryAfterMs).toBe(7_000);
    expect(calls).toHaveLength(1);
  });
});

describe('validation (mutation audit)', () => {
  it('metadata may reference one object from two places (shared, not circular) (M13)', async () => {
    const ok = { status: 201, body: { success: true, usageEventId: 'use_1' } };
    const { client, calls } = makeClient([ok]);
    const shared = { plan: 'pro' };
    await client.trackUsage({
      customerId: 'cus_1',
      meter: 'api_calls',
      quantity: 1,
      metadata: { a: shared, b: [shared, { c: shared }] },
    });
    expect(calls).toHaveLength(1);
    expect((calls[0]!.body as { metadata: unknown }).metadata).toEqual({
      a: { plan: 'pro' },
      b: [{ plan: 'pro' }, { c: { plan: 'pro' } }],
    });
  });
});

describe('idempotency keys (mutation audit)', () => {
  it('instance ids use the whole base32 alphabet (5 random bits per character) (M15)', () => {
    const seen = new Set<string>();
    // 64 ids = 1024 characters: the chance that one of 32 letters never appears is below 1e-12.
    for (let i = 0; i < 64; i++) for (const ch of createInstanceId()) seen.add(ch);
    expect([...seen].sort().join('')).toBe([...'abcdefghijklmnopqrstuvwxyz234567'].sort().join(''));
  });
});

describe('webhook signatures (mutation audit)', () => {
  const secret = `whsec_${'ab'.repeat(32)}`;
  const body = '{"id":"whe_1","type":"webhook.test","createdAt":"2026-01-01T00:00:00.000Z","data":{}}';
  const t = 1_767_225_600;

  it('a v1 value with extra characters after the right signature is refused (M17)', async () => {
    const header = await generateWebhookSignature(body, secret, t);
    const v1 = header.split('v1=')[1] as string;
    expect(await verifyWebhookSignature(body, header, secret, { now: t })).toBe(true);
    expect(await verifyWebhookSignature(body, `t=${t},v1=${v1}00`, secret, { now: t })).toBe(false);
    expect(await verifyWebhookSignature(body, `t=${t},v1=${v1}${v1}`, secret, { now: t })).toBe(false);
  });
});

describe('request pipeline (mutation audit)', () => {
  const req: MeterReq = { headers: {}, user: { customerId: 'cus_p' } };
  async function begin(r: BeginResult | Promise<BeginResult>) {
    const b = await resolveBegin(r);
    if (b.kind !== 'continue') throw new Error(`expected continue, got ${b.kind}`);
    return b;
  }

  it('a skip rule matched only by the route the framework reports at the end bills nothing (M27)', async () => {
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

  it('a handler error with a 2xx status records the run as FAILED with the error (M29)', async () => {
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

describe('outbox (mutation audit)', () => {
  interface Post {
    path: string;
    body: Record<string, unknown>;
  }
  /** A per-item transport whose answer the test picks; records every POST. */
  function harness(answer: (post: Post) => DeliveryResponse, options: OutboxOptions = {}) {
    const posts: Post[] = [];
    const transport: DeliveryTransport = {
      post: async (path, body) => {
        const post = { path, body: body as Record<string, unknown> };
        posts.push(post);
        return answer(post);
      },
      health: async () => ({ status: 200, body: { status: 'healthy', capabilities: [] } }),
    };
    const drops: DropInfo[] = [];
    const outbox = createOutbox({
      transport,
      bulk: 'never',
      shutdownHooks: false,
      flushIntervalMs: 1,
      backoffBaseMs: 1,
      backoffCapMs: 2,
      logger: { warn: () => {}, debug: () => {} },
      onDrop: (d) => drops.push(d),
      ...options,
    });
    return { outbox, posts, drops };
  }
  const created = (): DeliveryResponse => ({ status: 201, body: { success: true } });

  it('aggregation keeps records with different units apart (M23)', async () => {
    const { outbox, posts } = harness(created, { aggregate: { windowMs: 5 } });
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

  it('close() counts what it could not deliver as dropped (closed) when the store is not durable (M24)', async () => {
    const { outbox, drops } = harness(() => ({ status: 503, body: undefined, code: 'SERVICE_UNAVAILABLE' }));
    for (let i = 0; i < 3; i++)
      outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'm', quantity: 1 });
    const r = await outbox.close(50);
    expect(r.delivered).toBe(false);
    expect(outbox.stats().dropped.closed).toBe(3);
    expect(outbox.stats().queued).toBe(0);
    expect(drops.filter((d) => d.reason === 'closed')).toHaveLength(3);
  });

  it('a run answered 409 DUPLICATE_RUN counts as delivered (deduplicated), not dead-lettered (M25)', async () => {
    const { outbox } = harness((p) =>
      p.path === '/runs/record'
        ? { status: 409, body: { error: 'dup', code: 'DUPLICATE_RUN' }, code: 'DUPLICATE_RUN' }
        : created(),
    );
    outbox.enqueue({ type: 'run', customerId: 'cus_1', workflow: 'chat', status: 'COMPLETED' });
    expect(await outbox.flush(5_000)).toEqual({ delivered: true, remaining: 0 });
    expect(outbox.stats()).toMatchObject({ sent: 1, deduplicated: 1, deadLettered: 0 });
    expect(outbox.stats().dropped.rejected).toBe(0);
    expect(outbox.deadLetters()).toHaveLength(0);
    await outbox.close(1_000);
  });
});
