/**
 * The framework-neutral request-metering pipeline (DESIGN.md "The way a request travels"): resolve the
 * customer, pick the route's rule, open a run context, and when the response has ended enqueue one usage
 * record per meter plus one run record. Metering errors are counted and logged once; they never reach or
 * change the response.
 */

import { Drip } from '../client';
import { isRecord as isRecordObject } from '../errors';
import { type Outbox, createOutbox, round6, validQuantity, validString } from '../outbox/outbox';
import { externalIdOf } from '../outbox/customers';
import type { ClientLike, FlushResult, OutboxRunEvent } from '../outbox/types';
import { contextStorage } from './context-storage';
import { isSafeKey, requestIdentity, runExternalId, usageKeyFromBase } from './keys';
import type {
  CustomerResolver,
  GateDecision,
  GateOptions,
  MeteringErrorInfo,
  PipelineStats,
  QuantitySpec,
  RequestMeter,
  RequestMeterOptions,
  RequestMeterStats,
  RouteRule,
} from './options';
import { type CompiledRoute, compileRoutes, matchRoute, normalizePath, workflowSlug } from './route';
import type {
  BeginResult,
  DripRequestContext,
  DripRunContext,
  RequestHandle,
  RequestOutcome,
  RequestRunEvent,
  RequestView,
} from './types';

/**
 * Whether a value is a promise (or any thenable). Adapters use it on `begin()`'s result to stay
 * synchronous on the hot path.
 *
 * @example
 * ```ts
 * const begun = meter.begin(view);
 * const result = isPromiseLike(begun) ? await begun : begun;
 * ```
 */
export function isPromiseLike<T = unknown>(value: unknown): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

const SKIP: BeginResult = /* @__PURE__ */ Object.freeze({ kind: 'skip' }) as BeginResult;
const MAX_EVENTS = 100;
const JSON_TYPE = 'application/json; charset=utf-8';
/** Metadata keys redacted by default (one pattern: any of these words, any case). */
const DEFAULT_REDACT = /authorization|cookie|password|secret|token|api[-_]?key/i;
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/;
/** The all-zero trace id, which W3C Trace Context defines as invalid. */
const ZERO_TRACE = '00000000000000000000000000000000';
const OTEL_API = Symbol.for('opentelemetry.js.api.1');
const OTEL_SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');

/** The default customer chain: the id an auth layer put on the request. */
function defaultCustomer(_req: unknown, view: RequestView): string | undefined {
  const user = view.user as { dripCustomerId?: unknown; customerId?: unknown } | null | undefined;
  if (user === null || typeof user !== 'object') return undefined;
  if (typeof user.dripCustomerId === 'string' && user.dripCustomerId.length > 0) return user.dripCustomerId;
  if (typeof user.customerId === 'string' && user.customerId.length > 0) return user.customerId;
  return undefined;
}

function traceIdFrom(view: RequestView): string | undefined {
  const tp = view.header('traceparent');
  if (tp) {
    const m = TRACEPARENT.exec(tp.trim().toLowerCase());
    if (m?.[1] && m[1] !== ZERO_TRACE) return m[1];
  }
  const api = (globalThis as Record<symbol, unknown>)[OTEL_API] as
    | { context?: { active?: () => { getValue?: (k: symbol) => unknown } } }
    | undefined;
  if (!api?.context?.active) return undefined;
  try {
    const span = api.context.active()?.getValue?.(OTEL_SPAN_KEY) as
      | { spanContext?: () => { traceId?: string } }
      | undefined;
    const id = span?.spanContext?.().traceId;
    return id && id !== ZERO_TRACE ? id : undefined;
  } catch {
    return undefined;
  }
}

let isoMs: number | undefined;
let isoText = '';
/** ISO 8601 of an epoch ms, remembering the last one (requests ending in the same ms share it). */
function isoTime(ms: number): string {
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString();
    isoMs = ms;
  }
  return isoText;
}

/** Micro-USDC of a decimal string (`"1.5"` → 1 500 000n); undefined when not a decimal. */
function micros(value: unknown): bigint | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) value = value.toFixed(6);
  if (typeof value !== 'string') return undefined;
  const m = /^(-?)(\d+)(?:\.(\d{1,6}))?$/.exec(value.trim());
  if (!m) return undefined;
  const v = BigInt(m[2] ?? '0') * 1_000_000n + BigInt((m[3] ?? '').padEnd(6, '0'));
  return m[1] === '-' ? -v : v;
}

