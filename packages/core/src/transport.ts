/**
 * The single transport (spec §2, §7): every call of the client, `wrapApiCall`, `StreamMeter` and the
 * outbox goes through `Transport.request`. It owns headers, per-attempt timeouts, the overall deadline,
 * full-jitter backoff, `Retry-After`, request ids and the mapping of responses to errors.
 */

import { type Clock, sleep, systemClock } from './clock';
import { DripError, DripNetworkError, DripTimeoutError, errorFromResponse, isRecord } from './errors';
import { defaultFetch } from './node-fetch';
import { backoffDelay, mayRetry, retryAfterFromBody } from './retry';

/**
 * Minimal logger hook; every method is optional. Retries are logged at debug level.
 *
 * @example
 * ```ts
 * new Drip({ logger: { debug: (msg, ctx) => console.debug(msg, ctx) } });
 * ```
 */
export interface DripLogger {
  debug?(message: string, context?: Record<string, unknown>): void;
  info?(message: string, context?: Record<string, unknown>): void;
  warn?(message: string, context?: Record<string, unknown>): void;
  error?(message: string, context?: Record<string, unknown>): void;
}

/**
 * The `fetch` signature the client needs (the global `fetch` satisfies it).
 *
 * @example
 * ```ts
 * new Drip({ fetch: (url, init) => fetch(url, { ...init, keepalive: true }) });
 * ```
 */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * Retry and time limits; every field is a client option and a per-call option (spec §7.1).
 *
 * @example
 * ```ts
 * new Drip({ maxAttempts: 6, backoffBaseMs: 100, deadlineMs: 20_000 });
 * ```
 */
export interface RetryPolicy {
  /**
   * Attempts in all, including the first (default 4). `Retry-After` waits do not consume attempts, except
   * that `1` means exactly one HTTP attempt: no retry and no `Retry-After` wait (the error carries
   * `retryAfterMs` for a caller that schedules its own retries).
   */
  maxAttempts: number;
  /** Backoff base in ms (default 250): retry n waits `random(0, min(cap, base * 2^(n-1)))`. */
  backoffBaseMs: number;
  /** Backoff cap in ms (default 8000). */
  backoffCapMs: number;
  /** Longest `Retry-After` honoured, in ms (default 30 000). */
  retryAfterCapMs: number;
  /** Per-attempt timeout in ms (default 15 000; `POST /usage` 30 000). */
  timeoutMs: number;
  /** Whole-call deadline in ms, all attempts and waits (default 60 000; `POST /usage` 90 000). */
  deadlineMs: number;
}

/**
 * The defaults of spec §7.1.
 *
 * @example
 * ```ts
 * DEFAULT_RETRY_POLICY.maxAttempts; // 4
 * ```
 */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = /* @__PURE__ */ Object.freeze({
  maxAttempts: 4,
  backoffBaseMs: 250,
  backoffCapMs: 8000,
  retryAfterCapMs: 30_000,
  timeoutMs: 15_000,
  deadlineMs: 60_000,
});

/**
 * JSON-compatible query values; `undefined` and `null` are left out.
 *
 * @example
 * ```ts
 * client.request('GET', '/customers', { query: { limit: 10, isInternal: false, status: undefined } });
 * ```
 */
export type QueryValue = string | number | boolean | null | undefined;

/**
 * Per-call options of the low-level {@link Transport.request} (and `client.request`).
 *
 * @example
 * ```ts
 * await client.request('POST', '/usage/internal/bulk', { body: { events }, maxAttempts: 1, timeoutMs: 5000 });
 * ```
 */
export interface RequestOptions {
  /** JSON body; sets `Content-Type: application/json`. */
  body?: unknown;
  /** Query parameters. */
  query?: Record<string, QueryValue> | undefined;
  /** Aborts the call at once with `ABORTED`; no retry. */
  signal?: AbortSignal | undefined;
  /** Per-attempt timeout override. */
  timeoutMs?: number | undefined;
  /** Whole-call deadline override. */
  deadlineMs?: number | undefined;
  /**
   * Attempts override. `1` means exactly one HTTP attempt (no retry, no `Retry-After` wait), so the caller
   * schedules its own retries; the error's `retryAfterMs` says how long the server asked it to wait.
   */
  maxAttempts?: number | undefined;
  /**
   * Whether the call may be repeated after an unknown outcome (network error, timeout, 500/502/504).
   * Default: every non-POST, and POSTs whose body carries an `idempotencyKey`. 429/503 are always retried.
   */
  retrySafe?: boolean | undefined;
  /** Extra request headers (e.g. your own `X-Request-Id`). */
  headers?: Record<string, string> | undefined;
  /** Overrides backoff base/cap and Retry-After cap for this call. */
  policy?: Partial<RetryPolicy> | undefined;
}

