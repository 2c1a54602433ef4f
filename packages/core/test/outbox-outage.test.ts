import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDrip } from '@drip/testing';
import { describe, expect, it } from 'vitest';
import { Drip } from '../src/client';
import { createOutbox } from '../src/outbox/outbox';
import type { DropInfo } from '../src/outbox/types';
import { transportOutbox } from './helpers';

function setup(options: Parameters<typeof createOutbox>[0] = {}) {
  const api = createTestDrip();
  const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch, maxAttempts: 1 });
  const outbox = createOutbox({
    client,
    shutdownHooks: false,
    backoffBaseMs: 5,
    backoffCapMs: 20,
    flushIntervalMs: 1,
    logger: { warn: () => {} },
    ...options,
  });
  return { api, outbox };
}

/** `requests` metered requests' worth of records (one usage, one run each), a tick per 500. */
async function traffic(outbox: ReturnType<typeof createOutbox>, requests: number) {
  for (let i = 0; i < requests; i++) {
    outbox.enqueue({
      type: 'usage',
      customerId: `cus_${i % 5}`,
      meter: 'api_calls',
      quantity: 1,
      idempotencyKey: `u${i}`,
    });
    outbox.enqueue({
      type: 'run',
      customerId: `cus_${i % 5}`,
      workflow: 'req',
      status: 'COMPLETED',
      events: [],
    });
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
}

describe('an API outage past the memory bound (issue 12, item 2)', () => {
  it('with default options loses nothing: overflow waits on disk and comes back', async () => {
    const { api, outbox } = setup();
    api.down();
    const requests = 12_000; // 24 000 records, more than twice the 10 000-record memory bound
    await traffic(outbox, requests);
    const during = outbox.stats();
    expect(during.spilled).toBeGreaterThan(0);
    expect(during.queued + during.inFlight).toBeLessThanOrEqual(10_000);
    api.up();
    const r = await outbox.flush(60_000);
    expect(r).toEqual({ delivered: true, remaining: 0 });
    expect(outbox.stats().dropped.overflow).toBe(0);
    expect(api.totalUsage({ meter: 'api_calls' })).toBe(requests);
    expect(api.usage).toHaveLength(requests);
    expect(api.runs).toHaveLength(requests);
    await outbox.close(1_000);
  }, 60_000);

  it('beyond the disk bound drops the newest, counted and reported, and delivers the rest', async () => {
    const drops: DropInfo[] = [];
    const errors: string[] = [];
    const { api, outbox } = setup({
      maxRecords: 100,
      maxSpillBytes: 100 * 1024,
      onDrop: (d) => drops.push(d),
      logger: { warn: () => {}, error: (m) => errors.push(m) },
    });
    api.down();
    await traffic(outbox, 2_000);
    const dropped = outbox.stats().dropped.overflow;
    expect(dropped).toBeGreaterThan(0);
    expect(drops.filter((d) => d.reason === 'overflow')).toHaveLength(dropped);
    expect(errors.some((m) => m.includes('overflow'))).toBe(true);
    api.up();
    await outbox.flush(30_000);
    expect(api.usage.length + api.runs.length + dropped).toBe(4_000);
    await outbox.close(1_000);
  }, 60_000);

  it('close() that gives up drops what is still on disk as closed, and removes the directory', async () => {
    // A private TMPDIR (os.tmpdir() reads it at each spill): other test files spill into the shared one at the
    // same time, so counting `drip-outbox-*` there raced with them.
    const privateTmp = mkdtempSync(join(tmpdir(), 'drip-outage-close-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = privateTmp;
    const spillDirs = () => readdirSync(privateTmp).filter((n) => n.startsWith('drip-outbox-'));
    try {
      const { api, outbox } = setup({ maxRecords: 100 });
      api.down();
      await traffic(outbox, 500);
      expect(outbox.stats().spilled).toBeGreaterThan(0);
      expect(spillDirs()).toHaveLength(1);
      const r = await outbox.close(50);
      expect(r.delivered).toBe(false);
      const s = outbox.stats();
      expect(s.dropped.closed + s.inFlight).toBe(1_000);
      expect(spillDirs()).toHaveLength(0);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(privateTmp, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('a spill target that fails', () => {
  it('counts and reports the records it could not take as overflow drops', async () => {
    const drops: DropInfo[] = [];
    const api = createTestDrip();
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch, maxAttempts: 1 });
    const store = {
      durable: true,
      load: async () => [],
      append: async () => {},
      spill: async () => {
        throw new Error('disk full');
      },
      unspill: async () => [],
      spilledCount: () => 0,
    };
    const outbox = createOutbox({
      client,
      store,
      maxRecords: 10,
      shutdownHooks: false,
      onDrop: (d) => drops.push(d),
      logger: { warn: () => {}, error: () => {} },
    });
    await outbox.ready();
    api.down();
    for (let i = 0; i < 30; i++)
      outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'm', quantity: 1 });
    await new Promise((r) => setTimeout(r, 20));
    const s = outbox.stats();
    expect(s.dropped.overflow).toBe(20);
    expect(drops).toHaveLength(20);
    expect(s.spilled).toBe(0);
    api.up();
    await outbox.flush(10_000);
    expect(api.totalUsage()).toBe(10);
    await outbox.close(100);
  });
});

describe('close() during an outage without a durable store', () => {
  it('close() counts what it could not deliver as dropped (closed) when the store is not durable', async () => {
    const { outbox, drops } = transportOutbox(() => ({
      status: 503,
      body: undefined,
      code: 'SERVICE_UNAVAILABLE',
    }));
    for (let i = 0; i < 3; i++)
      outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'm', quantity: 1 });
    const r = await outbox.close(50);
    expect(r.delivered).toBe(false);
    expect(outbox.stats().dropped.closed).toBe(3);
    expect(outbox.stats().queued).toBe(0);
    expect(drops.filter((d) => d.reason === 'closed')).toHaveLength(3);
  });
});