/**
 * The client the meter delivers through when the user passed their own `client` and an adapter named
 * itself (`sdk`): the same client, with `; adapter=<name>@<version>` added to `X-Drip-Client` as a
 * per-request header. The user's client object is not modified; a client without a `clientHeader`
 * string (not a `Drip`), or one that already names an adapter, is used as it is.
 */
function withAdapterHeader(client: ClientLike, adapter: string | undefined): ClientLike {
  const base = (client as { clientHeader?: unknown }).clientHeader;
  if (adapter === undefined || typeof base !== 'string' || base.includes('; adapter=')) return client;
  const at = base.indexOf('; runtime=');
  const value =
    at === -1 ? `${base}; adapter=${adapter}` : `${base.slice(0, at)}; adapter=${adapter}${base.slice(at)}`;
  const header = { 'X-Drip-Client': value };
  return {
    request(method, path, options) {
      const headers = options?.headers ? { ...options.headers, ...header } : header;
      return client.request(method, path, { ...options, headers });
    },
    get healthUrl() {
      return client.healthUrl;
    },
    get baseUrl() {
      return client.baseUrl;
    },
  };
}

/** Per (method, route) values shared by every request of that route. */
interface RouteInfo {
  method: string;
  route: string;
  /** Default metadata `{ method, route }`, frozen (shared by every record). */
  meta: Readonly<Record<string, unknown>>;
  /** Workflow slug, computed on first use. */
  slug: string | undefined;
  /** Default run metadata `{ method, route, status }` per status, frozen. */
  byStatus: Map<number, Readonly<Record<string, unknown>>> | undefined;
}

interface MeterState<Req> {
  options: RequestMeterOptions<Req>;
  resolvers: CustomerResolver<Req>[];
  routes: CompiledRoute<RouteRule<Req>>[];
  outbox: Outbox;
  stats: PipelineStats;
  warned: Set<string>;
  error(err: unknown, phase: MeteringErrorInfo['phase']): void;
  warnOnce(key: string, message: string): void;
  runOn: boolean;
  /** Whether `handle.run(fn)` opens the request scope (`asyncContext` option). */
  asyncContext: boolean;
  defaultMeter: string;
  redact: Array<string | RegExp>;
  metaHeaders: string[];
  now(): number;
  /** The cached values of a route (routes are few; the cache is bounded anyway). */
  routeInfo(method: string, route: string): RouteInfo;
}

/** Workflow slug of a route, cached on the route. */
function routeSlug(info: RouteInfo): string {
  if (info.slug === undefined) info.slug = workflowSlug(info.method, info.route);
  return info.slug;
}

/** Default run metadata of a route and status, cached on the route. */
function runMeta(info: RouteInfo, status: number): Readonly<Record<string, unknown>> {
  let byStatus = info.byStatus;
  if (byStatus === undefined) {
    byStatus = new Map();
    info.byStatus = byStatus;
  }
  let m = byStatus.get(status);
  if (m === undefined) {
    m = Object.freeze({ ...info.meta, status });
    if (byStatus.size < 100) byStatus.set(status, m);
  }
  return m;
}

/**
 * One metered request. It is both the handler's context and its run (`context.run === context`): one
 * object per request instead of two on the hot path; the public types expose only the members of
 * `DripRequestContext` and `DripRunContext`.
 */
class RequestScope<Req> implements DripRequestContext, DripRunContext {
  readonly customerId: string;
  /** Whether `customerId` is the app's own id (`{ externalCustomerId }`), resolved at delivery. */
  readonly external: boolean;
  readonly requestId: string;
  readonly externalRunId: string;
  readonly state: MeterState<Req>;
  readonly view: RequestView<Req>;
  readonly startedAt: number;
  readonly rule: RouteRule<Req> | undefined;
  readonly correlationId: string | undefined;
  finished = false;
  events: OutboxRunEvent[] | undefined = undefined;
  /** `mw:<customerId>:<identity>` and whether it is sent as it is (checked once per request). */
  readonly #keyBase: string;
  readonly #keySafe: boolean;
  /** Per-meter totals of this request (few meters: parallel arrays beat a Map here). */
  #meters: string[] | undefined = undefined;
  #totals: number[] | undefined = undefined;

