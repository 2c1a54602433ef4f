/**
 * Fault injection for the in-memory Drip API. A fault matches requests by route and fires a bounded
 * number of times (`times`, default: until removed).
 */

/** Which requests a fault applies to: a path relative to `/v1` (exact, e.g. `/usage/internal`), a RegExp, or a predicate. */
export type FaultRoute = string | RegExp | ((path: string, method: string) => boolean);

interface FaultBase {
  /** Requests the fault applies to; default every route except `GET /health`. */
  route?: FaultRoute;
  /** How many matching requests it affects before it is spent; default unlimited. */
  times?: number;
}

/**
 * The kinds of fault the in-memory API can inject.
 *
 * - `status`: answer with an error status (500, 503, 429, ...) and the spec's JSON envelope; `retryAfter`
 *   (seconds) sets `Retry-After` and the body's `retryAfter`.
 * - `reset`: the connection is reset: `fetch` rejects with a `TypeError` like Node's undici. With
 *   `afterApply: true` the request is applied first (the client cannot know it was).
 * - `timeout`: the response never arrives; `fetch` rejects when the caller's `AbortSignal` fires (or after
 *   `hangMs`, default 30 s, with a reset). With `afterApply: true` the request is applied first.
 * - `latency`: the answer is delayed by `ms` (on the API's clock).
 * - `partial`: on bulk and batch routes, the items whose index is in `indexes` (or every item when
 *   omitted) are answered with `status` and `code` instead of being applied.
 *
 * @example
 * ```ts
 * api.inject({ type: 'status', status: 429, retryAfter: 2, times: 1 });
 * api.inject({ type: 'reset', route: '/usage/internal', afterApply: true, times: 1 });
 * api.inject({ type: 'partial', status: 422, code: 'VALIDATION_ERROR', indexes: [1] });
 * ```
 */
export type Fault =
  | (FaultBase & { type: 'status'; status: number; code?: string; retryAfter?: number })
  | (FaultBase & { type: 'reset'; afterApply?: boolean })
  | (FaultBase & { type: 'timeout'; afterApply?: boolean; hangMs?: number })
  | (FaultBase & { type: 'latency'; ms: number })
  | (FaultBase & { type: 'partial'; status: number; code?: string; indexes?: number[] });

/**
 * Handle of an injected fault.
 *
 * @example
 * ```ts
 * const f = api.inject({ type: 'status', status: 503 });
 * f.remove();
 * f.hits; // how many requests it affected
 * ```
 */
export interface FaultHandle {
  readonly fault: Fault;
  /** Requests the fault has affected so far. */
  readonly hits: number;
  /** Whether `times` is used up or the fault was removed. */
  readonly spent: boolean;
  remove(): void;
}

export interface ActiveFault {
  fault: Fault;
  hits: number;
  removed: boolean;
}

export function routeMatches(route: FaultRoute | undefined, path: string, method: string): boolean {
  if (route === undefined) return path !== '/health';
  if (typeof route === 'string') return route === path;
  if (route instanceof RegExp) return route.test(path);
  return route(path, method);
}

export function isSpent(f: ActiveFault): boolean {
  return f.removed || (f.fault.times !== undefined && f.hits >= f.fault.times);
}

export function defaultCode(status: number): string {
  if (status === 429) return 'RATE_LIMIT_EXCEEDED';
  if (status === 503) return 'SERVICE_UNAVAILABLE';
  if (status >= 500) return 'INTERNAL_ERROR';
  if (status === 422) return 'VALIDATION_ERROR';
  if (status === 404) return 'CUSTOMER_NOT_FOUND';
  if (status === 409) return 'IDEMPOTENCY_KEY_IN_PROGRESS';
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'CUSTOMER_BLOCKED';
  return 'ERROR';
}
