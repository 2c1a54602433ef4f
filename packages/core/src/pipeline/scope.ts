/**
 * One metered request: the handler's context and run (`usage()`, `run.event()`), and its end, which
 * applies the one outcome rule (`outcome.ts`) and enqueues one usage record per meter plus one run record.
 */

import { isRecord, validationError } from '../errors';
import { isSafeKey, requestIdentity, runExternalId, usageKeyFromBase } from '../keys';
import { type Outbox, round6, validQuantity } from '../outbox/outbox';
import type { OutboxRunEvent } from '../outbox/types';
import { isValidEventType, meter as meterRule } from '../validation';
import { contextStorage } from './context-storage';
import { isoTime, recordMetadata, routeSlug, runMeta, traceIdFrom } from './metadata';
import type { QuantitySpec, RouteRule } from './options';
import { billsOutcome, outcomeStatus, runStatusOf, type UsageOptions } from './outcome';
import { matchRoute, normalizePath } from './route';
import type { MeterState } from './state';
import type {
  BeginResult,
  DripRequestContext,
  DripRunContext,
  FinishOptions,
  RequestHandle,
  RequestOutcome,
  RequestRunEvent,
  RequestView,
} from './types';

import { MAX_RUN_EVENTS } from '../limits';

/** The most events one run carries (the hosted `/runs/record` limit, one rule in `limits.ts`). */
const MAX_EVENTS = MAX_RUN_EVENTS;

/** The validation error of a meter name the API would refuse, or `undefined` when it is valid. */
export function meterNameError(name: unknown): Error | undefined {
  const message = meterRule(name);
  return message === undefined
    ? undefined
    : validationError([{ path: 'meter', message: `${JSON.stringify(name)} ${message}` }]);
}

/**
 * One meter's totals in a request, in two groups: usage that follows the outcome (the default meter and
 * plain `usage()` calls) and usage billed always (`usage(m, n, { billOn: 'always' })`). A request's meters
 * are a short list of these (most requests have one, the default meter): one small object per meter.
 */
class Totals {
  onOutcome = 0;
  always = 0;
  next: Totals | undefined = undefined;

  constructor(readonly meter: string) {}

  /** Adds to `meter`'s entry in the list starting here, appending one when it is new. */
  add(meter: string, quantity: number, always: boolean): void {
    let t: Totals = this;
    while (t.meter !== meter) {
      if (t.next === undefined) t.next = new Totals(meter);
      t = t.next;
    }
    if (always) t.always += quantity;
    else t.onOutcome += quantity;
  }
}

/**
 * One metered request. It is both the handler's context and its run (`context.run === context`): one
 * object per request instead of two on the hot path; the public types expose only the members of
 * `DripRequestContext` and `DripRunContext`.
 */
export class RequestScope<Req> implements DripRequestContext, DripRunContext {
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
  readonly #keyBaseSafe: boolean;
  /** Whether the identity was generated here rather than taken from the request (see the constructor). */
  readonly #localKey: boolean;
  #totals: Totals | undefined = undefined;

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
    const trusted = header ? view.header(header) : undefined;
    this.requestId = requestIdentity(trusted);
    // A generated identity exists in this process only, so no retry can reproduce its keys and the
    // outbox may sum its usage into an aggregate; a key from the request's header must travel as it is.
    this.#localKey = this.requestId !== trusted;
    const base = `mw:${customerId}:${this.requestId}`;
    this.#keyBase = base;
    this.#keyBaseSafe = isSafeKey(base);
    this.externalRunId = this.#keyBaseSafe ? base : runExternalId(customerId, this.requestId);
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
      if (!isRecord(event) || !isValidEventType(event.eventType)) {
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

  usage(meter: string, quantity = 1, options?: UsageOptions): void {
    try {
      if (this.finished) {
        this.state.error(new Error('usage() after the request ended'), 'usage');
        return;
      }
      // The client's own meter-name rule: a name the API would refuse is reported here, never sent.
      const invalid = meterNameError(meter);
      if (invalid !== undefined) {
        this.state.error(invalid, 'usage');
        return;
      }
      if (!validQuantity(quantity)) {
        this.state.error(
          new TypeError(`usage(): invalid quantity ${String(quantity)} for ${meter}`),
          'usage',
        );
        return;
      }
      this.#addTotal(meter, quantity, options?.billOn === 'always');
    } catch (err) {
      this.state.error(err, 'usage');
    }
  }

  #addTotal(meter: string, quantity: number, always: boolean): void {
    this.#totals ??= new Totals(meter);
    this.#totals.add(meter, quantity, always);
  }