  constructor(
    state: MeterState<Req>,
    view: RequestView<Req>,
    customerId: string,
    rule: RouteRule<Req> | undefined,
    external = false,
  ) {
    this.state = state;
    this.view = view;
    this.customerId = customerId;
    this.external = external;
    this.rule = rule;
    this.startedAt = state.now();
    const header = state.options.idempotencyHeader;
    this.requestId = requestIdentity(header ? view.header(header) : undefined);
    const base = `mw:${customerId}:${this.requestId}`;
    this.#keyBase = base;
    this.#keySafe = isSafeKey(base);
    this.externalRunId = this.#keySafe ? base : runExternalId(customerId, this.requestId);
    let correlation: string | undefined;
    try {
      correlation = state.options.correlationId
        ? state.options.correlationId(view.raw, view)
        : traceIdFrom(view as RequestView);
    } catch (err) {
      state.error(err, 'finish');
    }
    this.correlationId = correlation;
  }

  /** The run of this request: the scope itself (see the class comment). */
  get run(): DripRunContext {
    return this;
  }

  event(event: RequestRunEvent): void {
    const s = this.state;
    try {
      if (this.finished) {
        s.error(new Error('run.event() after the request ended'), 'event');
        return;
      }
      if (!isRecordObject(event) || !validString(event.eventType, 1, 100)) {
        s.error(new TypeError('run.event() needs an eventType of 1-100 characters'), 'event');
        return;
      }
      const q = event.quantity;
      if (q !== undefined && !validQuantity(q)) {
        s.error(new TypeError(`run.event(): invalid quantity ${String(q)}`), 'event');
        return;
      }
      const events = this.events;
      if (events === undefined) {
        // An exact-size array: the run record keeps it until delivery (a `[]` + push reserves 17 slots).
        this.events = [{ ...event }];
        return;
      }
      if (events.length >= MAX_EVENTS) {
        s.error(new RangeError(`run.event(): more than ${MAX_EVENTS} events, extra ones dropped`), 'event');
        return;
      }
      events.push({ ...event });
    } catch (err) {
      s.error(err, 'event');
    }
  }

  usage(meter: string, quantity = 1): void {
    try {
      if (this.finished) {
        this.state.error(new Error('usage() after the request ended'), 'usage');
        return;
      }
      if (!validString(meter, 1, 100)) {
        this.state.error(new TypeError('usage(): meter must be 1-100 characters'), 'usage');
        return;
      }
      if (!validQuantity(quantity)) {
        this.state.error(
          new TypeError(`usage(): invalid quantity ${String(quantity)} for ${meter}`),
          'usage',
        );
        return;
      }
      this.#add(meter, quantity);
    } catch (err) {
      this.state.error(err, 'usage');
    }
  }

