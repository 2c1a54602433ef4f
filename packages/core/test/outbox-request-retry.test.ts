import { describe, expect, it } from 'vitest';
import { type Clock, systemClock } from '../src/clock';
import { createOutbox } from '../src/outbox/outbox';
import type { DeliveryTransport } from '../src/outbox/types';
import { type MeterReq, meterView, resolveBegin, setupMeter } from './helpers';

/** The real clock, moved forward on demand: a client's retry comes later, with other timings. */
function laterClock(): Clock & { skip(ms: number): void } {
  let offset = 0;
  return {
    now: () => systemClock.now() + offset,
    setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms),
    clearTimeout: (h) => systemClock.clearTimeout(h),
    skip: (ms) => {
      offset += ms;
    },
  };
}

/**
 * The API's idempotency as the local server applies it (spec §5.1, checked before `externalRunId`): a
 * key is applied once; the same key with the same body replays, with another body is a 409
 * `IDEMPOTENCY_KEY_REUSED`. Per-item routes only (no bulk capability).
 */
function idempotentApi() {
  const applied = new Map<string, string>();
  const usage: Record<string, unknown>[] = [];
  const runs: Record<string, unknown>[] = [];
  const transport: DeliveryTransport = {
    post: async (path, raw) => {
      const body = raw as Record<string, unknown>;
      const key = String(body.idempotencyKey);
      const { idempotencyKey: _key, ...rest } = body;
      const fp = `${path}|${JSON.stringify(rest)}`;
      const prior = applied.get(key);
      if (prior !== undefined && prior !== fp) {
        const error = { error: `key ${key} reused`, code: 'IDEMPOTENCY_KEY_REUSED' };
        return { status: 409, body: error, code: 'IDEMPOTENCY_KEY_REUSED' };
      }
      if (prior !== undefined) return { status: 200, body: { isDuplicate: true } };
      applied.set(key, fp);
      (path.startsWith('/usage') ? usage : runs).push(body);
      return { status: 201, body: {} };
    },
    health: async () => ({ status: 200, body: { status: 'healthy', capabilities: [] } }),
  };
  const total = () => usage.reduce((n, u) => n + Number(u.quantity), 0);
  return { transport, usage, runs, total };
}

async function serve(meter: ReturnType<typeof setupMeter>['meter'], key: string) {
  const req: MeterReq = { headers: { 'idempotency-key': key, 'x-customer': 'cus_1' } };
  const begun = await resolveBegin(meter.begin(meterView('POST', '/api/chat', req)));
  if (begun.kind !== 'continue') throw new Error('not metered');
  begun.handle.finish({ status: 200, route: '/api/chat' });
}

describe('a client retry under the same Idempotency-Key is the request already applied (issue 12)', () => {
  for (const aggregate of [false, true]) {
    it(`one usage total, one run, no dead letter, no failure line${aggregate ? ' (aggregation on)' : ''}`, async () => {
      const clock = laterClock();
      const api = idempotentApi();
      const lines: string[] = [];
      const logger = { warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
      const outbox = createOutbox({
        transport: api.transport,
        clock,
        logger,
        shutdownHooks: false,
        flushIntervalMs: 1,
        ...(aggregate ? { aggregate: { windowMs: 20 } } : {}),
      });
      const { meter } = setupMeter({
        idempotencyHeader: 'Idempotency-Key',
        customer: (req: MeterReq) => req.headers['x-customer'],
        outbox: { instance: outbox, clock }, // the meter times requests on the same clock
      });
      await serve(meter, 'req-1');
      await meter.flush(5_000);
      clock.skip(1_500); // the retry starts and ends later: its run body differs from the first one
      await serve(meter, 'req-1');
      await meter.flush(5_000);
      expect(api.total()).toBe(1);
      expect(api.runs).toHaveLength(1);
      expect(outbox.deadLetters()).toEqual([]);
      expect(outbox.stats()).toMatchObject({ deadLettered: 0, deduplicated: 2 });
      expect(lines).toEqual([]);
      await meter.close(1_000);
    });
  }

  it('a key made locally stays a dead letter on IDEMPOTENCY_KEY_REUSED (it would be a bug)', async () => {
    const api = idempotentApi();
    const outbox = createOutbox({
      transport: api.transport,
      shutdownHooks: false,
      flushIntervalMs: 1,
      logger: {},
    });
    for (const endedAt of ['2026-01-01T00:00:01.000Z', '2026-01-01T00:00:05.000Z']) {
      outbox.enqueue({
        type: 'run',
        customerId: 'cus_1',
        workflow: 'chat',
        status: 'COMPLETED',
        externalRunId: 'mw:cus_1:local-1',
        idempotencyKey: 'mw:cus_1:local-1',
        localKey: true,
        endedAt,
      });
      await outbox.flush(5_000);
    }
    expect(api.runs).toHaveLength(1);
    expect(outbox.deadLetters().map((d) => d.code)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    await outbox.close(1_000);
  });
});