  within<T>(fn: () => T): T {
    if (!this.state.asyncContext) return fn();
    const storage = contextStorage();
    return storage ? storage.run(this, fn) : fn();
  }

  end(outcome: RequestOutcome, options?: FinishOptions): void {
    if (this.finished) return;
    this.finished = true;
    const s = this.state;
    s.open--;
    try {
      const o = s.options;
      const view = this.view;
      const endedAt = s.now();
      const status = outcomeStatus(outcome);
      const aborted = outcome?.aborted === true;
      const ended: RequestOutcome = outcome ?? { status };
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
      const bills = this.#bills(ended);
      if (bills) this.#addDefault(meter, status, aborted, endedAt, route);
      const info = s.routeInfo(view.method, route);
      const metadata = recordMetadata(s, view, info);
      for (let t = this.#totals; t !== undefined; t = t.next) {
        const m = t.meter;
        const total = t.always + (bills ? t.onOutcome : 0);
        if (total <= 0) continue;
        s.outbox.enqueue({
          type: 'usage',
          customerId: this.external ? undefined : this.customerId,
          externalCustomerId: this.external ? this.customerId : undefined,
          meter: m,
          quantity: round6(total),
          idempotencyKey: usageKeyFromBase(this.#keyBase, this.#keyBaseSafe, m, 0),
          localKey: this.#localKey,
          metadata,
        });
      }
      const recordRun = viewRule ? s.recordRuns : (rule?.run ?? s.recordRuns);
      if (recordRun) {
        const error = outcome?.error;
        const runStatus = runStatusOf(ended);
        const body: Parameters<Outbox['enqueue']>[0] = {
          type: 'run',
          customerId: this.external ? undefined : this.customerId,
          externalCustomerId: this.external ? this.customerId : undefined,
          workflow: rule?.workflow ?? routeSlug(info),
          status: runStatus,
          events: this.events ?? [],
          externalRunId: this.externalRunId,
          idempotencyKey: this.externalRunId,
          localKey: this.#localKey,
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
      if (options?.waitUntil) s.outbox.waitUntil(options.waitUntil, undefined, { flush: options.flush });
    } catch (err) {
      s.error(err, 'finish');
    }
  }

  /** The default meter's quantity for a billed outcome, added to the request's totals. */
  #addDefault(meter: string, status: number, aborted: boolean, endedAt: number, route: string): void {
    const s = this.state;
    const o = s.options;
    const viewRule = this.view.rule;
    const invalid = meterNameError(meter);
    if (invalid !== undefined) {
      s.error(invalid, 'quantity');
      return;
    }
    const spec: QuantitySpec<Req> = viewRule
      ? (viewRule.quantity ?? 1)
      : (this.rule?.quantity ?? o.quantity ?? 1);
    let q: number | undefined;
    if (typeof spec === 'number') q = spec;
    else {
      try {
        q = spec(this.view.raw, {
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
      if (q > 0) this.#addTotal(meter, q, false);
    } else if (typeof spec === 'number' || q !== undefined) {
      s.error(new TypeError(`invalid quantity ${String(q)} for ${meter}`), 'quantity');
    }
  }

  #bills(outcome: RequestOutcome): boolean {
    try {
      return billsOutcome(this.state.options.billOn, outcome);
    } catch (err) {
      this.state.error(err, 'quantity');
      return false;
    }
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

  finish(outcome: RequestOutcome, options?: FinishOptions): void {
    this.scope.end(outcome, options);
  }
}

/** Opens the scope of a request that goes on to its handler. */
export function begin<Req>(
  state: MeterState<Req>,
  view: RequestView<Req>,
  customerId: string,
  rule: RouteRule<Req> | undefined,
  external = false,
): BeginResult {
  state.open++;
  return new Begun(new RequestScope<Req>(state, view, customerId, rule, external) as RequestScope<unknown>);
}
