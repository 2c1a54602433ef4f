/**
 * Public contract of the request-metering pipeline. Adapters (`@drip/express`, `@drip/hono`,
 * `@drip/nextjs`, `@drip/nestjs`) program against these types only; the implementation lives beside
 * this file (`request-meter.ts`).
 *
 * Life of a request in an adapter:
 * ```ts
 * const meter = createRequestMeter({ ...userOptions, sdk: { name: '@drip/express', version } });
 * // per request
 * const begun = meter.begin(view);               // sync unless a resolver is async or a gate is on
 * const r = isPromiseLike(begun) ? await begun : begun;
 * if (r.kind === 'respond') return send(r.status, r.body, r.headers); // gate or `reject` policy
 * if (r.kind === 'skip') return next();           // unidentified + `skip`, or a skipped route
 * req.drip = r.context;                           // what the handler sees
 * r.handle.run(() => next());                     // request scope (AsyncLocalStorage where available)
 * // when the response has ended (or the connection closed)
 * r.handle.finish({ status, route, error, aborted }, { waitUntil });  // enqueue; never throws
 * ```
 */

import type { UsageOptions } from './outcome';

/** A value or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** Reads one request header (case-insensitive name); `undefined` when absent. */
export type HeaderReader = (name: string) => string | undefined;

/** The framework-neutral view of an incoming request that an adapter builds. */
export interface RequestView<Req = unknown> {
  /** Upper-case HTTP method. */
  method: string;
  /** URL path without the query string, e.g. `/items/42`. */
  path: string;
  /** Route template when the framework knows it at this point, e.g. `/items/:id`. */
  route?: string | undefined;
  /** Header access. */
  header: HeaderReader;
  /** What the app's auth layer attached (Express `req.user`/`req.auth`, Hono `c.get('user')`, ...). */
  user?: unknown;
  /** The framework's own request object, passed to user-supplied functions. */
  raw: Req;
  /**
   * A meter rule the framework attached to the matched handler (Nest's `@DripMeter(meter, quantity?)`).
   * When present it takes the place of the `routes` entry and the default `meter`/`quantity` for this
   * request; `quantity` defaults to 1.
   */
  rule?: { meter: string; quantity?: number | undefined } | undefined;
  /**
   * The framework marked the matched handler unmetered (Nest's `@SkipDrip()`): `begin()` skips the
   * request without resolving a customer, and counts it in `stats().pipeline.skipped`.
   */
  skip?: boolean | undefined;
}

/** How the request ended, as the adapter observed it. */
export interface RequestOutcome {
  /** Final HTTP status sent (or that Nest's exception layer decided). */
  status: number;
  /** Route template known only at the end (Express matches routes after middleware). */
  route?: string | undefined;
  /** The error the handler threw or passed on, if any. */
  error?: unknown;
  /** True when the client went away before the response finished. */
  aborted?: boolean;
}

/** A run event as a handler records it: named fields plus any JSON fields (spec §2.4.1). */
export interface RequestRunEvent {
  eventType: string;
  quantity?: number;
  units?: string;
  description?: string;
  costUnits?: number;
  metadata?: Record<string, unknown>;
  [field: string]: unknown;
}

/** The run that wraps one request's handler. */
export interface DripRunContext {
  /** `externalRunId` of the run (spec §5.7): `mw:<customerId>:<identity>`. */
  readonly externalRunId: string;
  /** Records an event on the run; validated, never throws into the handler (errors are counted and logged). */
  event(event: RequestRunEvent): void;
}

/** What a handler sees: `req.drip`, `c.get('drip')`, the `@DripRun()` parameter, `withDrip`'s argument. */
export interface DripRequestContext {
  readonly customerId: string;
  /** The request identity used in idempotency keys (trusted header value or a generated id). */
  readonly requestId: string;
  readonly run: DripRunContext;
  /**
   * Adds usage for a meter; summed per meter within the request and sent when the request ends. It is
   * billed by the same rule as the default meter (`billOn`: by default not on 4xx, 5xx or aborted
   * requests) unless the call says `{ billOn: 'always' }`. An invalid meter name (the client's rule,
   * e.g. `'api calls'`) or quantity is never sent and never thrown into the handler: it is counted
   * (`stats().pipeline.meteringErrors`), logged once and passed to `onError` as a `DripError`
   * with code `VALIDATION_ERROR`.
   */
  usage(meter: string, quantity?: number, options?: UsageOptions): void;
}

/** Adapter-side handle of a begun request. */
export interface RequestHandle {
  /** Runs `fn` inside the request scope so `getCurrentRun()` works from deep code where supported. */
  run<T>(fn: () => T): T;
  /**
   * Ends the request: builds the usage and run records and enqueues them in the outbox. Synchronous,
   * O(records), never throws, and idempotent (a second call is ignored). `waitUntil` receives the delivery
   * promise on serverless platforms (Next `after()`, Workers `executionCtx.waitUntil`): a flush that starts a
   * send now, or with `flush: false` a promise of the records' delivery on the outbox's own schedule (a
   * long-running server whose shutdown waits for the promises it was given).
   */
  finish(outcome: RequestOutcome, options?: FinishOptions): void;
}

/**
 * Options of `RequestHandle.finish`.
 *
 * @example
 * ```ts
 * const options: FinishOptions = { waitUntil: (p) => ctx.waitUntil(p) };
 * ```
 */
export interface FinishOptions {
  /** Receives the promise of this request's delivery. */
  waitUntil?: ((promise: Promise<unknown>) => void) | undefined;
  /** `false`: the promise waits for the outbox's own schedule instead of starting a send (default `true`). */
  flush?: boolean | undefined;
}

/** Result of `RequestMeter.begin`. */
export type BeginResult =
  | { kind: 'continue'; context: DripRequestContext; handle: RequestHandle }
  | { kind: 'skip' }
  | { kind: 'respond'; status: number; body: unknown; headers: Record<string, string> };
