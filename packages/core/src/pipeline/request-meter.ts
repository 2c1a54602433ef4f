/**
 * The framework-neutral request-metering pipeline (DESIGN.md "The way a request travels"): resolve the
 * customer, pick the route's rule, optionally ask the gate, then open the request's scope. The scope
 * (`scope.ts`) applies the one outcome rule (`outcome.ts`) when the adapter reports the end; the gate
 * lives in `gate.ts`, record metadata in `metadata.ts`. Metering errors are counted and logged once; they
 * never reach or change the response.
 */

import { Drip } from '../client';
import { externalIdOf } from '../outbox/customers';
import { type Outbox, createOutbox, validString } from '../outbox/outbox';
import { meterShutdownHook } from '../outbox/shutdown';
import type { ClientLike, FlushResult } from '../outbox/types';
import { contextStorage } from './context-storage';
import { Gate } from './gate';
import { DEFAULT_REDACT } from './metadata';
import type {
  CustomerResolver,
  PipelineStats,
  RequestMeter,
  RequestMeterOptions,
  RequestMeterStats,
  RouteRule,
} from './options';
import { compileRoutes, matchRoute } from './route';
import { begin as beginScope } from './scope';
import type { MeterState, RouteInfo } from './state';
import type { BeginResult, RequestView } from './types';

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
const JSON_TYPE = 'application/json; charset=utf-8';

/** The default customer chain: the id an auth layer put on the request. */
function defaultCustomer(_req: unknown, view: RequestView): string | undefined {
  const user = view.user as { dripCustomerId?: unknown; customerId?: unknown } | null | undefined;
  if (user === null || typeof user !== 'object') return undefined;
  if (typeof user.dripCustomerId === 'string' && user.dripCustomerId.length > 0) return user.dripCustomerId;
  if (typeof user.customerId === 'string' && user.customerId.length > 0) return user.customerId;
  return undefined;
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

/** Without an outbox (no request metered yet) there is nothing to deliver. */
function idle(): Promise<FlushResult> {
  return Promise.resolve({ delivered: true, remaining: 0 });
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
  // What the outbox delivers through: the user's client with the adapter added to X-Drip-Client per
  // request, or the lazily built client that already has it.
  const userClient = o.client ? withAdapterHeader(o.client, adapter) : undefined;
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
    open: 0,
    warned,
    recordRuns: o.run !== false,
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
  const gate = o.gate ? new Gate<Req>(o.gate, state, buildClient) : undefined;
  // Registered at the first metered request, not at the first record: a SIGTERM while that request runs
  // then waits for it and delivers its records (see `outbox/shutdown.ts`).
  const shutdown =
    outboxRest.shutdownHooks === false
      ? undefined
      : meterShutdownHook(
          () => state.open,
          () => outbox,
          outboxRest.shutdownTimeoutMs ?? 5_000,
        );

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
    shutdown?.register();
    if (gate) return gated(view, customerId, rule, external);
    return beginScope(state, view, customerId, rule, external);
  };

  const gated = async (
    view: RequestView<Req>,
    customerId: string,
    rule: RouteRule<Req> | undefined,
    external = false,
  ): Promise<BeginResult> => {
    try {
      const meterName = view.rule?.meter ?? rule?.meter ?? state.defaultMeter;
      const d = await (gate as Gate<Req>).decide(customerId, view, meterName, external);
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
    return beginScope(state, view, customerId, rule, external);
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
        // The framework marked the handler unmetered (Nest's `@SkipDrip()`): counted like a skipped route.
        if (view.skip === true) {
          stats.skipped++;
          return SKIP;
        }
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
      shutdown?.unregister();
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
