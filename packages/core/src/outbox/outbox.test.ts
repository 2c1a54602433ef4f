import { createTestDrip, type TestDripOptions } from '@drip/testing';
import { describe, expect, it } from 'vitest';
import { Drip } from '../client';
import { createMemoryOutboxStore } from './memory-store';
import { createOutbox } from './outbox';
import type { DeliveryTransport, DropInfo, OutboxOptions } from './types';

const quiet = { warn: () => {}, debug: () => {} };

function harness(options: OutboxOptions = {}, apiOptions: TestDripOptions = {}) {
  const api = createTestDrip(apiOptions);
  const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch, maxAttempts: 1 });
  const drops: DropInfo[] = [];
  const outbox = createOutbox({
    client,
    shutdownHooks: false,
    backoffBaseMs: 1,
    backoffCapMs: 4,
    flushIntervalMs: 1,
    logger: quiet,
    onDrop: (d) => drops.push(d),
    ...options,
  });
  return { api, client, outbox, drops };
}

const usage = (customerId: string, quantity = 1, meter = 'api_calls') => ({
  type: 'usage' as const,
  customerId,
  meter,
  quantity,
});

describe('outbox delivery', () => {
  it('delivers usage and runs through bulk routes when /health advertises them', async () => {
    const { api, outbox } = harness();
    for (let i = 0; i < 250; i++) expect(outbox.enqueue(usage(`cus_${i % 5}`, 2))).toBe(true);
    outbox.enqueue({
      type: 'run',
      customerId: 'cus_0',
      workflow: 'chat',
      status: 'COMPLETED',
      events: [{ eventType: 'llm.call' }],
    });
    const r = await outbox.flush(5_000);
    expect(r).toEqual({ delivered: true, remaining: 0 });
    api.expectUsage({ quantity: 500, records: 250 });
    api.expectUsage({ customerId: 'cus_3', quantity: 100 });
    api.expectRun({ workflow: 'chat', status: 'COMPLETED', events: 1 });
    const paths = api.requests.map((q) => q.path);
    expect(paths).toContain('/usage/internal/bulk');
    expect(paths).toContain('/runs/record/bulk');
    expect(paths).not.toContain('/usage/internal');
    expect(paths.filter((p) => p === '/health')).toHaveLength(1);
    const s = outbox.stats();
    expect(s).toMatchObject({
      enqueued: 251,
      sent: 251,
      queued: 0,
      inFlight: 0,
      bulk: { usage: true, runs: true },
    });
    expect(s.requests).toBeLessThan(10);
  });

  it('falls back to per-item routes when the server has no bulk routes', async () => {
    const { api, outbox } = harness({ maxInFlight: 3 }, { bulk: false });
    for (let i = 0; i < 20; i++) outbox.enqueue(usage('cus_1'));
    await outbox.flush(5_000);
    api.expectUsage({ customerId: 'cus_1', quantity: 20, records: 20 });
    expect(new Set(api.requests.map((q) => q.path))).toEqual(new Set(['/health', '/usage/internal']));
  });

  it('keeps keys fixed across retries: a reset after the server applied a batch bills nothing twice', async () => {
    const { api, outbox } = harness();
    api.inject({ type: 'reset', route: '/usage/internal/bulk', afterApply: true, times: 2 });
    for (let i = 0; i < 10; i++) outbox.enqueue(usage('cus_1', 3));
    await outbox.flush(5_000);
    api.expectUsage({ customerId: 'cus_1', quantity: 30, records: 10 });
    const s = outbox.stats();
    expect(s.sent).toBe(10);
    expect(s.deduplicated).toBe(10);
    expect(s.retried).toBe(20);
  });

  it('retries 5xx storms and 429 with Retry-After, then pauses and probes with a single request', async () => {
    const { api, outbox } = harness({ pauseAfter: 3 }, { bulk: false });
    api.inject({ type: 'status', status: 503, times: 5 });
    api.inject({ type: 'status', status: 429, retryAfter: 0.05, times: 1 });
    const started = Date.now();
    for (let i = 0; i < 6; i++) outbox.enqueue(usage('cus_1'));
    await outbox.flush(10_000);
    api.expectUsage({ customerId: 'cus_1', quantity: 6, records: 6 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    // After the pause, the first successful request was alone (a probe), not one of several in flight.
    const faulted = api.requests.filter((q) => q.outcome !== 201 && q.path !== '/health');
    expect(faulted).toHaveLength(6);
    expect(outbox.stats().state).toBe('open');
    // 503s are retried by the outbox; the client's transport may itself wait out a Retry-After.
    expect(outbox.stats().retried).toBeGreaterThanOrEqual(5);
  });

  it('never pauses on 4xx: refused records go to the dead-letter list with the server error', async () => {
    const { api, outbox, drops } = harness(
      {},
      { bulk: false, autoCreateCustomers: false, customers: ['cus_ok'] },
    );
    outbox.enqueue(usage('cus_missing'));
    outbox.enqueue(usage('cus_ok'));
    outbox.enqueue(usage('cus_missing'));
    outbox.enqueue(usage('cus_ok'));
    await outbox.flush(5_000);
    api.expectUsage({ customerId: 'cus_ok', quantity: 2 });
    const s = outbox.stats();
    expect(s.deadLettered).toBe(2);
    expect(s.dropped.rejected).toBe(2);
    expect(s.state).toBe('open');
    expect(outbox.deadLetters()[0]).toMatchObject({ status: 404, code: 'CUSTOMER_NOT_FOUND' });
    expect(drops.map((d) => d.reason)).toEqual(['rejected', 'rejected']);
  });

  it('handles partial bulk failures: 4xx items dead-lettered, 5xx items retried, the rest delivered once', async () => {
    const { api, outbox } = harness();
    api.inject({ type: 'partial', route: '/usage/internal/bulk', status: 503, indexes: [0, 1], times: 1 });
    api.inject({
      type: 'partial',
      route: '/usage/internal/bulk',
      status: 422,
      code: 'VALIDATION_ERROR',
      indexes: [2],
      times: 1,
    });
    for (let i = 0; i < 5; i++) outbox.enqueue(usage('cus_1', 1));
    await outbox.flush(5_000);
    const s = outbox.stats();
    expect(s.sent + s.deadLettered).toBe(5);
    expect(s.deadLettered).toBe(1);
    api.expectUsage({ customerId: 'cus_1', quantity: 4, records: 4 });
  });

  it('falls back to per-item sends when a bulk route disappears (404), re-reading /health', async () => {
    const { api, outbox } = harness();
    outbox.enqueue(usage('cus_1'));
    await outbox.flush(5_000);
    api.inject({ type: 'status', status: 404, code: 'ROUTE_NOT_FOUND', route: '/usage/internal/bulk' });
    for (let i = 0; i < 3; i++) outbox.enqueue(usage('cus_1'));
    await outbox.flush(5_000);
    api.expectUsage({ customerId: 'cus_1', quantity: 4, records: 4 });
    expect(api.requests.filter((q) => q.path === '/health').length).toBeGreaterThanOrEqual(2);
    expect(api.requests.some((q) => q.path === '/usage/internal' && q.outcome === 201)).toBe(true);
  });
});

describe('outbox batch sizing', () => {
  it('halves bulk batches that time out until they go through, then grows them back', async () => {
    const sizes: number[] = [];
    const transport: DeliveryTransport = {
      post: async (_path, body) => {
        const n = (body as { events?: unknown[] }).events?.length ?? 1;
        sizes.push(n);
        if (n > 60) return { status: 408, body: undefined, code: 'TIMEOUT' };
        return {
          status: 200,
          body: { results: Array.from({ length: n }, (_, index) => ({ index, status: 201 })) },
        };
      },
      health: async () => ({ status: 200, body: { status: 'healthy', capabilities: ['usage-bulk'] } }),
    };
    const outbox = createOutbox({
      transport,
      shutdownHooks: false,
      batchSize: 200,
      flushIntervalMs: 1,
      backoffBaseMs: 1,
      backoffCapMs: 2,
      logger: quiet,
    });
    for (let i = 0; i < 1_000; i++) outbox.enqueue(usage('cus_1'));
    const r = await outbox.flush(10_000);
    expect(r.delivered).toBe(true);
    expect(outbox.stats().sent).toBe(1_000);
    expect(sizes[0]).toBe(200);
    expect(sizes).toContain(100);
    expect(sizes).toContain(50);
    // After successes the batch grows again (past 50) instead of staying at its smallest.
    const firstSmall = sizes.findIndex((n) => n <= 50);
    expect(sizes.slice(firstSmall).some((n) => n > 50)).toBe(true);
  });
});

describe('outbox bounds and drops', () => {
  it('drop-oldest: with the API down and a small cap, memory stays bounded and drops are exact', async () => {
    const { api, outbox, drops } = harness({ overflow: 'drop-oldest', maxRecords: 100 });
    api.down();
    for (let i = 0; i < 1_000; i++) outbox.enqueue(usage('cus_1', 1, `m${i}`));
    const s = outbox.stats();
    expect(s.queued + s.inFlight).toBeLessThanOrEqual(100);
    expect(s.dropped.overflow).toBe(900);
    expect(drops).toHaveLength(900);
    // The oldest went first.
    expect(drops[0]?.record?.kind === 'usage' && drops[0].record.body.usageType).toBe('m0');
    api.up();
    await outbox.flush(10_000);
    api.expectUsage({ customerId: 'cus_1', quantity: 100 });
    expect(new Set(api.usage.map((u) => u.meter)).has('m999')).toBe(true);
    const after = outbox.stats();
    expect(after.enqueued).toBe(after.sent + after.dropped.overflow);
  });

  it('drop-newest keeps the first records; the byte bound applies too', async () => {
    const { api, outbox } = harness({ overflow: 'drop-newest', maxRecords: 1_000_000, maxBytes: 10 * 1024 });
    api.down();
    let accepted = 0;
    for (let i = 0; i < 500; i++) if (outbox.enqueue(usage('cus_1', 1, `m${i}`))) accepted++;
    const s = outbox.stats();
    expect(s.bytes).toBeLessThanOrEqual(10 * 1024);
    expect(accepted).toBe(500 - s.dropped.overflow);
    expect(accepted).toBeGreaterThan(10);
    api.up();
    await outbox.flush(10_000);
    api.expectUsage({ customerId: 'cus_1', quantity: accepted });
    expect(api.usage.some((u) => u.meter === 'm0')).toBe(true);
    expect(api.usage.some((u) => u.meter === 'm499')).toBe(false);
  });

  it('refuses invalid input and records after close, counting each', async () => {
    const { outbox, drops } = harness();
    expect(outbox.enqueue(usage('cus_1', Number.NaN))).toBe(false);
    expect(outbox.enqueue(usage('', 1))).toBe(false);
    expect(
      outbox.enqueue({ type: 'run', customerId: 'c', workflow: 'w', status: 'DONE' as 'COMPLETED' }),
    ).toBe(false);
    await outbox.close(1_000);
    expect(outbox.enqueue(usage('cus_1'))).toBe(false);
    expect(outbox.stats().dropped).toMatchObject({ invalid: 3, closed: 1 });
    expect(drops).toHaveLength(4);
  });

  it('logs a drop as one message, without a stray undefined argument', async () => {
    const calls: unknown[][] = [];
    const levels: string[] = [];
    const log =
      (level: string) =>
      (...args: unknown[]) => {
        levels.push(level);
        calls.push(args);
      };
    const logger = { warn: log('warn'), error: log('error'), debug: () => {} };
    const { outbox } = harness({ logger });
    expect(outbox.enqueue(usage('', 1))).toBe(false);
    await outbox.close(1_000);
    expect(outbox.enqueue(usage('cus_1'))).toBe(false);
    // Lines are grouped and written on the next timer tick (one line per kind of failure, with a count).
    await new Promise((r) => setTimeout(r, 5));
    expect(calls).toHaveLength(2);
    // An invalid record is the caller's mistake (warn); one refused after close() is lost usage (error).
    expect(levels.sort()).toEqual(['error', 'warn']);
    for (const args of calls) {
      expect(args).toHaveLength(1);
      expect(String(args[0])).toMatch(
        /^drip outbox: usage not delivered: (invalid|closed): .*\(1 usage record\)/,
      );
    }
  });

  it('drops expired records after maxAgeMs', async () => {
    let now = 1_000_000;
    const transport: DeliveryTransport = {
      post: async () => ({ status: 0, body: undefined, code: 'NETWORK_ERROR' }),
      health: async () => ({ status: 200, body: { status: 'healthy' } }),
    };
    const outbox = createOutbox({
      transport,
      shutdownHooks: false,
      maxAgeMs: 1_000,
      backoffBaseMs: 1,
      backoffCapMs: 1,
      flushIntervalMs: 1,
      logger: quiet,
      clock: {
        now: () => now,
        setTimeout: (fn, ms) => setTimeout(fn, ms),
        clearTimeout: (h) => clearTimeout(h as never),
      },
    });
    outbox.enqueue(usage('cus_1'));
    await outbox.flush(50);
    now += 2_000;
    const r = await outbox.flush(200);
    expect(r.delivered).toBe(true);
    expect(outbox.stats().dropped.expired).toBe(1);
  });
});

describe('outbox aggregation', () => {
  it('sums usage per customer, meter and metadata within a window, with exact totals under faults', async () => {
    const { api, outbox } = harness({ aggregate: { windowMs: 20 } });
    api.inject({ type: 'reset', route: '/usage/internal/bulk', afterApply: true, times: 1 });
    api.inject({ type: 'status', status: 500, times: 2 });
    for (let i = 0; i < 300; i++) {
      outbox.enqueue({ ...usage(`cus_${i % 3}`, 0.1), metadata: { tier: i % 2 === 0 ? 'a' : 'b' } });
    }
    await outbox.flush(5_000);
    api.expectUsage({ quantity: 30, records: 6 });
    api.expectUsage({ customerId: 'cus_0', quantity: 10 });
    expect(outbox.stats()).toMatchObject({ enqueued: 300, aggregated: 294, sent: 6 });
    expect(new Set(api.usage.map((u) => u.idempotencyKey)).size).toBe(6);
  });
});

describe('outbox durable store', () => {
  it('replays what an abandoned outbox left, keeping keys, so nothing is billed twice', async () => {
    const store = createMemoryOutboxStore();
    const api = createTestDrip();
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch, maxAttempts: 1 });
    const first = createOutbox({
      client,
      store,
      shutdownHooks: false,
      flushIntervalMs: 1,
      backoffBaseMs: 1,
      backoffCapMs: 2,
      logger: quiet,
    });
    api.inject({ type: 'reset', afterApply: true, route: /^\/usage/ });
    for (let i = 0; i < 50; i++) first.enqueue(usage('cus_1', 2));
    await first.flush(100); // applied by the server, never acknowledged
    expect(api.totalUsage()).toBe(100);
    expect(store.size()).toBe(50);
    expect(first.stats().sent).toBe(0);
    api.up();
    const second = createOutbox({ client, store, shutdownHooks: false, flushIntervalMs: 1, logger: quiet });
    await second.ready();
    await second.flush(5_000);
    api.expectUsage({ customerId: 'cus_1', quantity: 100, records: 50 });
    expect(second.stats()).toMatchObject({ replayed: 50, sent: 50, deduplicated: 50 });
    expect(store.size()).toBe(0);
  });

  it('spills to the store when memory is full and takes records back as it drains', async () => {
    const store = createMemoryOutboxStore();
    const { api, outbox } = harness({ store, overflow: 'spill', maxRecords: 50 });
    api.down();
    for (let i = 0; i < 500; i++) outbox.enqueue(usage('cus_1'));
    await new Promise((r) => setTimeout(r, 5));
    expect(outbox.stats().spilled).toBeGreaterThan(400);
    expect(outbox.stats().queued).toBeLessThanOrEqual(50);
    api.up();
    await outbox.flush(10_000);
    api.expectUsage({ customerId: 'cus_1', quantity: 500, records: 500 });
    expect(outbox.stats()).toMatchObject({ spilled: 0, dropped: { overflow: 0 } });
  });

  it('hands the delivery to waitUntil', async () => {
    const { api, outbox } = harness();
    const promises: Promise<unknown>[] = [];
    outbox.enqueue(usage('cus_1'));
    outbox.waitUntil((p) => promises.push(p));
    expect(promises).toHaveLength(1);
    await Promise.all(promises);
    api.expectUsage({ customerId: 'cus_1', quantity: 1 });
  });
});
