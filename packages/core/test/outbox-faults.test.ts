import { afterEach, describe, expect, it } from 'vitest';
import { Drip } from '../src/client';
import { createOutbox, type Outbox } from '../src/outbox/outbox';
import type { OutboxOptions } from '../src/outbox/types';
import { type LoopbackApi, startLoopbackApi } from './outbox-http';

const quiet = { warn: () => {} };
let open: Array<{ outbox: Outbox; server: LoopbackApi }> = [];

afterEach(async () => {
  for (const { outbox, server } of open) {
    await outbox.close(100);
    await server.close();
  }
  open = [];
});

async function setup(options: OutboxOptions = {}, bulk = true) {
  const server = await startLoopbackApi({ bulk });
  const client = new Drip({ apiKey: server.api.apiKey, baseUrl: server.baseUrl, maxAttempts: 1 });
  const outbox = createOutbox({
    client,
    shutdownHooks: false,
    flushIntervalMs: 5,
    backoffBaseMs: 10,
    backoffCapMs: 80,
    timeoutMs: 400,
    batchSize: 50,
    maxInFlight: 8,
    logger: quiet,
    ...options,
  });
  open.push({ outbox, server });
  return { server, outbox, api: server.api };
}

/** Enqueues `n` usage records over `customers` and `n / 10` runs; returns what was enqueued. */
function load(outbox: Outbox, n: number, customers = 4) {
  let quantity = 0;
  let runs = 0;
  for (let i = 0; i < n; i++) {
    const q = (i % 7) + 1;
    expect(
      outbox.enqueue({ type: 'usage', customerId: `cus_${i % customers}`, meter: 'api_calls', quantity: q }),
    ).toBe(true);
    quantity += q;
    if (i % 10 === 0) {
      outbox.enqueue({
        type: 'run',
        customerId: `cus_${i % customers}`,
        workflow: 'load',
        status: 'COMPLETED',
        events: [{ eventType: 'x' }],
      });
      runs++;
    }
  }
  return { quantity, runs, records: n };
}

function expectExact(
  server: LoopbackApi,
  outbox: Outbox,
  sent: { quantity: number; runs: number; records: number },
  aggregated = false,
) {
  const { api } = server;
  // 0 lost, 0 doubled: the applied totals equal the enqueued totals, and every key was applied once.
  expect(api.totalUsage({ meter: 'api_calls' })).toBe(sent.quantity);
  if (!aggregated) expect(api.usage).toHaveLength(sent.records);
  expect(new Set(api.usage.map((u) => u.idempotencyKey)).size).toBe(api.usage.length);
  expect(api.runs).toHaveLength(sent.runs);
  const s = outbox.stats();
  expect(s.dropped).toEqual({ overflow: 0, expired: 0, rejected: 0, invalid: 0, closed: 0, 'no-client': 0 });
  expect(s.deadLettered).toBe(0);
  expect(s.queued + s.inFlight).toBe(0);
}

describe('outbox against a faulty API on loopback', () => {
  for (const bulk of [true, false]) {
    const mode = bulk ? 'bulk routes' : 'per-item routes';

    it(`API down for a while, then back (${mode})`, async () => {
      const { server, outbox } = await setup({}, bulk);
      const a = load(outbox, 100);
      await outbox.flush(5_000);
      await server.stop();
      const b = load(outbox, 200);
      // Repeated failures pause delivery; how soon depends on the machine's load, so wait (bounded).
      for (let i = 0; i < 200 && !['paused', 'probing'].includes(outbox.stats().state); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(['paused', 'probing']).toContain(outbox.stats().state);
      await server.start();
      const r = await outbox.flush(15_000);
      expect(r.delivered).toBe(true);
      expectExact(server, outbox, { quantity: a.quantity + b.quantity, runs: a.runs + b.runs, records: 300 });
    });

    it(`5xx storm (${mode})`, async () => {
      const { server, outbox } = await setup({}, bulk);
      server.api.inject({ type: 'status', status: 500, times: 8 });
      server.api.inject({ type: 'status', status: 503, retryAfter: 0, times: 4 });
      const sent = load(outbox, 150);
      expect((await outbox.flush(15_000)).delivered).toBe(true);
      expectExact(server, outbox, sent);
      expect(outbox.stats().retried).toBeGreaterThan(0);
    });

    it(`429 with Retry-After (${mode})`, async () => {
      const { server, outbox } = await setup({}, bulk);
      server.api.inject({ type: 'status', status: 429, retryAfter: 1, times: 2 });
      const started = Date.now();
      const sent = load(outbox, 80);
      expect((await outbox.flush(15_000)).delivered).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expectExact(server, outbox, sent);
    });

    it(`connection resets, before and after the server applied the request (${mode})`, async () => {
      const { server, outbox } = await setup({}, bulk);
      server.resetNext(3, true);
      const a = load(outbox, 120);
      await outbox.flush(15_000);
      server.resetNext(3, false);
      const b = load(outbox, 120);
      expect((await outbox.flush(15_000)).delivered).toBe(true);
      expectExact(server, outbox, { quantity: a.quantity + b.quantity, runs: a.runs + b.runs, records: 240 });
      expect(outbox.stats().deduplicated).toBeGreaterThan(0);
    });

    it(`slow responses past the timeout (${mode})`, async () => {
      const { server, outbox } = await setup({ timeoutMs: 150 }, bulk);
      server.api.inject({ type: 'latency', ms: 400, times: 3 });
      const sent = load(outbox, 60);
      expect((await outbox.flush(15_000)).delivered).toBe(true);
      expectExact(server, outbox, sent);
    });
  }

  it('aggregation keeps exact totals through resets and 5xx', async () => {
    const { server, outbox } = await setup({ aggregate: { windowMs: 20 } });
    server.resetNext(2, true);
    server.api.inject({ type: 'status', status: 502, times: 3 });
    const sent = load(outbox, 500);
    expect((await outbox.flush(15_000)).delivered).toBe(true);
    expectExact(server, outbox, sent, true);
    expect(server.api.usage.length).toBeLessThanOrEqual(8);
  });
});