  #add(meter: string, quantity: number): void {
    if (this.#meters === undefined || this.#totals === undefined) {
      this.#meters = [meter];
      this.#totals = [quantity];
      return;
    }
    const i = this.#meters.indexOf(meter);
    if (i === -1) {
      this.#meters.push(meter);
      this.#totals.push(quantity);
    } else this.#totals[i] = (this.#totals[i] ?? 0) + quantity;
  }

  within<T>(fn: () => T): T {
    if (!this.state.asyncContext) return fn();
    const storage = contextStorage();
    return storage ? storage.run(this, fn) : fn();
  }

  end(outcome: RequestOutcome, options?: { waitUntil?: (promise: Promise<unknown>) => void }): void {
    if (this.finished) return;
    this.finished = true;
    const s = this.state;
    try {
      const o = s.options;
      const view = this.view;
      const endedAt = s.now();
      const status = typeof outcome?.status === 'number' ? outcome.status : 500;
      const aborted = outcome?.aborted === true;
      const knownRoute = outcome?.route ?? view.route;
      const route = knownRoute ?? normalizePath(view.path);
      let rule = this.rule;
      if (
        rule === undefined &&
        view.rule === undefined &&
        outcome?.route !== undefined &&
        s.routes.length > 0
      ) {
        // Express learns the template only at the end.
        rule = matchRoute(s.routes, view.method, outcome.route, view.path)?.rule;
        if (rule?.skip) {
          s.stats.skipped++;
          return;
        }
      }
      const viewRule = view.rule;
      const meter = viewRule?.meter ?? rule?.meter ?? s.defaultMeter;
      if (this.#bills(outcome, status, aborted)) {
        const spec: QuantitySpec<Req> = viewRule
          ? (viewRule.quantity ?? 1)
          : (rule?.quantity ?? o.quantity ?? 1);
        let q: number | undefined;
        if (typeof spec === 'number') q = spec;
        else {
          try {
            q = spec(view.raw, {
              status,
              durationMs: endedAt - this.startedAt,
              aborted,
              route,
              events: this.events ?? [],
            });
          } catch (err) {
            s.error(err, 'quantity');
          }
        }
        if (validQuantity(q)) {
          if (q > 0) this.#add(meter, q);
        } else if (typeof spec === 'number' || q !== undefined) {
          s.error(new TypeError(`invalid quantity ${String(q)} for ${meter}`), 'quantity');
        }
      }
      const info = s.routeInfo(view.method, route);
      const metadata = this.#metadata(info);
      const meters = this.#meters;
      const totals = this.#totals;
      if (meters && totals) {
        for (let i = 0; i < meters.length; i++) {
          const m = meters[i] as string;
          const total = totals[i] ?? 0;
          if (total <= 0) continue;
          s.outbox.enqueue({
            type: 'usage',
            customerId: this.external ? undefined : this.customerId,
            externalCustomerId: this.external ? this.customerId : undefined,
            meter: m,
            quantity: round6(total),
            idempotencyKey: usageKeyFromBase(this.#keyBase, this.#keySafe, m, 0),
            metadata,
          });
        }
      }
      const runOn = viewRule ? s.runOn : (rule?.run ?? s.runOn);
      if (runOn) {
        const error = outcome?.error;
        const failed = status >= 500 || (error !== undefined && error !== null);
        const runStatus = aborted ? 'CANCELLED' : failed ? 'FAILED' : 'COMPLETED';
        const body: Parameters<Outbox['enqueue']>[0] = {
          type: 'run',
          customerId: this.external ? undefined : this.customerId,
          externalCustomerId: this.external ? this.customerId : undefined,
          workflow: rule?.workflow ?? routeSlug(info),
          status: runStatus,
          events: this.events ?? [],
          externalRunId: this.externalRunId,
          idempotencyKey: this.externalRunId,
          startedAt: isoTime(this.startedAt),
          endedAt: isoTime(Math.max(endedAt, this.startedAt)),
        };
        if (metadata)
          body.metadata = o.metadata === undefined ? runMeta(info, status) : { ...metadata, status };
        if (this.correlationId) body.correlationId = this.correlationId;
        if (runStatus === 'FAILED') {
          body.errorCode = error instanceof Error ? error.name.slice(0, 100) : `HTTP_${status}`;
          const msg = error instanceof Error ? error.message : `HTTP ${status}`;
          body.errorMessage = msg.slice(0, 2000);
        }
        s.outbox.enqueue(body);
      }
      s.stats.metered++;
      if (options?.waitUntil) s.outbox.waitUntil(options.waitUntil);
    } catch (err) {
      s.error(err, 'finish');
    }
  }

  #bills(outcome: RequestOutcome, status: number, aborted: boolean): boolean {
    const billOn = this.state.options.billOn;
    if (typeof billOn === 'function') {
      try {
        return billOn(outcome) === true;
      } catch (err) {
        this.state.error(err, 'quantity');
        return false;
      }
    }
    if (aborted) return billOn?.aborted === true;
    if (status >= 200 && status < 300) return billOn?.success !== false;
    if (status >= 300 && status < 400) return billOn?.redirect !== false;
    if (status >= 400 && status < 500) return billOn?.clientError === true;
    if (status >= 500) return billOn?.serverError === true;
    return false;
  }

  #metadata(info: RouteInfo): Record<string, unknown> | undefined {
    const opt = this.state.options.metadata;
    if (opt === false) return undefined;
    if (!opt) return info.meta;
    const meta: Record<string, unknown> = { method: this.view.method, route: info.route };
    for (const h of this.state.metaHeaders) {
      const v = this.view.header(h);
      if (v !== undefined) meta[h] = v;
    }
    if (opt.fields) {
      try {
        const extra = opt.fields(this.view.raw, this.view);
        if (isRecordObject(extra)) Object.assign(meta, extra);
      } catch (err) {
        this.state.error(err, 'finish');
      }
    }
    return redact(meta, this.state.redact, 0) as Record<string, unknown>;
  }
}

