import { describe, expect, it } from 'vitest';
import { errorFromResponse } from '../src/errors';
import { createOutbox } from '../src/outbox/outbox';
import type { DeliveryResponse } from '../src/outbox/types';
import { isRetryable } from '../src/transport';
import { created, transportOutbox } from './helpers';

/** Whether the outbox sends a record again after `answer` (one record, per-item route). */
async function outboxRetries(answer: DeliveryResponse): Promise<boolean> {
  let posts = 0;
  const outbox = createOutbox({
    transport: {
      post: async () => (++posts === 1 ? answer : { status: 201, body: {} }),
      health: async () => ({ status: 200, body: { capabilities: [] } }),
    },
    shutdownHooks: false,
    flushIntervalMs: 1,
    backoffBaseMs: 1,
    backoffCapMs: 2,
    retryAfterCapMs: 2,
    logger: {},
  });
  outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
  await outbox.flush(5_000);
  await outbox.close(10);
  return posts > 1;
}

describe('one retry rule for the transport and the outbox (issue 12, one rule one module)', () => {
  const statuses = [400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 501, 502, 503, 504, 505, 507, 599];

  it.each(statuses)(
    'HTTP %i: the outbox retries exactly when the transport retries a keyed call',
    async (status) => {
      const code = status === 409 ? 'IDEMPOTENCY_KEY_IN_PROGRESS' : `HTTP_${status}`;
      const err = errorFromResponse(status, JSON.stringify({ error: 'x', code }), undefined, undefined);
      const answer: DeliveryResponse = { status, body: { error: 'x', code }, code: err.code };
      expect(await outboxRetries(answer)).toBe(isRetryable(err, true));
    },
  );

  it('501 Not Implemented is final: dead-lettered, never sent again', async () => {
    expect(
      await outboxRetries({ status: 501, body: { code: 'NOT_IMPLEMENTED' }, code: 'NOT_IMPLEMENTED' }),
    ).toBe(false);
  });

  it('no answer at all is retried whatever the transport named it', async () => {
    expect(await outboxRetries({ status: 0, body: undefined, code: 'ECONNRESET' })).toBe(true);
  });
});

describe('a run the API already has', () => {
  it('a run answered 409 DUPLICATE_RUN counts as delivered (deduplicated), not dead-lettered', async () => {
    const { outbox } = transportOutbox((p) =>
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
