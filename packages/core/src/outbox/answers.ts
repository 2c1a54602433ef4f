/**
 * What a delivery answer means to the outbox: transient (send again later, same keys) or final, and the
 * verdict of each item of a bulk answer.
 */

import { isRecord as isObject } from '../errors';
import { mayRetry } from '../retry';
import type { DeliveryResponse, OutboxRecord } from './types';

/**
 * Transient = worth retrying later (spec §7.2, the shared rule of `retry.ts`). Every delivery is safe to
 * repeat: its keys were fixed when the record was accepted.
 */
export function isTransient(r: DeliveryResponse): boolean {
  return mayRetry(r.status, codeOf(r), true);
}

export function codeOf(r: DeliveryResponse): string | undefined {
  if (r.code) return r.code;
  if (isObject(r.body) && typeof r.body.code === 'string') return r.body.code;
  return undefined;
}

/**
 * The answer for item `i` of a bulk request (results come in input order; the index is checked and
 * looked up only if the server numbered them differently); `undefined` when the answer has none.
 */
export function bulkItemAnswer(body: unknown, i: number): DeliveryResponse | undefined {
  const results = isObject(body) && Array.isArray(body.results) ? body.results : [];
  const direct: unknown = results[i];
  const item =
    isObject(direct) && (direct.index === i || direct.index === undefined)
      ? direct
      : results.find((x: unknown) => isObject(x) && x.index === i);
  if (!isObject(item) || typeof item.status !== 'number') return undefined;
  const err = isObject(item.error) ? item.error : undefined;
  const code = typeof err?.code === 'string' ? err.code : undefined;
  return { status: item.status, body: err ?? item, code };
}

/**
 * The final verdict on a record that got a non-transient answer; the one place that says which answers
 * count as delivered.
 *
 * - `delivered`: a 2xx applying the record now.
 * - `duplicate`: the API had already applied it: a 2xx replay (`isDuplicate`), a run's 409 `DUPLICATE_RUN`,
 *   or a 409 `IDEMPOTENCY_KEY_REUSED` for a key derived from the request (`record.requestKey`): a client
 *   retried the same request, whose record differs only in what the retry measured again (timings), and
 *   the first one was applied under that key. Nothing is billed twice either way.
 * - `rejected`: refused for good (a dead letter), including `IDEMPOTENCY_KEY_REUSED` for a key made in
 *   this process, which no retry can reproduce (a bug worth seeing).
 *
 * @example
 * ```ts
 * verdictOf(record, { status: 409, body: {}, code: 'IDEMPOTENCY_KEY_REUSED' }); // 'duplicate' if record.requestKey
 * ```
 */
export function verdictOf(
  record: OutboxRecord,
  res: DeliveryResponse,
): 'delivered' | 'duplicate' | 'rejected' {
  const { status, body } = res;
  if (status >= 200 && status < 300) {
    return isObject(body) && body.isDuplicate === true ? 'duplicate' : 'delivered';
  }
  if (status !== 409) return 'rejected';
  const code = codeOf(res);
  if (record.kind === 'run' && code === 'DUPLICATE_RUN') return 'duplicate';
  if (record.requestKey === true && code === 'IDEMPOTENCY_KEY_REUSED') return 'duplicate';
  return 'rejected';
}