/**
 * What a successful low-level request returns.
 *
 * @example
 * ```ts
 * const { data, status, requestId, headers, attempts } = await client.request('GET', '/customers/cus_1');
 * ```
 */
export interface RequestResult<T> {
  /** Parsed JSON body (`null` for 204). */
  data: T;
  /** HTTP status. */
  status: number;
  /** The server's `X-Request-Id`. */
  requestId?: string | undefined;
  /** Response headers. */
  headers: Headers;
  /** HTTP attempts made, including the successful one. */
  attempts: number;
}

/**
 * Construction options of {@link Transport}.
 *
 * @example
 * ```ts
 * new Transport({ apiKey, baseUrl: 'http://127.0.0.1:3001/v1', clientHeader: '@drip/core@0.1.0', sendUserAgent: true });
 * ```
 */
export interface TransportConfig {
  apiKey: string;
  /** Normalised base URL (see {@link normalizeBaseUrl}). */
  baseUrl: string;
  fetch?: FetchLike | undefined;
  clock?: Clock | undefined;
  /** Random source in [0, 1) for jitter. */
  random?: (() => number) | undefined;
  logger?: DripLogger | undefined;
  /** Value of `X-Drip-Client`. */
  clientHeader: string;
  /** Also send `User-Agent` (not in browsers). */
  sendUserAgent: boolean;
  policy?: Partial<RetryPolicy> | undefined;
}

/** Non-consuming `Retry-After` waits per call are bounded so that `Retry-After: 0` cannot spin forever. */
const MAX_RETRY_AFTER_WAITS = 20;

/**
 * Normalises a base URL per spec §2.1 or returns `undefined` when it is not an absolute http(s) URL
 * without query and fragment.
 *
 * @example
 * ```ts
 * normalizeBaseUrl('http://localhost:3001/'); // 'http://localhost:3001/v1'
 * normalizeBaseUrl('https://gw.example.com/drip'); // 'https://gw.example.com/drip'
 * ```
 */
