/**
 * What a delivery answer means to the outbox: transient (send again later, same keys) or final, and the
 * verdict of each item of a bulk answer.
 */

import { isRecord as isObject } from '../errors';
import { mayRetry } from '../retry';
import type { DeliveryResponse } from './types';

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
