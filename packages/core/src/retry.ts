/**
 * Retry classification and backoff (spec §7.2): the one rule the transport's retry loop and the outbox's
 * background delivery both follow. What an answer means (applied, not applied, unknown) is decided here;
 * the caller adds only what is its own (the transport's overall deadline, a caller's abort).
 */

import { isRecord } from './errors';

/**
 * How an outcome may be retried:
 * - `always`: the server did not apply the request (429, 503, 409 `IDEMPOTENCY_KEY_IN_PROGRESS`).
 * - `if-safe`: the outcome is unknown (no answer, timeout, 408, 500, 502, 504): repeat only a call whose
 *   repetition cannot apply twice (an idempotency key, or a method without effects).
 * - `never`: a final answer (other 4xx, 501, 505 and above) or a local error.
 *
 * @example
 * ```ts
 * const c: RetryClass = retryClass(503, 'SERVICE_UNAVAILABLE'); // 'always'
 * ```
 */
export type RetryClass = 'always' | 'if-safe' | 'never';

/** Codes of local errors (no server verdict to wait for): retrying cannot change them. */
const FINAL_CODES = ['PARSE_ERROR', 'CONFIGURATION_ERROR', 'VALIDATION_ERROR', 'ABORTED'];

/**
 * The retry class of an outcome: an HTTP status (`0` when no response came) and the error code.
 *
 * @example
 * ```ts
 * retryClass(0, 'NETWORK_ERROR'); // 'if-safe'
 * retryClass(429, 'RATE_LIMITED'); // 'always'
 * retryClass(501, 'NOT_IMPLEMENTED'); // 'never'
 * ```
 */
export function retryClass(status: number, code: string | undefined): RetryClass {
  if (code !== undefined && FINAL_CODES.includes(code)) return 'never';
  if (status === 429 || status === 503) return 'always';
  if (status === 409) return code === 'IDEMPOTENCY_KEY_IN_PROGRESS' ? 'always' : 'never';
  // No response at all: whatever the transport called it, the request may have been applied.
  if (status === 0) return 'if-safe';
  if (status === 408 || status === 500 || status === 502 || status === 504) return 'if-safe';
  return 'never';
}

/**
 * Whether an outcome may be retried by a caller whose repetition is (or is not) safe.
 *
 * @example
 * ```ts
 * mayRetry(500, 'INTERNAL_ERROR', true); // true: the body carries an idempotency key
 * mayRetry(500, 'INTERNAL_ERROR', false); // false
 * ```
 */
export function mayRetry(status: number, code: string | undefined, retrySafe: boolean): boolean {
  const c = retryClass(status, code);
  return c === 'always' || (c === 'if-safe' && retrySafe);
}

/**
 * The longest wait before retry `n` (1-based): `min(cap, base × 2^(n-1))`.
 *
 * @example
 * ```ts
 * backoffCeiling(3, 250, 8_000); // 1000
 * ```
 */
export function backoffCeiling(n: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.min(30, Math.max(0, n - 1)));
}

/**
 * Full-jitter backoff before retry `n` (1-based): `random(0, min(cap, base × 2^(n-1)))`, whole ms.
 *
 * @example
 * ```ts
 * backoffDelay(2, 1_000, 60_000, Math.random); // 0..1999
 * ```
 */
export function backoffDelay(n: number, baseMs: number, capMs: number, random: () => number): number {
  return Math.floor(random() * backoffCeiling(n, baseMs, capMs));
}

/**
 * The wait an answer asks for in its body (`retryAfter`, seconds), in ms; `undefined` when absent.
 *
 * @example
 * ```ts
 * retryAfterFromBody({ code: 'RATE_LIMITED', retryAfter: 2 }); // 2000
 * ```
 */
export function retryAfterFromBody(data: unknown): number | undefined {
  return isRecord(data) && typeof data.retryAfter === 'number' && Number.isFinite(data.retryAfter)
    ? Math.max(0, data.retryAfter * 1000)
    : undefined;
}
