import { describe, expect, it } from 'vitest';
import { FakeClock, meterView, resolveBegin, setupMeter } from './helpers';

// Request-metering keys come from the request identity (spec §5.7, keys.ts): a retried request carries
// the same keys, and the API applies each key once.
describe('a client that retries a request with the same Idempotency-Key', () => {
  it('bills once and records one run, even when the retry ends differently', async () => {
    const clock = new FakeClock();
    const { api, meter } = setupMeter({ idempotencyHeader: 'Idempotency-Key', outbox: { clock } });
    for (const ms of [5, 40]) {
      const r = await resolveBegin(
        meter.begin(
          meterView('POST', '/orders', {
            headers: { 'idempotency-key': 'order-77' },
            user: { customerId: 'cus_r' },
          }),
        ),
      );
      if (r.kind !== 'continue') throw new Error('expected continue');
      r.context.usage('llm_tokens', 10);
      clock.t += ms;
      r.handle.finish({ status: 200 });
      await meter.flush(5_000);
    }
    expect(api.totalUsage({ customerId: 'cus_r', meter: 'api_calls' })).toBe(1);
    expect(api.totalUsage({ customerId: 'cus_r', meter: 'llm_tokens' })).toBe(10);
    expect(api.runs.filter((run) => run.customerId === 'cus_r')).toHaveLength(1);
    expect(meter.stats().deduplicated).toBeGreaterThan(0);
  });
});

describe('request identities and automatic keys share one sequence', () => {
  it('a generated identity and the next automatic key come from one counter', async () => {
    const { generateIdempotencyKey, requestIdentity } = await import('../src/keys');
    const id = requestIdentity(undefined);
    const [instance, n] = id.split('.');
    const key = generateIdempotencyKey('track');
    expect(key).toBe(`track_${instance}_${(Number.parseInt(n as string, 36) + 1).toString(36)}`);
  });
});
