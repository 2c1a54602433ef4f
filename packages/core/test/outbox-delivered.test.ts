import { afterEach, describe, expect, it } from 'vitest';
import { createOutbox, type Outbox } from '../src/outbox/outbox';
import type { DeliveryResponse, DeliveryTransport, OutboxOptions } from '../src/outbox/types';

// `outbox.delivered()` and `waitUntil(register, t, { flush: false })`: the promise a long-running server's
// shutdown waits for (Next's `after()` on `next start`), without a send per request.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sent {
  keys: string[];
  at: number;
}

/** A bulk-capable transport whose answers the test can hold back; one success per item unless `refuse`. */
function heldTransport(refuse = false) {
  const sent: Sent[] = [];
  const holds: Array<() => void> = [];
  let holding = false;
  const transport: DeliveryTransport = {
    health: async () => ({ status: 200, body: { status: 'healthy', capabilities: ['usage-bulk'] } }),
    post: async (_path, body) => {
      const events = (body as { events?: Array<{ idempotencyKey: string }> }).events ?? [];
      sent.push({ keys: events.map((e) => e.idempotencyKey), at: Date.now() });
      if (holding) await new Promise<void>((r) => holds.push(r));
      const status = refuse ? 422 : 201;
      const answer: DeliveryResponse = {
        status: 200,
        body: {
          results: events.map((_, index) =>
            refuse
              ? { index, status, error: { code: 'VALIDATION_ERROR', message: 'no' } }
              : { index, status, usageEventId: `use_${index}` },
          ),
        },
      };
      return answer;
    },
  };
  return {
    transport,
    sent,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const h of holds.splice(0)) h();
    },
    /** Answers the newest held post only. */
    releaseLast: () => holds.pop()?.(),
  };
}

const outboxes: Outbox[] = [];
function outboxWith(transport: DeliveryTransport, options: Partial<OutboxOptions> = {}): Outbox {
  const outbox = createOutbox({ transport, shutdownHooks: false, logger: {}, ...options });
  outboxes.push(outbox);
  return outbox;
}
const usage = (key: string) =>
  ({ type: 'usage', customerId: 'cus_1', meter: 'api_calls', quantity: 1, idempotencyKey: key }) as const;

/** Whether `p` has settled within `ms`. */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let done = false;
  void p.then(() => {
    done = true;
  });
  await sleep(ms);
  return done;
}

afterEach(async () => {
  await Promise.all(outboxes.splice(0).map((o) => o.close(50)));
});

