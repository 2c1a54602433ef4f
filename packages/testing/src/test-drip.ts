import type { FakeClock } from './clock';
import { type ActiveFault, defaultCode, type Fault, type FaultHandle, isSpent, routeMatches } from './faults';

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

class HttpAnswer {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

function error(
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): HttpAnswer {
  return new HttpAnswer(status, { error: message, code, ...extra });
}

function validation(path: string, message: string): HttpAnswer {
  return error(422, 'VALIDATION_ERROR', `Validation failed: ${path} ${message}`, {
    details: [{ path, message }],
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined && value[k] !== null)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function round6(q: number): number {
  return Math.round(q * 1e6) / 1e6;
}

function fingerprint(routeClass: string, body: Record<string, unknown>): string {
  const { idempotencyKey: _ignored, ...rest } = body;
  const withDefaults: Record<string, unknown> = { ...rest };
  if (typeof withDefaults.quantity === 'number') withDefaults.quantity = round6(withDefaults.quantity);
  return `${routeClass}|${canonical(withDefaults)}`;
}

function checkQuantity(q: unknown, path = 'quantity'): HttpAnswer | number {
  if (q === undefined || q === null) return 1;
  if (typeof q !== 'number' || !Number.isFinite(q) || q < 0 || q > 1e15) {
    return validation(path, 'must be a finite number between 0 and 1e15');
  }
  return round6(q);
}

function checkString(
  v: unknown,
  path: string,
  min: number,
  max: number,
  required: boolean,
): HttpAnswer | null {
  if (v === undefined || v === null) return required ? validation(path, 'is required') : null;
  if (typeof v !== 'string' || v.length < min || v.length > max) {
    return validation(path, `must be a string of ${min}-${max} characters`);
  }
  return null;
}

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
  const bulk = options.bulk ?? true;
  const autoCreate = options.autoCreateCustomers ?? true;

  let usage: AppliedUsage[] = [];
  let runs: AppliedRun[] = [];
  let runEvents: AppliedRunEvent[] = [];
  let requests: ReceivedRequest[] = [];
  let faults: ActiveFault[] = [];
  let idem = new Map<string, { fp: string; status: number; body: Record<string, unknown> }>();
  let runsByExternal = new Map<
    string,
    { fp: string; run: AppliedRun; status: number; body: Record<string, unknown> }
  >();
  let customers = new Set<string>(options.customers ?? []);
  let seq = 0;

  const newId = (prefix: string): string => `${prefix}_${(++seq).toString(36).padStart(24, '0')}`;

  function customerOk(id: string): HttpAnswer | null {
    if (customers.has(id)) return null;
    if (autoCreate) {
      customers.add(id);
      return null;
    }
    return error(404, 'CUSTOMER_NOT_FOUND', `Customer ${id} not found`);
  }

  function takeFault(path: string, method: string, types: Fault['type'][]): ActiveFault | undefined {
    for (const f of faults) {
      if (isSpent(f) || !types.includes(f.fault.type)) continue;
      if (!routeMatches(f.fault.route, path, method)) continue;
      f.hits++;
      return f;
    }
    return undefined;
  }

  /** Every active partial fault of a bulk or batch route applies to one request (each uses one of its `times`). */
  function takePartials(path: string): Array<Fault & { type: 'partial' }> {
    const out: Array<Fault & { type: 'partial' }> = [];
    for (const f of faults) {
      if (isSpent(f) || f.fault.type !== 'partial' || !routeMatches(f.fault.route, path, 'POST')) continue;
      f.hits++;
      out.push(f.fault);
    }
    return out;
  }

  /** Runs `apply` under the idempotency rules of spec §5.1. */
  function idempotent(
    routeClass: string,
    body: Record<string, unknown>,
    apply: () => HttpAnswer,
  ): HttpAnswer {
    const key = body.idempotencyKey;
    if (typeof key !== 'string') return apply();
    const fp = fingerprint(routeClass, body);
    const stored = idem.get(key);
    if (stored) {
      if (stored.fp !== fp) {
        return error(
          409,
          'IDEMPOTENCY_KEY_REUSED',
          `Idempotency key ${key} was used with a different request`,
        );
      }
      return new HttpAnswer(
        stored.status,
        { ...stored.body, isDuplicate: true },
        { 'idempotent-replayed': 'true' },
      );
    }
    const answer = apply();
    if (answer.status >= 200 && answer.status < 300 && isRecord(answer.body)) {
      idem.set(key, { fp, status: answer.status, body: answer.body });
    }
    return answer;
  }

  function usageItem(body: unknown, route: string, routeClass: string, status: number): HttpAnswer {
    if (!isRecord(body)) return validation('body', 'must be an object');
    const hasId = body.customerId !== undefined && body.customerId !== null;
    const hasExt = body.externalCustomerId !== undefined && body.externalCustomerId !== null;
    if (hasId === hasExt) return validation('customerId', 'exactly one of customerId, externalCustomerId');
    const idField = hasId ? 'customerId' : 'externalCustomerId';
    const bad =
      checkString(body[idField], idField, 1, 255, true) ??
      checkString(body.usageType, 'usageType', 1, 100, false) ??
      checkString(body.idempotencyKey, 'idempotencyKey', 1, 128, true) ??
      checkString(body.units, 'units', 0, 50, false) ??
      checkString(body.description, 'description', 0, 500, false);
    if (bad) return bad;
    if (body.metadata !== undefined && body.metadata !== null && !isRecord(body.metadata)) {
      return validation('metadata', 'must be an object');
    }
    const q = checkQuantity(body.quantity);
    if (q instanceof HttpAnswer) return q;
    const customerId = String(body[idField]);
    const missing = customerOk(customerId);
    if (missing) return missing;
    return idempotent(routeClass, body, () => {
      const record: AppliedUsage = {
        id: newId('use'),
        customerId,
        meter: typeof body.usageType === 'string' ? body.usageType : 'generic',
        quantity: q,
        idempotencyKey: String(body.idempotencyKey),
        route,
        units: typeof body.units === 'string' ? body.units : undefined,
        description: typeof body.description === 'string' ? body.description : undefined,
        metadata: isRecord(body.metadata) ? body.metadata : undefined,
        createdAt: clock.now(),
      };
      usage.push(record);
      const common = { success: true, usageEventId: record.id, isDuplicate: false };
      if (routeClass === 'usage:sync' || routeClass === 'usage:async') {
        return new HttpAnswer(status, {
          ...common,
          charge: {
            id: newId('chg'),
            amountUsdc: (q * 0.001).toFixed(6),
            amountToken: String(Math.round(q * 1000)),
            txHash: null,
            status: 'CONFIRMED',
          },
        });
      }
      return new HttpAnswer(status, {
        ...common,
        customerId,
        usageType: record.meter,
        quantity: q,
        isInternal: false,
        message: 'Usage recorded',
        idempotencyKey: record.idempotencyKey,
        pendingEvents: 0,
      });
    });
  }

  function runEventFields(item: Record<string, unknown>): HttpAnswer | null {
    return (
      checkString(item.eventType, 'eventType', 1, 100, true) ??
      checkString(item.units, 'units', 0, 50, false) ??
      checkString(item.description, 'description', 0, 500, false)
    );
  }

  function recordRun(body: unknown): HttpAnswer {
    if (!isRecord(body)) return validation('body', 'must be an object');
    const bad =
      checkString(body.customerId, 'customerId', 1, 255, true) ??
      checkString(body.workflow, 'workflow', 1, 100, true) ??
      checkString(body.externalRunId, 'externalRunId', 1, 255, false) ??
      checkString(body.correlationId, 'correlationId', 1, 255, false) ??
      checkString(body.idempotencyKey, 'idempotencyKey', 1, 128, false);
    if (bad) return bad;
    if (!['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'].includes(String(body.status))) {
      return validation('status', 'must be COMPLETED, FAILED, CANCELLED or TIMEOUT');
    }
    const events = body.events ?? [];
    if (!Array.isArray(events) || events.length > 100)
      return validation('events', 'must be an array of 0-100 items');
    for (let i = 0; i < events.length; i++) {
      const item = events[i];
      if (!isRecord(item)) return validation(`events.${i}`, 'must be an object');
      const e = runEventFields(item);
      if (e) return e;
      const q = checkQuantity(item.quantity, `events.${i}.quantity`);
      if (q instanceof HttpAnswer) return q;
    }
    const customerId = String(body.customerId);
    const missing = customerOk(customerId);
    if (missing) return missing;
    const ext = typeof body.externalRunId === 'string' ? body.externalRunId : undefined;
    const fp = fingerprint('run-record', body);
    if (ext !== undefined) {
      const prior = runsByExternal.get(ext);
      if (prior) {
        if (prior.fp !== fp) {
          return error(409, 'DUPLICATE_RUN', `Run with externalRunId ${ext} already exists`, {
            existingRunId: prior.run.id,
          });
        }
        return new HttpAnswer(
          prior.status,
          { ...prior.body, isDuplicate: true },
          { 'idempotent-replayed': 'true' },
        );
      }
    }
    return idempotent('run-record', body, () => {
      const run: AppliedRun = {
        id: newId('run'),
        customerId,
        workflow: String(body.workflow),
        status: String(body.status),
        externalRunId: ext,
        correlationId: typeof body.correlationId === 'string' ? body.correlationId : undefined,
        idempotencyKey: typeof body.idempotencyKey === 'string' ? body.idempotencyKey : undefined,
        errorMessage: typeof body.errorMessage === 'string' ? body.errorMessage : undefined,
        errorCode: typeof body.errorCode === 'string' ? body.errorCode : undefined,
        metadata: isRecord(body.metadata) ? body.metadata : undefined,
        startedAt: typeof body.startedAt === 'string' ? body.startedAt : undefined,
        endedAt: typeof body.endedAt === 'string' ? body.endedAt : undefined,
        events: [],
        createdAt: clock.now(),
      };
      for (const item of events as Record<string, unknown>[]) {
        run.events.push({
          ...item,
          id: newId('evt'),
          runId: run.id,
          customerId,
          eventType: String(item.eventType),
          quantity: typeof item.quantity === 'number' ? round6(item.quantity) : 1,
        });
      }
      runs.push(run);
      let durationMs: number | null = null;
      if (run.startedAt && run.endedAt) durationMs = Date.parse(run.endedAt) - Date.parse(run.startedAt);
      const answerBody = {
        run: {
          id: run.id,
          workflowId: `wf_${run.workflow}`,
          workflowName: run.workflow,
          status: run.status,
          durationMs,
        },
        events: { created: run.events.length, duplicates: 0 },
        totalCostUnits: null,
        summary: `Recorded run with ${run.events.length} events`,
        isDuplicate: false,
      };
      if (ext !== undefined) runsByExternal.set(ext, { fp, run, status: 201, body: answerBody });
      return new HttpAnswer(201, answerBody);
    });
  }

  function runEvent(item: unknown, needRun: boolean): HttpAnswer {
    if (!isRecord(item)) return validation('body', 'must be an object');
    const bad =
      runEventFields(item) ??
      checkString(item.idempotencyKey, 'idempotencyKey', 1, 128, needRun) ??
      checkString(item.runId, 'runId', 1, 64, needRun);
    if (bad) return bad;
    const q = checkQuantity(item.quantity);
    if (q instanceof HttpAnswer) return q;
    const run = typeof item.runId === 'string' ? runs.find((r) => r.id === item.runId) : undefined;
    if (typeof item.runId === 'string' && !run)
      return error(404, 'RUN_NOT_FOUND', `Run ${item.runId} not found`);
    const customerId = run?.customerId ?? (typeof item.customerId === 'string' ? item.customerId : undefined);
    if (!customerId) return validation('runId', 'runId or customerId is required');
    const missing = customerOk(customerId);
    if (missing) return missing;
    return idempotent('run-event', item, () => {
      const ev: AppliedRunEvent = {
        ...item,
        id: newId('evt'),
        runId: run?.id ?? null,
        customerId,
        eventType: String(item.eventType),
        quantity: q,
      };
      runEvents.push(ev);
      run?.events.push(ev);
      return new HttpAnswer(201, {
        id: ev.id,
        runId: ev.runId,
        eventType: ev.eventType,
        quantity: q,
        isDuplicate: false,
        timestamp: new Date(clock.now()).toISOString(),
      });
    });
  }

  function bulk_(
    items: unknown,
    max: number,
    path: string,
    one: (item: unknown) => HttpAnswer,
    shape: (a: HttpAnswer) => Record<string, unknown>,
  ): HttpAnswer {
    if (!Array.isArray(items) || items.length < 1 || items.length > max) {
      return validation('events', `must be an array of 1-${max} items`);
    }
    const partials = takePartials(path);
    const results = items.map((item, index) => {
      const f = partials.find((p) => p.indexes === undefined || p.indexes.includes(index));
      if (f) {
        return {
          index,
          status: f.status,
          error: { error: 'Injected fault', code: f.code ?? defaultCode(f.status) },
        };
      }
      const a = one(item);
      if (a.status >= 400) return { index, status: a.status, error: a.body };
      return { index, status: a.status, ...shape(a) };
    });
    return new HttpAnswer(200, { results });
  }

  function route(method: string, path: string, body: unknown): HttpAnswer {
    if (method === 'GET' && path === '/health') {
      return new HttpAnswer(200, {
        status: 'healthy',
        timestamp: clock.now(),
        version: 'test',
        server: 'drip-testing',
        capabilities: bulk ? ['usage-bulk', 'runs-record-bulk'] : [],
      });
    }
    if (method !== 'POST' && method !== 'GET') return error(405, 'METHOD_NOT_ALLOWED', 'Method not allowed');
    if (method === 'POST') {
      switch (path) {
        case '/usage':
          return usageItem(body, path, 'usage:sync', 201);
        case '/usage/async':
          return usageItem(body, path, 'usage:async', 202);
        case '/usage/internal':
          return usageItem(body, path, 'usage:internal', 201);
        case '/usage/internal/batch':
          return usageItem(body, path, 'usage:internal-batch', 202);
        case '/runs/record':
          return recordRun(body);
        case '/run-events':
          return runEvent(body, true);
        case '/customers': {
          if (!isRecord(body)) return validation('body', 'must be an object');
          const ext = body.externalCustomerId;
          const bad = checkString(ext, 'externalCustomerId', 1, 255, true);
          if (bad) return bad;
          const id = `cus_${String(ext)}`;
          if (customers.has(id)) {
            return error(409, 'DUPLICATE_CUSTOMER', 'Customer exists', { existingCustomerId: id });
          }
          customers.add(id);
          return new HttpAnswer(201, { id, externalCustomerId: ext, status: 'ACTIVE', isInternal: false });
        }
        case '/entitlements/check': {
          if (!isRecord(body)) return validation('body', 'must be an object');
          const bad =
            checkString(body.customerId, 'customerId', 1, 255, true) ??
            checkString(body.featureKey, 'featureKey', 1, 100, true);
          if (bad) return bad;
          const q = checkQuantity(body.quantity);
          if (q instanceof HttpAnswer) return q;
          const decide = options.entitlements ?? (() => ({ allowed: true, remaining: -1, limit: -1 }));
          const r = decide(String(body.customerId), String(body.featureKey), q);
          return new HttpAnswer(200, {
            allowed: r.allowed,
            featureKey: body.featureKey,
            remaining: r.remaining ?? -1,
            limit: r.limit ?? -1,
            unlimited: (r.limit ?? -1) === -1,
            period: 'MONTHLY',
            periodResetsAt: new Date(clock.now() + 86_400_000).toISOString(),
            ...(r.allowed ? {} : { reason: r.reason ?? 'LIMIT_REACHED' }),
          });
        }
        case '/run-events/batch': {
          if (
            !isRecord(body) ||
            !Array.isArray(body.events) ||
            body.events.length < 1 ||
            body.events.length > 1000
          ) {
            return validation('events', 'must be an array of 1-1000 items');
          }
          let created = 0;
          let duplicates = 0;
          let skipped = 0;
          const partials = takePartials(path);
          const out = body.events.map((item, index) => {
            const f = partials.find((p) => p.indexes === undefined || p.indexes.includes(index));
            if (f) {
              skipped++;
              return {
                id: null,
                eventType: isRecord(item) ? item.eventType : null,
                isDuplicate: false,
                skipped: true,
                reason: f.code ?? defaultCode(f.status),
              };
            }
            const a = runEvent(item, false);
            const b = isRecord(a.body) ? a.body : {};
            if (a.status >= 400) {
              skipped++;
              return {
                id: null,
                eventType: isRecord(item) ? item.eventType : null,
                isDuplicate: false,
                skipped: true,
                reason: b.code,
              };
            }
            if (b.isDuplicate) duplicates++;
            else created++;
            return { id: b.id, eventType: b.eventType, isDuplicate: Boolean(b.isDuplicate) };
          });
          return new HttpAnswer(201, { success: true, created, duplicates, skipped, events: out });
        }
        case '/usage/internal/bulk':
          if (!bulk) break;
          return bulk_(
            isRecord(body) ? body.events : undefined,
            1000,
            path,
            (item) => usageItem(item, path, 'usage:internal', 201),
            (a) => {
              const b = isRecord(a.body) ? a.body : {};
              return { usageEventId: b.usageEventId, isDuplicate: Boolean(b.isDuplicate) };
            },
          );
        case '/runs/record/bulk':
          if (!bulk) break;
          return bulk_(
            isRecord(body) ? body.runs : undefined,
            500,
            path,
            (item) => recordRun(item),
            (a) => {
              const b = isRecord(a.body) ? a.body : {};
              return { run: b.run, isDuplicate: Boolean(b.isDuplicate) };
            },
          );
      }
    }
    if (method === 'GET') {
      const m = /^\/customers\/([^/]+)(\/balance)?$/.exec(path);
      if (m?.[1]) {
        const id = decodeURIComponent(m[1]);
        if (!customers.has(id)) return error(404, 'CUSTOMER_NOT_FOUND', `Customer ${id} not found`);
        if (m[2]) {
          return new HttpAnswer(200, {
            customerId: id,
            balanceUsdc: '100.000000',
            pendingChargesUsdc: '0.000000',
            availableUsdc: '100.000000',
          });
        }
        return new HttpAnswer(200, { id, status: 'ACTIVE', isInternal: false });
      }
    }
    return error(404, 'ROUTE_NOT_FOUND', `No route ${method} ${path}`);
  }

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
    const requestId = `req_${(++seq).toString(36).padStart(24, '0')}`;
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
    requests.push(log);
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

    const latency = takeFault(path, method, ['latency']);
    if (latency && latency.fault.type === 'latency') await sleep(latency.fault.ms);

    const net = takeFault(path, method, ['reset', 'timeout', 'status']);
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

  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    if (signal?.aborted) throw signal.reason;
    return handle(request, signal);
  };

  function matchesUsage(u: AppliedUsage, filter: { customerId?: string; meter?: string }): boolean {
    return (
      (filter.customerId === undefined || u.customerId === filter.customerId) &&
      (filter.meter === undefined || u.meter === filter.meter)
    );
  }

  function runMatches(r: AppliedRun, e: RunExpectation): boolean {
    if (e.workflow !== undefined && r.workflow !== e.workflow) return false;
    if (e.status !== undefined && r.status !== e.status) return false;
    if (e.customerId !== undefined && r.customerId !== e.customerId) return false;
    if (e.externalRunId !== undefined && r.externalRunId !== e.externalRunId) return false;
    if (typeof e.events === 'number' && r.events.length !== e.events) return false;
    if (Array.isArray(e.events)) {
      if (r.events.length !== e.events.length) return false;
      for (let i = 0; i < e.events.length; i++) {
        const want = e.events[i] ?? { eventType: '' };
        const got = r.events[i] ?? {};
        for (const [k, v] of Object.entries(want)) {
          if (canonical((got as Record<string, unknown>)[k]) !== canonical(v)) return false;
        }
      }
    }
    return true;
  }

  const api: TestDrip = {
    fetch: fetchImpl,
    handle: (request) => handle(request, request.signal),
    baseUrl,
    apiKey,
    clock,
    get usage() {
      return usage;
    },
    get runs() {
      return runs;
    },
    get runEvents() {
      return runEvents;
    },
    get requests() {
      return requests;
    },
    totalUsage(filter = {}) {
      let sum = 0;
      for (const u of usage) if (matchesUsage(u, filter)) sum += u.quantity;
      return round6(sum);
    },
    expectUsage(expected) {
      const filter: { customerId?: string; meter?: string } = {};
      if (expected.customerId !== undefined) filter.customerId = expected.customerId;
      if (expected.meter !== undefined) filter.meter = expected.meter;
      const matching = usage.filter((u) => matchesUsage(u, filter));
      const total = api.totalUsage(filter);
      const what = `usage${expected.customerId ? ` of ${expected.customerId}` : ''}${expected.meter ? ` on ${expected.meter}` : ''}`;
      if (total !== round6(expected.quantity)) {
        throw new Error(
          `expected ${what} to total ${expected.quantity}, got ${total} in ${matching.length} record(s)`,
        );
      }
      if (expected.records !== undefined && matching.length !== expected.records) {
        throw new Error(`expected ${what} in ${expected.records} record(s), got ${matching.length}`);
      }
    },
    expectRun(expected) {
      const found = runs.filter((r) => runMatches(r, expected));
      const ok = expected.count === undefined ? found.length > 0 : found.length === expected.count;
      if (!ok || !found[0]) {
        const list = runs
          .map(
            (r) =>
              `  ${r.workflow} ${r.status} customer=${r.customerId} events=[${r.events.map((e) => e.eventType).join(', ')}]`,
          )
          .join('\n');
        throw new Error(
          `expected ${expected.count ?? 'a'} run(s) matching ${canonical(expected)}, found ${found.length}; recorded runs:\n${list || '  (none)'}`,
        );
      }
      return found[0];
    },
    inject(fault) {
      const active: ActiveFault = { fault, hits: 0, removed: false };
      faults.push(active);
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
      for (const f of faults) f.removed = true;
      faults = [];
    },
    addCustomer(id) {
      customers.add(id);
    },
    reset() {
      usage = [];
      runs = [];
      runEvents = [];
      requests = [];
      faults = [];
      idem = new Map();
      runsByExternal = new Map();
      customers = new Set(options.customers ?? []);
    },
  };
  return api;
}
