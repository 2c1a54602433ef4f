import { expectRun, expectUsage, totalUsage } from './assertions';
import type { FakeClock } from './clock';
import { type ActiveFault, defaultCode, type Fault, type FaultHandle, isSpent } from './faults';
import { HttpAnswer, error } from './http';
import { createRouter } from './routes';
import { ApiState } from './state';

/** A usage event the in-memory API applied (duplicates are not repeated here). */
export interface AppliedUsage {
  id: string;
  customerId: string;
  meter: string;
  quantity: number;
  idempotencyKey: string;
  /** The route that applied it, e.g. `/usage/internal` or `/usage/internal/bulk`. */
  route: string;
  units?: string | undefined;
  description?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  createdAt: number;
}

/** A run event as stored: the named fields plus whatever else the caller sent. */
export interface AppliedRunEvent {
  id: string;
  runId: string | null;
  customerId: string;
  eventType: string;
  quantity: number;
  idempotencyKey?: string | undefined;
  [field: string]: unknown;
}

/** A run the in-memory API recorded. */
export interface AppliedRun {
  id: string;
  customerId: string;
  workflow: string;
  status: string;
  externalRunId?: string | undefined;
  correlationId?: string | undefined;
  idempotencyKey?: string | undefined;
  errorMessage?: string | undefined;
  errorCode?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  startedAt?: string | undefined;
  endedAt?: string | undefined;
  events: AppliedRunEvent[];
  createdAt: number;
}

/** One request the in-memory API received (faulted ones included). */
export interface ReceivedRequest {
  method: string;
  /** Path relative to `/v1` (`/health` for the health route). */
  path: string;
  body: unknown;
  headers: Record<string, string>;
  /** Status answered, or `'reset'` / `'timeout'` for injected network faults. */
  outcome: number | 'reset' | 'timeout';
  at: number;
}

/** Answer of an entitlement check, as `POST /entitlements/check` returns it. */
export interface TestEntitlementResult {
  allowed: boolean;
  remaining?: number;
  limit?: number;
  reason?: string;
}

/**
 * Options of {@link createTestDrip}.
 *
 * @example
 * ```ts
 * const api = createTestDrip({ bulk: false, autoCreateCustomers: false, customers: ['cus_1'] });
 * ```
 */
export interface TestDripOptions {
  /** Base URL the fetch answers for; default `https://drip.test/v1`. Any origin is accepted. */
  baseUrl?: string;
  /** The key the API accepts (Bearer); default any key starting with `sk_` or `pk_`. */
  apiKey?: string;
  /** Clock for timestamps and latency faults; default a real clock. Pass `createFakeClock()` to control time. */
  clock?: FakeClock | { now(): number };
  /** Advertise the bulk routes in `GET /health` (spec §10) and serve them; default `true`. */
  bulk?: boolean;
  /** Accept usage and runs for any customer id (creating it); default `true`. When `false`, unknown ids get 404 `CUSTOMER_NOT_FOUND`. */
  autoCreateCustomers?: boolean;
  /** Customers that exist from the start. */
  customers?: string[];
  /** Decides `POST /entitlements/check`; default: allowed, unlimited. */
  entitlements?: (customerId: string, featureKey: string, quantity: number) => TestEntitlementResult;
}

/**
 * What `expectUsage` checks: the sum of applied usage quantities for the customer and meter.
 *
 * @example
 * ```ts
 * api.expectUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 3 });
 * ```
 */
export interface UsageExpectation {
  customerId?: string;
  meter?: string;
  quantity: number;
  /** Also check the number of usage records applied (after aggregation, per key). */
  records?: number;
}

/** A partial run event to match: each given field must equal the stored one. */
export type RunEventMatcher = { eventType: string } & Record<string, unknown>;

/**
 * What `expectRun` looks for: at least one recorded run matching every given field.
 *
 * @example
 * ```ts
 * api.expectRun({ workflow: 'get-items-id', status: 'COMPLETED', events: [{ eventType: 'llm.call' }] });
 * ```
 */
export interface RunExpectation {
  workflow?: string;
  status?: string;
  customerId?: string;
  externalRunId?: string;
  /** A number checks the event count; an array checks the events in order (partial matches). */
  events?: number | RunEventMatcher[];
  /** How many matching runs there must be; default at least one. */
  count?: number;
}