describe('outbox.delivered()', () => {
  it('starts no send, and resolves once the records accepted before it were delivered on the schedule', async () => {
    const t = heldTransport();
    const outbox = outboxWith(t.transport, { flushIntervalMs: 300 });
    const start = Date.now();
    outbox.enqueue(usage('k_1'));
    outbox.enqueue(usage('k_2'));
    const p = outbox.delivered();
    expect(await settledWithin(p, 100)).toBe(false);
    expect(t.sent).toHaveLength(0); // a flush would have sent by now
    await p;
    expect(t.sent.flatMap((s) => s.keys)).toEqual(['k_1', 'k_2']);
    expect((t.sent[0] as Sent).at - start).toBeGreaterThanOrEqual(250); // the regular interval, one batch
    expect(outbox.stats().sent).toBe(2);
  });

  it('is not held by a record accepted after it', async () => {
    const t = heldTransport();
    const outbox = outboxWith(t.transport, { flushIntervalMs: 50 });
    const order: string[] = [];
    outbox.enqueue(usage('k_a'));
    // What had been sent when it resolved, taken at that moment.
    const p = outbox.delivered().then(() => order.push(`resolved after ${t.sent.length} post(s)`));
    t.hold();
    while (t.sent.length === 0) await sleep(5); // k_a is in flight
    outbox.enqueue(usage('k_b')); // queued for the next batch
    t.release();
    await p;
    await outbox.flush(2_000);
    for (const s of t.sent) order.push(...s.keys.map((k) => `sent ${k}`));
    expect(t.sent.map((s) => s.keys)).toEqual([['k_a'], ['k_b']]);
    // Resolved when k_a was answered, before k_b's batch left 50 ms later.
    expect(order).toEqual(['resolved after 1 post(s)', 'sent k_a', 'sent k_b']);
  });

  it('waits for a record in flight accepted before it, while a later batch is answered', async () => {
    const t = heldTransport();
    // One record a batch, two batches in flight at once.
    const outbox = outboxWith(t.transport, { flushIntervalMs: 20, batchSize: 1, maxBulkInFlight: 2 });
    t.hold();
    outbox.enqueue(usage('k_1'));
    const upToFirst = outbox.delivered();
    outbox.enqueue(usage('k_2'));
    const upToSecond = outbox.delivered();
    while (t.sent.length < 2) await sleep(5); // both in flight, both answers held
    t.releaseLast(); // k_2 answered; k_1 still in flight
    await sleep(30);
    expect(outbox.stats().sent).toBe(1);
    expect(await settledWithin(upToFirst, 0)).toBe(false);
    expect(await settledWithin(upToSecond, 0)).toBe(false);
    t.release();
    await Promise.all([upToFirst, upToSecond]);
    expect(outbox.stats().sent).toBe(2);
  });

  it('counts records refused for good as gone (dead letters)', async () => {
    const t = heldTransport(true);
    const outbox = outboxWith(t.transport, { flushIntervalMs: 20 });
    outbox.enqueue(usage('k_1'));
    const start = Date.now();
    await outbox.delivered(5_000);
    expect(outbox.stats().deadLettered).toBe(1);
    expect(Date.now() - start).toBeLessThan(2_000); // released by the refusal, not by the timeout
  });

  it('resolves at its timeout when delivery does not answer', async () => {
    const t = heldTransport();
    t.hold();
    const outbox = outboxWith(t.transport, { flushIntervalMs: 10 });
    outbox.enqueue(usage('k_1'));
    const start = Date.now();
    await outbox.delivered(120);
    expect(Date.now() - start).toBeGreaterThanOrEqual(100);
    expect(outbox.stats().inFlight).toBe(1);
    t.release();
  });

  it('resolves when a flush (the shutdown flush) has sent the records', async () => {
    const t = heldTransport();
    const outbox = outboxWith(t.transport, { flushIntervalMs: 60_000 });
    outbox.enqueue(usage('k_1'));
    const p = outbox.delivered();
    expect(await settledWithin(p, 60)).toBe(false);
    await outbox.flush(2_000);
    expect(await settledWithin(p, 10)).toBe(true);
    expect(t.sent.flatMap((s) => s.keys)).toEqual(['k_1']);
  });

  it('with aggregation on, resolves once the outbox is idle', async () => {
    const t = heldTransport();
    const outbox = outboxWith(t.transport, { flushIntervalMs: 20, aggregate: { windowMs: 50 } });
    outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'api_calls', quantity: 2 });
    outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'api_calls', quantity: 3 });
    const start = Date.now();
    await outbox.delivered(5_000);
    expect(Date.now() - start).toBeLessThan(2_000); // released when idle, not by the timeout
    expect(outbox.stats().queued).toBe(0);
    expect(t.sent).toHaveLength(1);
  });

  it('resolves at once after close()', async () => {
    const t = heldTransport();
    t.hold();
    const outbox = outboxWith(t.transport, { flushIntervalMs: 60_000 });
    outbox.enqueue(usage('k_1'));
    await outbox.close(20);
    expect(await settledWithin(outbox.delivered(60_000), 20)).toBe(true);
    t.release();
  });

  it('is what waitUntil hands over with { flush: false }; a flush by default', async () => {
    const t = heldTransport();
    const outbox = outboxWith(t.transport, { flushIntervalMs: 300 });
    const handed: Promise<unknown>[] = [];
    outbox.enqueue(usage('k_1'));
    outbox.waitUntil((p) => handed.push(p), 5_000, { flush: false });
    expect(await settledWithin(handed[0] as Promise<unknown>, 60)).toBe(false);
    expect(t.sent).toHaveLength(0);
    outbox.enqueue(usage('k_2'));
    outbox.waitUntil((p) => handed.push(p));
    await handed[1];
    expect(t.sent.flatMap((s) => s.keys)).toEqual(['k_1', 'k_2']); // the flush sent at once
    await handed[0];
  });
});
