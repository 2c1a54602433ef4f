/**
 * Batch and value limits of the Drip API (spec §2.9, §3.3, §3.5, §10): the numbers every builder of a
 * request checks against, kept here once so the client, the outbox and the request meter cannot drift.
 */

/**
 * Largest quantity the API accepts (spec §2.9).
 *
 * @example
 * ```ts
 * if (quantity > MAX_QUANTITY) throw new RangeError('too large');
 * ```
 */
export const MAX_QUANTITY = 1e15;

/**
 * Most events in one recorded run (`POST /runs/record`, spec §3.5).
 *
 * @example
 * ```ts
 * const events = all.slice(0, MAX_RUN_EVENTS);
 * ```
 */
export const MAX_RUN_EVENTS = 100;

/**
 * Most items per bulk request: usage events (`/usage/internal/bulk`) and runs (`/runs/record/bulk`).
 *
 * @example
 * ```ts
 * const size = Math.min(batchSize, MAX_BULK_ITEMS.usage);
 * ```
 */
export const MAX_BULK_ITEMS = { usage: 1000, run: 500 } as const;

/**
 * Largest request body the server accepts (1 MiB); senders keep a margin below it.
 *
 * @example
 * ```ts
 * const cap = Math.min(maxBatchBytes, MAX_BODY_BYTES - 1024);
 * ```
 */
export const MAX_BODY_BYTES = 1_048_576;

/**
 * A quantity the API accepts: a finite number in [0, {@link MAX_QUANTITY}].
 *
 * @example
 * ```ts
 * isValidQuantity(1.5); // true
 * isValidQuantity(Number.NaN); // false
 * ```
 */
export function isValidQuantity(q: unknown): q is number {
  return typeof q === 'number' && Number.isFinite(q) && q >= 0 && q <= MAX_QUANTITY;
}