/**
 * The in-memory Drip API (the subset `@drip/core`'s client and outbox use). Hand `api.fetch` to the
 * client as its `fetch`; assert on what the API applied, not on calls.
 *
 * @example
 * ```ts
 * import { Drip } from '@drip/core';
 * import { createTestDrip } from '@drip/testing';
 * const api = createTestDrip();
 * const drip = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
 * await drip.trackUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
 * api.expectUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
 * ```
 */
export interface TestDrip {
  /** A `fetch` implementation serving the API. */
  readonly fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** Handles one web-standard `Request` (what `fetch` uses; handy to mount in a real server). */
  handle(request: Request): Promise<Response>;
  readonly baseUrl: string;
  /** A key that the API accepts. */
  readonly apiKey: string;
  readonly clock: { now(): number };
  /** Usage events applied, in order. */
  readonly usage: readonly AppliedUsage[];
  /** Runs recorded, in order. */
  readonly runs: readonly AppliedRun[];
  /** Standalone run events (`POST /run-events*`), in order. */
  readonly runEvents: readonly AppliedRunEvent[];
  /** Every request received, in order. */
  readonly requests: readonly ReceivedRequest[];
  /** Sum of applied usage quantities, optionally for one customer and/or meter. */
  totalUsage(filter?: { customerId?: string; meter?: string }): number;
  /** Throws an `Error` describing the difference unless the applied usage matches. */
  expectUsage(expected: UsageExpectation): void;
  /** Throws an `Error` listing the recorded runs unless one (or `count`) matches. */
  expectRun(expected: RunExpectation): AppliedRun;
  /** Adds a fault; see {@link Fault}. */
  inject(fault: Fault): FaultHandle;
  /** Makes every route except `/health` reset connections until `up()`. */
  down(): void;
  /** Removes every fault. */
  up(): void;
  /** Adds a customer (for `autoCreateCustomers: false`). */
  addCustomer(id: string): void;
  /** Forgets everything applied and every fault; keeps options. */
  reset(): void;
}

const DEFAULT_BASE = 'https://drip.test/v1';
const KEY_RE = /^[sp]k_/;