/**
 * The `continue` result of `begin()`, which is also the adapter's handle of the request (`handle ===
 * result`): one object instead of two per request. The handle is separate from the context because
 * both have a `run` member.
 */
class Begun {
  readonly kind = 'continue' as const;
  readonly context: DripRequestContext;
  constructor(private readonly scope: RequestScope<unknown>) {
    this.context = scope;
  }

  get handle(): RequestHandle {
    return this;
  }

  run<T>(fn: () => T): T {
    return this.scope.within(fn);
  }

  finish(outcome: RequestOutcome, options?: { waitUntil?: (promise: Promise<unknown>) => void }): void {
    this.scope.end(outcome, options);
  }
}

function idle(): Promise<FlushResult> {
  return Promise.resolve({ delivered: true, remaining: 0 });
}

function begun<Req>(scope: RequestScope<Req>): BeginResult {
  return new Begun(scope as RequestScope<unknown>);
}

function redact(value: unknown, rules: Array<string | RegExp>, depth: number): unknown {
  if (!isRecordObject(value) || depth > 5) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const hit = rules.some((r) => (typeof r === 'string' ? r.toLowerCase() === k.toLowerCase() : r.test(k)));
    out[k] = hit ? '[redacted]' : redact(v, rules, depth + 1);
  }
  return out;
}

interface CacheEntry {
  until: number;
  decision: GateDecision;
}

class Gate<Req> {
  readonly #cache = new Map<string, CacheEntry>();
  readonly #g: GateOptions<Req>;
  readonly #state: MeterState<Req>;
  /** The client the user sees (passed to `gate.check`). */
  readonly #client: () => ClientLike;
  /** The client the gate's own API calls go through (adds the adapter to X-Drip-Client). */
  readonly #api: () => ClientLike;
  constructor(g: GateOptions<Req>, state: MeterState<Req>, client: () => ClientLike, api: () => ClientLike) {
    this.#g = g;
    this.#state = state;
    this.#client = client;
    this.#api = api;
  }

