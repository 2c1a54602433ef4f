/** Options and result types of `createRequestMeter` (added to the contract in `types.ts`). */

import type { ChargeOption, CustomerProvisioningOptions } from '../outbox/customers';
import type { Outbox } from '../outbox/outbox';
import type { ClientLike, FlushResult, OutboxOptions, OutboxStats } from '../outbox/types';
import type { DripLogger } from '../transport';
import type { BeginResult, MaybePromise, RequestOutcome, RequestRunEvent, RequestView } from './types';

/**
 * Finds the customer of a request: a Drip customer id, or the app's own id as
 * `{ externalCustomerId }` (the customer is found or created at delivery, see `customers`). Return
 * `null`/`undefined` when there is none.
 *
 * @example
 * ```ts
 * const byHeader: CustomerResolver<Request> = (req) => req.headers.get('x-customer-id');
 * ```
 */
export type CustomerResolver<Req = unknown> = (
  req: Req,
  view: RequestView<Req>,
) => MaybePromise<string | { externalCustomerId: string } | null | undefined>;

/** What a quantity function sees when the request has ended. */
export interface QuantityInput {
  status: number;
  durationMs: number;
  aborted: boolean;
  route: string;
  /** Events the handler recorded on the run. */
  events: readonly RequestRunEvent[];
}

/**
 * A quantity: a number, or a function of the request and how it ended.
 *
 * @example
 * ```ts
 * const byDuration: QuantitySpec<Request> = (_req, end) => Math.ceil(end.durationMs / 1000);
 * ```
 */
export type QuantitySpec<Req = unknown> = number | ((req: Req, end: QuantityInput) => number);

/**
 * One entry of the `routes` table, keyed by `'METHOD /route/:template'` (method `*` for any).
 *
 * @example
 * ```ts
 * const routes: Record<string, RouteRule> = {
 *   'POST /api/agent': { meter: 'agent_calls', workflow: 'agent' },
 *   'GET /health': { skip: true },
 * };
 * ```
 */
export interface RouteRule<Req = unknown> {
  /** Meter of the default usage record (default: the `meter` option). */
  meter?: string | undefined;
  quantity?: QuantitySpec<Req> | undefined;
  /** Record a run for this route (default: the `run` option). */
  run?: boolean | undefined;
  /** Workflow slug of the run (default: named after the route, e.g. `post-api-agent`). */
  workflow?: string | undefined;
  /** Do not meter this route at all. */
  skip?: boolean | undefined;
}

/**
 * Which outcomes bill the default meter. Default: 2xx and 3xx bill; 4xx, 5xx and aborted requests do not.
 *
 * @example
 * ```ts
 * const billOn: BillOn = { clientError: true };        // also bill 4xx
 * const custom: BillOn = (o) => o.status !== 429;      // any rule
 * ```
 */
export type BillOn =
  | {
      success?: boolean | undefined;
      redirect?: boolean | undefined;
      clientError?: boolean | undefined;
      serverError?: boolean | undefined;
      aborted?: boolean | undefined;
    }
  | ((outcome: RequestOutcome) => boolean);

/**
 * Metadata sent with usage and run records: an allowlist of request headers plus your own fields, with
 * redaction by key name. Default: `method` and `route` only.
 *
 * @example
 * ```ts
 * const metadata: MetadataOptions<Request> = {
 *   headers: ['x-region'],
 *   fields: (req) => ({ plan: 'pro' }),
 *   redact: ['email', /token/i],
 * };
 * ```
 */
export interface MetadataOptions<Req = unknown> {
  /** Request headers to copy (lower-cased names). */
  headers?: string[] | undefined;
  /** Extra fields. */
  fields?: ((req: Req, view: RequestView<Req>) => Record<string, unknown> | undefined) | undefined;
  /** Keys whose values are replaced by `[redacted]` (in addition to authorization, cookie, password, secret, token, api key names). */
  redact?: Array<string | RegExp> | undefined;
}

/**
 * A gate decision from a custom check.
 *
 * @example
 * ```ts
 * const deny: GateDecision = { allow: false, status: 402, body: { error: 'Top up first' } };
 * ```
 */
