/**
 * Idempotency of the in-memory API (spec §5.1): a key is applied once; the same key with the same request
 * replays the stored answer (`isDuplicate: true`, `Idempotent-Replayed: true`), with another request it
 * is a 409 `IDEMPOTENCY_KEY_REUSED`. Requests are compared by a canonical fingerprint without the key.
 */

import { HttpAnswer, error, isRecord, round6 } from './http';
import type { ApiState } from './state';

/** JSON with sorted keys and without `null`/`undefined` fields: equal requests, equal text. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined && value[k] !== null)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The request a key was used with: its route class and canonical body without the key. */
export function fingerprint(routeClass: string, body: Record<string, unknown>): string {
  const { idempotencyKey: _ignored, ...rest } = body;
  const withDefaults: Record<string, unknown> = { ...rest };
  if (typeof withDefaults.quantity === 'number') withDefaults.quantity = round6(withDefaults.quantity);
  return `${routeClass}|${canonical(withDefaults)}`;
}

/** Runs `apply` under the idempotency rules of spec §5.1. */
export function idempotent(
  state: Pick<ApiState, 'idempotency'>,
  routeClass: string,
  body: Record<string, unknown>,
  apply: () => HttpAnswer,
): HttpAnswer {
  const key = body.idempotencyKey;
  if (typeof key !== 'string') return apply();
  const fp = fingerprint(routeClass, body);
  const stored = state.idempotency.get(key);
  if (stored) {
    if (stored.fp !== fp) {
      return error(409, 'IDEMPOTENCY_KEY_REUSED', `Idempotency key ${key} was used with a different request`);
    }
    return new HttpAnswer(
      stored.status,
      { ...stored.body, isDuplicate: true },
      { 'idempotent-replayed': 'true' },
    );
  }
  const answer = apply();
  if (answer.status >= 200 && answer.status < 300 && isRecord(answer.body)) {
    state.idempotency.set(key, { fp, status: answer.status, body: answer.body });
  }
  return answer;
}