  async decide(customerId: string, view: RequestView<Req>, meter: string): Promise<GateDecision> {
    const checks: Array<[string, () => Promise<GateDecision>]> = [];
    const g = this.#g;
    if (g.entitlement) {
      const feature =
        typeof g.entitlement === 'string'
          ? g.entitlement
          : typeof g.entitlement === 'function'
            ? g.entitlement(view.raw, view)
            : meter;
      checks.push([`e:${customerId}:${feature}`, () => this.#entitlement(customerId, feature)]);
    }
    if (g.balance) checks.push([`b:${customerId}`, () => this.#balance(customerId)]);
    if (g.spendingCap) checks.push([`c:${customerId}`, () => this.#caps(customerId)]);
    if (g.check) {
      const check = g.check;
      checks.push(['', async () => check({ customerId, req: view.raw, view, client: this.#client() })]);
    }
    for (const [key, run] of checks) {
      const d = await this.#cached(key, run);
      if (!d.allow) return d;
    }
    return { allow: true };
  }

  async #cached(key: string, run: () => Promise<GateDecision>): Promise<GateDecision> {
    const now = this.#state.now();
    if (key) {
      const hit = this.#cache.get(key);
      if (hit && hit.until > now) return hit.decision;
    }
    let decision: GateDecision;
    try {
      decision = await run();
    } catch (err) {
      this.#state.error(err, 'gate');
      if ((this.#g.onApiError ?? 'allow') === 'allow') return { allow: true };
      return {
        allow: false,
        status: 503,
        body: { error: 'Billing service unavailable', code: 'BILLING_UNAVAILABLE' },
        headers: { 'retry-after': '5' },
      };
    }
    if (key) {
      if (this.#cache.size >= 10_000) {
        const first = this.#cache.keys().next().value;
        if (first !== undefined) this.#cache.delete(first);
      }
      this.#cache.set(key, { until: now + (this.#g.ttlMs ?? 30_000), decision });
    }
    return decision;
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const timeoutMs = this.#g.timeoutMs ?? 2_000;
    const r = await this.#api().request<unknown>(method, path, {
      body,
      maxAttempts: 1,
      timeoutMs,
      deadlineMs: timeoutMs + 500,
    });
    return r.data;
  }

  async #entitlement(customerId: string, featureKey: string): Promise<GateDecision> {
    let data: unknown;
    try {
      data = await this.#call('POST', '/entitlements/check', { customerId, featureKey, quantity: 1 });
    } catch (err) {
      const e = err as { statusCode?: number };
      // An unknown customer cannot be entitled; any other failure is the API's.
      if (e?.statusCode === 404) {
        return {
          allow: false,
          status: 402,
          body: { error: 'Customer not found', code: 'CUSTOMER_NOT_FOUND' },
        };
      }
      throw err;
    }
    const d = isRecordObject(data) ? data : {};
    if (d.allowed !== false) return { allow: true };
    const reason = typeof d.reason === 'string' ? d.reason : 'LIMIT_REACHED';
    const paused = reason === 'CUSTOMER_PAUSED' || reason === 'SPENDING_CAP_REACHED';
    const headers: Record<string, string> = {};
    if (!paused && typeof d.periodResetsAt === 'string') {
      const secs = Math.ceil((Date.parse(d.periodResetsAt) - Date.now()) / 1000);
      if (Number.isFinite(secs) && secs > 0) headers['retry-after'] = String(secs);
    }
    return {
      allow: false,
      status: paused ? 402 : 429,
      body: {
        error: paused ? 'Payment required' : 'Usage limit reached',
        code: paused ? reason : 'ENTITLEMENT_LIMIT_REACHED',
        featureKey,
        reason,
        remaining: d.remaining,
        limit: d.limit,
        periodResetsAt: d.periodResetsAt,
      },
      headers,
    };
  }

  async #balance(customerId: string): Promise<GateDecision> {
    const data = await this.#call('GET', `/customers/${encodeURIComponent(customerId)}/balance`);
    const d = isRecordObject(data) ? data : {};
    const available = micros(d.availableUsdc);
    const opt = this.#g.balance;
    const min = micros(typeof opt === 'object' && opt.minUsdc !== undefined ? opt.minUsdc : '0.000001') ?? 1n;
    if (available === undefined) throw new Error('balance response without availableUsdc');
    if (available >= min) return { allow: true };
    return {
      allow: false,
      status: 402,
      body: { error: 'Insufficient balance', code: 'PAYMENT_REQUIRED', availableUsdc: d.availableUsdc },
    };
  }

  async #caps(customerId: string): Promise<GateDecision> {
    const data = await this.#call('GET', `/customers/${encodeURIComponent(customerId)}/spending-caps`);
    const caps = isRecordObject(data) && Array.isArray(data.caps) ? data.caps : [];
    for (const c of caps) {
      if (!isRecordObject(c) || c.isActive === false || c.autoBlock === false) continue;
      const used = micros(c.currentUsage);
      const limit = micros(c.limitValue);
      if (used !== undefined && limit !== undefined && c.capType !== 'SINGLE_CHARGE_LIMIT' && used >= limit) {
        return {
          allow: false,
          status: 402,
          body: {
            error: 'Spending cap reached',
            code: 'SPENDING_CAP_REACHED',
            capType: c.capType,
            limitValue: c.limitValue,
          },
        };
      }
    }
    return { allow: true };
  }
}

/**
 * Creates the request meter. Nothing is built until the first request (no client, timer or environment
 * read here, so it is safe at import time of a route file).
 *
 * @example
 * ```ts
 * import { createRequestMeter, isPromiseLike } from '@drip/core';
 * const meter = createRequestMeter<Request>({ customer: (req) => req.headers.get('x-customer-id') });
 * const begun = meter.begin({ method: 'GET', path: '/items/1', header: () => undefined, raw: request });
 * const r = isPromiseLike(begun) ? await begun : begun;
 * if (r.kind === 'continue') r.handle.finish({ status: 200 });
 * ```
 */
export function createRequestMeter<Req = unknown>(options: RequestMeterOptions<Req> = {}): RequestMeter<Req> {
  const o = options;
  let client: ClientLike | undefined = o.client;
  const adapter = o.sdk ? `${o.sdk.name}@${o.sdk.version}` : undefined;
  const buildClient = (): ClientLike => {
    if (client) return client;
    client = new Drip({
      apiKey: o.apiKey,
      baseUrl: o.baseUrl,
      logger: o.logger,
      sdk: adapter ? { adapter } : undefined,
    });
    return client;
  };
  // What the meter's own calls (outbox delivery, gate checks) go through: the user's client with the
  // adapter added to X-Drip-Client per request, or the lazily built client that already has it.
  const userClient = o.client ? withAdapterHeader(o.client, adapter) : undefined;
  const deliveryClient = (): ClientLike => userClient ?? buildClient();
  const resolvers: CustomerResolver<Req>[] = o.customer
    ? Array.isArray(o.customer)
      ? o.customer
      : [o.customer]
    : [defaultCustomer as CustomerResolver<Req>];
  const outboxOptions = o.outbox ?? {};
  const { instance, ...outboxRest } = outboxOptions;
  let outbox: Outbox | undefined = instance;
  const warned = new Set<string>();
  const logger = o.logger ?? (globalThis as { console?: { warn(...a: unknown[]): void } }).console;
  const stats: PipelineStats = {
    begun: 0,
    metered: 0,
    skipped: 0,
    unidentified: 0,
    rejected: 0,
    gated: 0,
    meteringErrors: 0,
  };
  const clock = outboxRest.clock;
  const routeInfos = new Map<string, Map<string, RouteInfo>>();
  let routeInfoCount = 0;
  let lastInfo: RouteInfo | undefined;
  const asyncContext = o.asyncContext !== false;
  const state: MeterState<Req> = {
    options: o,
    resolvers,
    routes: compileRoutes(o.routes),
    get outbox(): Outbox {
      outbox ??= createOutbox({
        logger: o.logger ?? (logger as never),
        customers: o.customers,
        charge: o.charge,
        ...outboxRest,
        ...(userClient ? { client: userClient } : { clientFactory: buildClient }),
      });
      return outbox;
    },
    stats,
    warned,
    runOn: o.run !== false,
    asyncContext,
    defaultMeter: o.meter ?? 'api_calls',
    redact: [DEFAULT_REDACT, ...(o.metadata ? (o.metadata.redact ?? []) : [])],
    metaHeaders: o.metadata ? (o.metadata.headers ?? []).map((h) => h.toLowerCase()) : [],
    now: clock ? () => clock.now() : Date.now,
    routeInfo(method, route) {
      // Most traffic repeats the previous route: compare before any lookup (no key string is built).
      if (lastInfo !== undefined && lastInfo.route === route && lastInfo.method === method) return lastInfo;
      let byRoute = routeInfos.get(method);
      if (byRoute === undefined) {
        byRoute = new Map();
        routeInfos.set(method, byRoute);
      }
      let info = byRoute.get(route);
      if (info === undefined) {
        if (routeInfoCount >= 1_000) {
          for (const m of routeInfos.values()) m.clear();
          routeInfoCount = 0;
        }
        info = {
          method,
          route,
          meta: Object.freeze({ method, route }),
          slug: undefined,
          byStatus: undefined,
        };
        byRoute.set(route, info);
        routeInfoCount++;
      }
      lastInfo = info;
      return info;
    },
    warnOnce(key, message) {
      if (warned.has(key)) return;
      warned.add(key);
      try {
        (o.logger?.warn ?? logger?.warn)?.call(o.logger ?? logger, message);
      } catch {
        // ignore
      }
    },
    error(err, phase) {
      stats.meteringErrors++;
      const message = err instanceof Error ? err.message : String(err);
      state.warnOnce(
        `error:${phase}`,
        `drip: metering error (${phase}): ${message}; the response is not affected`,
      );
      if (o.onError) {
        try {
          o.onError(err, { phase });
        } catch {
          // ignore
        }
      }
    },
  };
  const gate = o.gate ? new Gate<Req>(o.gate, state, buildClient, deliveryClient) : undefined;

  const unidentified = (
    view: RequestView<Req>,
    rule: RouteRule<Req> | undefined,
  ): BeginResult | Promise<BeginResult> => {
    stats.unidentified++;
    const policy = o.unidentified ?? 'skip';
    if (policy === 'reject') {
      stats.rejected++;
      return {
        kind: 'respond',
        status: 401,
        body: { error: 'A customer is required for this request', code: 'CUSTOMER_REQUIRED' },
        headers: { 'content-type': JSON_TYPE },
      };
    }
    if (policy === 'anonymous') return proceed(view, o.anonymousCustomerId ?? 'anonymous', rule);
    state.warnOnce(
      'unidentified',
      'drip: a request with no customer was not metered; set `customer` or a customerId on the user',
    );
    stats.skipped++;
    return SKIP;
  };

  const proceed = (
    view: RequestView<Req>,
    customerId: string,
    rule: RouteRule<Req> | undefined,
    external = false,
  ): BeginResult | Promise<BeginResult> => {
    if (gate) return gated(view, customerId, rule, external);
    return begun(new RequestScope<Req>(state, view, customerId, rule, external));
  };

  const gated = async (
    view: RequestView<Req>,
    customerId: string,
    rule: RouteRule<Req> | undefined,
    external = false,
  ): Promise<BeginResult> => {
    try {
      const meterName = view.rule?.meter ?? rule?.meter ?? state.defaultMeter;
      const d = await (gate as Gate<Req>).decide(customerId, view, meterName);
      if (!d.allow) {
        stats.gated++;
        return {
          kind: 'respond',
          status: d.status,
          body: d.body,
          headers: { 'content-type': JSON_TYPE, ...(d.headers ?? {}) },
        };
      }
    } catch (err) {
      state.error(err, 'gate');
    }
    return begun(new RequestScope<Req>(state, view, customerId, rule, external));
  };

  const resolveFrom = (
    view: RequestView<Req>,
    rule: RouteRule<Req> | undefined,
    start: number,
  ): BeginResult | Promise<BeginResult> => {
    for (let i = start; i < resolvers.length; i++) {
      let id: unknown;
      try {
        id = (resolvers[i] as CustomerResolver<Req>)(view.raw, view);
      } catch (err) {
        state.error(err, 'customer');
        stats.skipped++;
        return SKIP;
      }
      if (isPromiseLike(id)) {
        return Promise.resolve(id).then(
          (value) =>
            validString(value, 1, 255)
              ? proceed(view, value, rule)
              : externalIdOf(value) !== undefined
                ? proceed(view, externalIdOf(value) as string, rule, true)
                : resolveFrom(view, rule, i + 1),
          (err: unknown) => {
            state.error(err, 'customer');
            stats.skipped++;
            return SKIP;
          },
        );
      }
      if (validString(id, 1, 255)) return proceed(view, id, rule);
      const external = externalIdOf(id);
      if (external !== undefined) return proceed(view, external, rule, true);
    }
    return unidentified(view, rule);
  };

  // Touch the context storage once now (not at import) so the first request does not pay for the probe.
  if (asyncContext) contextStorage();

  const meter: RequestMeter<Req> = {
    begin(view) {
      try {
        stats.begun++;
        let rule: RouteRule<Req> | undefined;
        if (view.rule === undefined && state.routes.length > 0) {
          rule = matchRoute(state.routes, view.method, view.route, view.path)?.rule;
          if (rule?.skip) {
            stats.skipped++;
            return SKIP;
          }
        }
        return resolveFrom(view, rule, 0);
      } catch (err) {
        state.error(err, 'finish');
        return SKIP;
      }
    },
    // Without an outbox (no request metered yet) there is nothing to deliver.
    flush(timeoutMs?: number): Promise<FlushResult> {
      return outbox ? outbox.flush(timeoutMs) : idle();
    },
    close(timeoutMs?: number): Promise<FlushResult> {
      return outbox ? outbox.close(timeoutMs) : idle();
    },
    stats(): RequestMeterStats {
      return { ...state.outbox.stats(), pipeline: { ...stats } };
    },
    get client(): ClientLike {
      return buildClient();
    },
    get outbox(): Outbox {
      return state.outbox;
    },
  };
  return meter;
}