function headerRecord(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

function resetError(): TypeError {
  const cause = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
  return new TypeError('fetch failed', { cause });
}

/**
 * Creates an in-memory Drip API.
 *
 * @example
 * ```ts
 * import { createTestDrip } from '@drip/testing';
 * const api = createTestDrip();
 * api.inject({ type: 'status', status: 503, times: 2 }); // two 503s, then normal answers
 * ```
 */
export function createTestDrip(options: TestDripOptions = {}): TestDrip {
  const baseUrl = (options.baseUrl ?? DEFAULT_BASE).replace(/\/+$/, '');
  const apiKey = options.apiKey ?? 'sk_test_drip_testing_key_0000000000';
  const clock = options.clock ?? { now: () => Date.now() };
  const state = new ApiState(options.customers ?? [], options.autoCreateCustomers ?? true);
  const route = createRouter(state, options, clock);

  function relativePath(url: URL): string {
    let p = url.pathname.replace(/\/{2,}/g, '/');
    if (p.length > 1) p = p.replace(/\/+$/, '');
    if (p.endsWith('/health')) return '/health';
    const i = p.indexOf('/v1/');
    if (i >= 0) p = p.slice(i + 3);
    return p;
  }

  function sleep(ms: number): Promise<void> {
    const c = clock as Partial<FakeClock>;
    if (typeof c.sleep === 'function') return c.sleep(ms);
    return new Promise((r) => setTimeout(r, ms));
  }

  function respond(a: HttpAnswer): Response {
    const requestId = `req_${(++state.sequence).toString(36).padStart(24, '0')}`;
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'x-request-id': requestId,
      ...a.headers,
    };
    return new Response(a.status === 204 ? null : JSON.stringify(a.body), { status: a.status, headers });
  }

  async function handle(request: Request, signal?: AbortSignal | null): Promise<Response> {
    const url = new URL(request.url);
    const path = relativePath(url);
    const method = request.method.toUpperCase();
    const text = method === 'GET' || method === 'HEAD' ? '' : await request.text();
    let body: unknown;
    const log: ReceivedRequest = {
      method,
      path,
      body: undefined,
      headers: headerRecord(request.headers),
      outcome: 0,
      at: clock.now(),
    };
    state.requests.push(log);
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        log.outcome = 400;
        return respond(error(400, 'INVALID_JSON', 'Body is not valid JSON'));
      }
    }
    log.body = body;
    if (text.length > 1024 * 1024) {
      log.outcome = 413;
      return respond(error(413, 'PAYLOAD_TOO_LARGE', 'Body over 1 MiB'));
    }

    const latency = state.takeFault(path, method, ['latency']);
    if (latency && latency.fault.type === 'latency') await sleep(latency.fault.ms);

    const net = state.takeFault(path, method, ['reset', 'timeout', 'status']);
    const f = net?.fault;
    if (f?.type === 'status') {
      log.outcome = f.status;
      const extra: Record<string, unknown> = {};
      const headers: Record<string, string> = {};
      if (f.retryAfter !== undefined) {
        extra.retryAfter = f.retryAfter;
        headers['retry-after'] = String(f.retryAfter);
      }
      return respond(
        new HttpAnswer(
          f.status,
          { error: 'Injected fault', code: f.code ?? defaultCode(f.status), ...extra },
          headers,
        ),
      );
    }

    if (path !== '/health') {
      const auth = request.headers.get('authorization') ?? '';
      const key = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      const accepted = options.apiKey ? key === options.apiKey : KEY_RE.test(key) && key.length >= 10;
      if (!accepted) {
        log.outcome = 401;
        return respond(error(401, 'UNAUTHORIZED', 'Missing or invalid API key'));
      }
    }

    const applyFirst = (f?.type === 'reset' || f?.type === 'timeout') && f.afterApply === true;
    let answer: HttpAnswer | undefined;
    if (!f || applyFirst) answer = route(method, path, body);

    if (f?.type === 'reset') {
      log.outcome = 'reset';
      throw resetError();
    }
    if (f?.type === 'timeout') {
      log.outcome = 'timeout';
      const hangMs = f.hangMs ?? 30_000;
      await new Promise<never>((_, reject) => {
        const timer = setTimeout(() => reject(resetError()), hangMs);
        if (signal) {
          if (signal.aborted) {
            clearTimeout(timer);
            reject(signal.reason);
            return;
          }
          signal.addEventListener(
            'abort',
            () => {
              clearTimeout(timer);
              reject(signal.reason);
            },
            { once: true },
          );
        }
      });
    }
    const a = answer ?? error(500, 'INTERNAL_ERROR', 'No answer');
    log.outcome = a.status;
    return respond(a);
  }

  const _fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    if (signal?.aborted) throw signal.reason;
    return handle(request, signal);
  };

  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    if (signal?.aborted) throw signal.reason;
    return handle(request, signal);
  };

  const api: TestDrip = {
    fetch: fetchImpl,
    handle: (request) => handle(request, request.signal),
    baseUrl,
    apiKey,
    clock,
    get usage() {
      return state.usage;
    },
    get runs() {
      return state.runs;
    },
    get runEvents() {
      return state.runEvents;
    },
    get requests() {
      return state.requests;
    },
    totalUsage(filter = {}) {
      return totalUsage(state.usage, filter);
    },
    expectUsage(expected) {
      expectUsage(state.usage, expected);
    },
    expectRun(expected) {
      return expectRun(state.runs, expected);
    },
    inject(fault) {
      const active: ActiveFault = { fault, hits: 0, removed: false };
      state.faults.push(active);
      return {
        fault,
        get hits() {
          return active.hits;
        },
        get spent() {
          return isSpent(active);
        },
        remove() {
          active.removed = true;
        },
      };
    },
    down() {
      api.inject({ type: 'reset' });
    },
    up() {
      for (const f of state.faults) f.removed = true;
      state.faults = [];
    },
    addCustomer(id) {
      state.customers.add(id);
    },
    reset() {
      state.reset();
    },
  };
  return api;
}