export type GateDecision =
  | { allow: true }
  | { allow: false; status: number; body: unknown; headers?: Record<string, string> | undefined };

/**
 * The optional gate before the handler (off by default). One network call per customer and check,
 * cached for `ttlMs`.
 *
 * - `entitlement`: `POST /entitlements/check` with this feature key (`true`: the route's meter); refused
 *   → 429 `ENTITLEMENT_LIMIT_REACHED` (402 `CUSTOMER_PAUSED` when the customer is paused).
 * - `balance`: `GET /customers/{id}/balance`; `availableUsdc` below `minUsdc` (default `"0.000001"`) → 402.
 * - `spendingCap`: `GET /customers/{id}/spending-caps`; an auto-blocking cap at or over its limit → 402.
 * - `check`: your own decision.
 * - `onApiError`: when the Drip API cannot answer, `allow` (default, fail-open) lets the request through;
 *   `deny` answers 503 `BILLING_UNAVAILABLE` (fail-closed). Either way the error is counted and logged once,
 *   and for `failureTtlMs` (default 5 s) the gate answers the same way without calling the API again.
 * - The checks call the client's own methods (`checkEntitlement`, `getBalance`, `getCustomerSpendingCaps`).
 *
 * @example
 * ```ts
 * createRequestMeter({ gate: { entitlement: 'api_calls', ttlMs: 10_000, onApiError: 'deny' } });
 * ```
 */
export interface GateOptions<Req = unknown> {
  entitlement?: boolean | string | ((req: Req, view: RequestView<Req>) => string) | undefined;
  balance?: boolean | { minUsdc?: string | undefined } | undefined;
  spendingCap?: boolean | undefined;
  check?:
    | ((input: {
        customerId: string;
        req: Req;
        view: RequestView<Req>;
        client: ClientLike;
      }) => MaybePromise<GateDecision>)
    | undefined;
  /** Cache lifetime of an answer per customer and check (default 30 s). */
  ttlMs?: number | undefined;
  /** Timeout of one gate call (default 2 s). */
  timeoutMs?: number | undefined;
  /**
   * After a gate call fails because the API is unavailable (network error, timeout, 429, 5xx), how long
   * the gate answers `onApiError` without calling it again (default 5 s): an outage costs at most one
   * timeout per interval, not one per request. Answers already cached keep being used meanwhile.
   */
  failureTtlMs?: number | undefined;
  onApiError?: 'allow' | 'deny' | undefined;
}

/**
 * What `onError` receives: the phase of a metering error. Such errors never reach or change the response.
 *
 * @example
 * ```ts
 * createRequestMeter({ onError: (err, info) => console.warn(info.phase, err) });
 * ```
 */
export interface MeteringErrorInfo {
  phase: 'customer' | 'quantity' | 'usage' | 'event' | 'finish' | 'gate' | 'client';
}

/**
 * Options of {@link createRequestMeter}. Adapters pass them through (their `Drip<Adapter>Options`).
 *
 * @example
 * ```ts
 * const meter = createRequestMeter<Request>({
 *   customer: (req) => req.headers.get('x-customer-id'),
 *   meter: 'api_calls',
 *   routes: { 'POST /api/agent': { meter: 'agent_calls' }, 'GET /health': { skip: true } },
 *   sdk: { name: '@drip/hono', version: '0.1.0' },
 * });
 * ```
 */