export function normalizeBaseUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  // A `?` or `#` anywhere (even an empty query or fragment) and credentials are refused.
  if (!/^https?:$/.test(url.protocol) || /[?#]/.test(raw) || url.username || url.password) return undefined;
  let path = url.pathname.replace(/\/+$/, '');
  if (path === '') path = '/v1';
  return `${url.origin}${path}`;
}

/**
 * The health URL for a normalised base: one final `/v1` segment removed, then `/health`.
 *
 * @example
 * ```ts
 * healthUrlFor('https://gw.example.com/drip/v1'); // 'https://gw.example.com/drip/health'
 * ```
 */
export function healthUrlFor(baseUrl: string): string {
  return `${baseUrl.replace(/\/v1$/, '')}/health`;
}

/**
 * Parses `Retry-After` (seconds or HTTP date) into ms; `undefined` when absent or unreadable.
 *
 * @example
 * ```ts
 * parseRetryAfter('2', Date.now()); // 2000
 * ```
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Whether an error may be retried (spec §7.2) given the call's retry safety.
 *
 * @example
 * ```ts
 * isRetryable(err, false); // true only for 429/503 and IDEMPOTENCY_KEY_IN_PROGRESS
 * ```
 */
export function isRetryable(err: DripError, retrySafe: boolean): boolean {
  // The call's own deadline is spent: what it means for the request is the shared rule's business, but
  // this call stops here.
  if (err.code === 'DEADLINE_EXCEEDED') return false;
  return mayRetry(err.statusCode, err.code, retrySafe);
}

/**
 * The HTTP layer shared by every call.
 *
 * @example
 * ```ts
 * const t = new Transport({ apiKey: 'sk_test_123456789', baseUrl: 'http://127.0.0.1:3001/v1',
 *   clientHeader: '@drip/core@0.1.0', sendUserAgent: true });
 * const { data } = await t.request<{ id: string }>('GET', '/customers/cus_1');
 * ```
 */
export class Transport {
  readonly baseUrl: string;
  readonly policy: RetryPolicy;
  readonly clock: Clock;
  readonly #config: TransportConfig;
  readonly #random: () => number;

  constructor(config: TransportConfig) {
    this.#config = config;
    this.baseUrl = config.baseUrl;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...stripUndefined(config.policy ?? {}) };
    this.clock = config.clock ?? systemClock;
    this.#random = config.random ?? Math.random;
  }

  /** Builds the URL for a path relative to the base (or an absolute URL, used for `/health`). */
  url(path: string, query?: Record<string, QueryValue>): string {
    const base = /^https?:\/\//.test(path) ? path : `${this.baseUrl}${path}`;
    if (!query) return base;
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null) params.append(k, String(v));
    }
    const qs = params.toString();
    return qs ? `${base}?${qs}` : base;
  }

  /** Request headers for one call. */
  headers(hasBody: boolean, extra?: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = {
      Authorization: `Bearer ${this.#config.apiKey}`,
      Accept: 'application/json',
      'X-Drip-Client': this.#config.clientHeader,
    };
    if (this.#config.sendUserAgent) h['User-Agent'] = this.#config.clientHeader;
    if (hasBody) h['Content-Type'] = 'application/json';
    return extra ? { ...h, ...extra } : h;
  }

  /**
   * Sends one call with retries. Throws a `DripError` subclass; `error.attempts` says how many HTTP
   * attempts were made.
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<RequestResult<T>> {
    const p = { ...this.policy, ...stripUndefined(options.policy ?? {}) };
    const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? p.maxAttempts));
    const timeoutMs = options.timeoutMs ?? p.timeoutMs;
    const body = options.body;
    const bodyText = body === undefined ? undefined : JSON.stringify(body);
    const retrySafe =
      options.retrySafe ?? (method !== 'POST' || (isRecord(body) && typeof body.idempotencyKey === 'string'));
    const url = this.url(path, options.query);
    const headers = this.headers(body !== undefined, options.headers);
    const signal = options.signal;
    const clock = this.clock;
    const deadlineAt = clock.now() + (options.deadlineMs ?? p.deadlineMs);

    let counted = 0;
    let attempts = 0;
    let retryAfterWaits = 0;
    for (;;) {
      if (signal?.aborted) throw withAttempts(aborted(signal.reason), attempts);
      const remaining = deadlineAt - clock.now();
      if (remaining <= 0) throw withAttempts(deadlineExceeded(), attempts);
      counted += 1;
      attempts += 1;
      let headerRetryAfterMs: number | undefined;
      const outcome = await this.#attempt(method, url, headers, bodyText, timeoutMs, remaining, signal);
      let err: DripError;
      if (outcome instanceof DripError) err = outcome;
      else {
        const [response, text] = outcome;
        const requestId = response.headers.get('x-request-id') ?? undefined;
        if (response.ok) {
          return {
            data: parseSuccess<T>(response.status, text, requestId, attempts),
            status: response.status,
            requestId,
            headers: response.headers,
            attempts,
          };
        }
        headerRetryAfterMs = parseRetryAfter(response.headers.get('retry-after'), clock.now());
        err = errorFromResponse(response.status, text, requestId, headerRetryAfterMs);
      }
      err.attempts = attempts;
      // One attempt means one: the caller (e.g. the outbox) honours Retry-After itself.
      if (!isRetryable(err, retrySafe) || maxAttempts === 1) throw err;

      let waitMs: number;
      const honoured = retryAfterOf(err, headerRetryAfterMs);
      if (honoured !== undefined && retryAfterWaits < MAX_RETRY_AFTER_WAITS) {
        waitMs = Math.min(honoured, p.retryAfterCapMs);
        if (clock.now() + waitMs >= deadlineAt) throw err;
        retryAfterWaits += 1;
        counted -= 1;
      } else {
        if (counted >= maxAttempts) throw err;
        waitMs = backoffDelay(counted, p.backoffBaseMs, p.backoffCapMs, this.#random);
        if (clock.now() + waitMs >= deadlineAt) throw withAttempts(deadlineExceeded(err), attempts);
      }
      this.#config.logger?.debug?.('drip: retrying request', {
        method,
        path,
        attempt: attempts,
        delayMs: waitMs,
        code: err.code,
        statusCode: err.statusCode,
        requestId: err.requestId,
      });
      try {
        await sleep(clock, waitMs, signal);
      } catch (reason) {
        throw withAttempts(aborted(reason), attempts);
      }
    }
  }

  /** One HTTP attempt: the response and its body text, or the error that ended it. */
  async #attempt(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string | undefined,
    timeoutMs: number,
    remainingMs: number,
    signal: AbortSignal | undefined,
  ): Promise<[Response, string] | DripError> {
    const controller = new AbortController();
    let timedOut = false;
    // Cancellation without listeners on our own signal (listeners on AbortSignal are costly in Node):
    // the timer and the caller's abort reject this promise, which every await below races against, so an
    // injected fetch that ignores its signal cannot hang the call either.
    let cancel: (reason: unknown) => void = () => {};
    const cancelled = new Promise<never>((_resolve, reject) => {
      cancel = reject;
    });
    cancelled.catch(() => {});
    const timer = this.clock.setTimeout(
      () => {
        timedOut = true;
        controller.abort();
        cancel(new Error('timeout'));
      },
      Math.min(timeoutMs, remainingMs),
    );
    const onAbort = () => {
      controller.abort();
      cancel(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const fetchImpl = this.#config.fetch ?? defaultFetch();
    try {
      const init: RequestInit = { method, headers, signal: controller.signal };
      if (body !== undefined) init.body = body;
      const response = await Promise.race([fetchImpl(url, init), cancelled]);
      return [response, response.status === 204 ? '' : await Promise.race([response.text(), cancelled])];
    } catch (cause) {
      if (signal?.aborted) return aborted(signal.reason);
      if (timedOut) {
        return remainingMs <= timeoutMs
          ? deadlineExceeded()
          : new DripTimeoutError(`Request timed out after ${timeoutMs} ms`, 'TIMEOUT');
      }
      const message = cause instanceof Error ? cause.message : String(cause);
      return new DripNetworkError(`Network error: ${message}`, 'NETWORK_ERROR', undefined, cause);
    } finally {
      this.clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

function parseSuccess<T>(status: number, text: string, requestId: string | undefined, attempts: number): T {
  if (status === 204 || status === 205 || (text === '' && status === 202)) return null as T;
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    const err = new DripError(
      `HTTP ${status} with a body that is not JSON`,
      status,
      'PARSE_ERROR',
      { body: text.slice(0, 2048) },
      requestId,
      cause,
    );
    err.attempts = attempts;
    throw err;
  }
}

/** The wait a 429, 503 or `IDEMPOTENCY_KEY_IN_PROGRESS` asks for: `Retry-After`, else the body's `retryAfter` (s). */
function retryAfterOf(err: DripError, headerMs: number | undefined): number | undefined {
  if (err.statusCode !== 429 && err.statusCode !== 503 && err.code !== 'IDEMPOTENCY_KEY_IN_PROGRESS') {
    return undefined;
  }
  return headerMs ?? retryAfterFromBody(err.data);
}

function aborted(reason: unknown): DripError {
  return new DripNetworkError('The request was aborted', 'ABORTED', undefined, reason);
}

function deadlineExceeded(last?: DripError): DripError {
  return new DripTimeoutError(
    'Overall deadline exceeded',
    'DEADLINE_EXCEEDED',
    last ? { lastError: { code: last.code, statusCode: last.statusCode } } : undefined,
    last?.requestId,
    last,
  );
}

function withAttempts(err: DripError, attempts: number): DripError {
  err.attempts = attempts;
  return err;
}

/**
 * The defined fields of `o` named in `keys` (internal; shared with the client's body and query builders).
 *
 * @example
 * ```ts
 * pick({ a: 1, b: undefined, c: 3 }, ['a', 'b']); // { a: 1 }
 * ```
 */
export function pick(o: object | undefined, keys: readonly string[]): Record<string, QueryValue> {
  const out: Record<string, QueryValue> = {};
  for (const k of keys) {
    const v = (o as Record<string, QueryValue> | undefined)?.[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * A copy of `o` without its `undefined` fields (internal; shared with the client's body builders).
 *
 * @example
 * ```ts
 * stripUndefined({ a: 1, b: undefined }); // { a: 1 }
 * ```
 */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  return pick(o, Object.keys(o)) as Partial<T>;
}
