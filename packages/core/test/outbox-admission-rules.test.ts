import { createTestDrip } from '@drip/testing';
import { describe, expect, it } from 'vitest';
import { Drip } from '../src/client';
import { createOutbox } from '../src/outbox/outbox';
import { meterNameProblem } from '../src/validation';

function setup() {
  const api = createTestDrip();
  const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
  const lines: string[] = [];
  const logger = { warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
  const outbox = createOutbox({ client, shutdownHooks: false, flushIntervalMs: 1, logger });
  return { api, outbox, lines };
}

describe('outbox admission uses the one validation rule of validation.ts (issue 12)', () => {
  it('a meter name the API would refuse is refused at enqueue as invalid, with the rule message', async () => {
    const { api, outbox, lines } = setup();
    expect(outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'api calls', quantity: 1 })).toBe(
      false,
    );
    expect(outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'api_calls', quantity: 1 })).toBe(
      true,
    );
    await outbox.flush(5_000);
    expect(outbox.stats().dropped.invalid).toBe(1);
    expect(api.usage.map((u) => u.meter ?? (u as { usageType?: string }).usageType)).toEqual(['api_calls']);
    expect(outbox.deadLetters()).toEqual([]);
    await outbox.close(1_000); // writes the waiting failure lines
    const rule = meterNameProblem('api calls') as string;
    expect(lines.some((l) => l.includes(`meter ${rule}`))).toBe(true);
  });

  it('a customer id of only spaces is refused at enqueue, as the client refuses it', async () => {
    const { api, outbox } = setup();
    expect(outbox.enqueue({ type: 'usage', customerId: '   ', meter: 'api_calls', quantity: 1 })).toBe(false);
    expect(outbox.enqueue({ type: 'run', customerId: '   ', workflow: 'chat', status: 'COMPLETED' })).toBe(
      false,
    );
    await outbox.flush(5_000);
    expect(outbox.stats().dropped.invalid).toBe(2);
    expect(api.usage).toHaveLength(0);
    expect(api.runs).toHaveLength(0);
    await outbox.close(1_000);
  });
});