export interface RequestMeterOptions<Req = unknown> {
  /** A `Drip` client; default one built on the first request from `apiKey`/`baseUrl` or `DRIP_API_KEY`. */
  client?: ClientLike | undefined;
  apiKey?: string | undefined;
  baseUrl?: string | undefined;
  /** The adapter (sent in `X-Drip-Client`). */
  sdk?: { name: string; version: string } | undefined;
  /**
   * Customer resolver or ordered chain (first non-empty answer wins). Default chain:
   * `view.user.dripCustomerId`, then `view.user.customerId`.
   */
  customer?: CustomerResolver<Req> | CustomerResolver<Req>[] | undefined;
  /** App-own customer ids (`{ externalCustomerId }`): created on first delivery, or `{ provision: false }`. */
  customers?: CustomerProvisioningOptions | undefined;
  /** Meters whose usage is charged (`POST /usage`) instead of recorded (`POST /usage/internal`, default). */
  charge?: ChargeOption | undefined;
  /** No customer: `skip` (default; warns once), `reject` (401 JSON), or `anonymous` (bill `anonymousCustomerId`). */
  unidentified?: 'skip' | 'reject' | 'anonymous' | undefined;
  /** Customer id billed under `unidentified: 'anonymous'` (default `anonymous`). */
  anonymousCustomerId?: string | undefined;
  /** Default meter (default `api_calls`). */
  meter?: string | undefined;
  /** Default quantity (default 1). */
  quantity?: QuantitySpec<Req> | undefined;
  /** Per-route table keyed by `'METHOD /route/:template'`. */
  routes?: Record<string, RouteRule<Req>> | undefined;
  billOn?: BillOn | undefined;
  /** Record a run per request (default true). */
  run?: boolean | undefined;
  /**
   * Open the request scope in `handle.run(fn)` so `getDripContext()` / `getCurrentRun()` work from deep
   * code (default true, where an `AsyncLocalStorage` is available). On Node 20 the first
   * `AsyncLocalStorage.run()` in a process turns on async hooks for every promise of the process, which
   * costs about 12-17 µs per HTTP request in the adapter benchmarks. `false` skips the scope (no
   * `AsyncLocalStorage` is created or entered by this meter): handlers then use the context they are
   * given (`req.drip`, `c.get('drip')`, ...), and `getDripContext()` returns `undefined`. The pipeline
   * never calls `enterWith` and installs no hooks of its own either way.
   */
  asyncContext?: boolean | undefined;
  /** Opt-in trusted request-id header (e.g. `Idempotency-Key`, `X-Request-Id`); spec §5.7. */
  idempotencyHeader?: string | undefined;
  /** Metadata allowlist and redaction; `false` sends none. */
  metadata?: MetadataOptions<Req> | false | undefined;
  /** Correlation id of the run; default: the trace id of a W3C `traceparent` header or of the active OpenTelemetry span. */
  correlationId?: ((req: Req, view: RequestView<Req>) => string | undefined) | undefined;
  gate?: GateOptions<Req> | undefined;
  onError?: ((error: unknown, info: MeteringErrorInfo) => void) | undefined;
  logger?: DripLogger | undefined;
  /** Outbox options (bounds, aggregation, store, hooks), or `instance` to share an outbox. */
  outbox?:
    | (Omit<OutboxOptions, 'client' | 'transport' | 'clientFactory'> & { instance?: Outbox | undefined })
    | undefined;
}

/**
 * Pipeline counters of {@link RequestMeter.stats}.
 *
 * @example
 * ```ts
 * meter.stats().pipeline.unidentified; // requests without a customer
 * ```
 */
export interface PipelineStats {
  begun: number;
  metered: number;
  skipped: number;
  unidentified: number;
  rejected: number;
  gated: number;
  meteringErrors: number;
}

/**
 * `stats()` of a request meter: the outbox's counters plus the pipeline's.
 *
 * @example
 * ```ts
 * const { sent, dropped, pipeline } = meter.stats();
 * ```
 */
export type RequestMeterStats = OutboxStats & { pipeline: PipelineStats };

/**
 * The request meter: one per configuration, shared by every request.
 *
 * @example
 * ```ts
 * const meter = createRequestMeter({ customer: (req: Request) => req.headers.get('x-customer-id') });
 * const begun = meter.begin(view);
 * ```
 */
export interface RequestMeter<Req = unknown> {
  /** Starts metering a request; synchronous unless a resolver is async or the gate is on. Never throws. */
  begin(view: RequestView<Req>): BeginResult | Promise<BeginResult>;
  flush(timeoutMs?: number): Promise<FlushResult>;
  close(timeoutMs?: number): Promise<FlushResult>;
  stats(): RequestMeterStats;
  /** The client (built on first access when not given; throws `CONFIGURATION_ERROR` without a key). */
  readonly client: ClientLike;
  readonly outbox: Outbox;
}
