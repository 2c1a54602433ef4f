/**
 * The Drip API v1 client (spec §4). Every method validates its input before sending, goes through the
 * single {@link Transport}, and checks the response fields it relies on (`PARSE_ERROR` otherwise).
 */

import type { Clock } from './clock';
import {
  DripConflictError,
  DripError,
  DripPermissionError,
  configurationError,
  isDripError,
  isRecord,
  validationError,
} from './errors';
import { type IdempotencyKeyGenerator, createIdempotencyKeyGenerator } from './idempotency';
import { base64url } from './pipeline/sha256';
import { detectRuntime, isBrowser, readEnv } from './runtime';
import { type KeyMode, type KeyType, isAllowed, keyModeOf, keyTypeOf } from './scopes';
import { StreamMeter, type StreamMeterOptions } from './stream-meter';
import {
  type DripLogger,
  type FetchLike,
  type QueryValue,
  type RequestOptions,
  type RequestResult,
  type RetryPolicy,
  Transport,
  healthUrlFor,
  normalizeBaseUrl,
  stripUndefined,
} from './transport';
import type {
  ApiKey,
  ApiKeyRotation,
  Balance,
  BatchEventItem,
  BatchEventResult,
  CallOptions,
  Charge,
  ChargeParams,
  ChargeResult,
  CreateCustomerParams,
  CreateWebhookParams,
  CreateWorkflowParams,
  Customer,
  EmitEventParams,
  EmitEventResult,
  EndRunParams,
  EntitlementCheckParams,
  EntitlementCheckResult,
  ExecutionEvent,
  JsonObject,
  ListChargesOptions,
  ListCustomersOptions,
  ListDeliveriesOptions,
  ListEventsOptions,
  ListEventsResult,
  ListResult,
  ListRunsOptions,
  ListWorkflowsOptions,
  PingResult,
  RecordRunParams,
  RecordRunResult,
  ResponseMeta,
  RunDetails,
  RunEnded,
  RunStarted,
  RunSummary,
  RunTimeline,
  SetSpendingCapParams,
  SpendingCap,
  StartRunParams,
  TimelineEvent,
  TimelineOptions,
  TrackUsageParams,
  TrackUsageResult,
  UpdateWebhookParams,
  Webhook,
  WebhookDelivery,
  WebhookSecretRotation,
  WebhookTestResult,
  Workflow,
} from './types';
import { Checker, SLUG_PATTERN } from './validation';
import { VERSION } from './version';
import {
  type DripWebhookEvent,
  type VerifyWebhookOptions,
  type WebhookPayload,
  constructWebhookEvent,
  generateWebhookSignature,
  verifyWebhookSignature,
} from './webhooks';

/**
 * The default hosted API base URL.
 *
 * @example
 * ```ts
 * new Drip({ apiKey }).baseUrl; // DEFAULT_BASE_URL when no option or env is set
 * ```
 */
export const DEFAULT_BASE_URL = 'https://api.drippay.dev/v1';

/**
 * Options of the {@link Drip} constructor. Every retry/time field is also a per-call option.
 *
 * @example
 * ```ts
 * const options: DripOptions = { apiKey: 'sk_test_...', baseUrl: 'http://localhost:3001', timeoutMs: 5000 };
 * ```
 */
export interface DripOptions {
  /** `sk_...` or `pk_...`; default env `DRIP_API_KEY`. */
  apiKey?: string | undefined;
  /** Default: env `DRIP_API_URL`, env `DRIP_BASE_URL`, then `https://api.drippay.dev/v1` (normalised, §2.1). */
  baseUrl?: string | undefined;
  /** Injected `fetch` (default: the global one, looked up at call time). */
  fetch?: FetchLike | undefined;
  /** Injected clock for timeouts, deadlines and backoff waits. */
  clock?: Clock | undefined;
  /** Random source in [0, 1) for backoff jitter. */
  random?: (() => number) | undefined;
  /** Logging hook; retries are logged at debug level. */
  logger?: DripLogger | undefined;
  /** Attempts per call (default 4). */
  maxAttempts?: number | undefined;
  /** Per-attempt timeout in ms (default 15 000; `POST /usage` 30 000). */
  timeoutMs?: number | undefined;
  /** Whole-call deadline in ms (default 60 000; `POST /usage` 90 000). */
  deadlineMs?: number | undefined;
  /** Backoff base (default 250 ms). */
  backoffBaseMs?: number | undefined;
  /** Backoff cap (default 8000 ms). */
  backoffCapMs?: number | undefined;
  /** Longest `Retry-After` honoured (default 30 000 ms). */
  retryAfterCapMs?: number | undefined;
  /** Fixes the idempotency instance id (1-32 of `[a-z0-9]`) for reproducible keys; never in production. */
  idempotencyInstanceId?: string | undefined;
  /** Replaces the idempotency key generator. */
  idempotencyKeyFactory?: IdempotencyKeyGenerator | undefined;
  /** Set by adapters: adds `; adapter=<adapter>` (e.g. `@drip/express@0.1.0`) to `X-Drip-Client`. */
  sdk?: { adapter?: string | undefined } | undefined;
}

/**
 * Options of {@link Drip.wrapApiCall}.
 *
 * @example
 * ```ts
 * client.wrapApiCall({ customerId: 'cus_1', meter: 'tokens', call: () => llm(), extractUsage: (r) => r.tokens });
 * ```
 */
export interface WrapApiCallParams<T> extends CallOptions {
  customerId: string;
  meter: string;
  /** Runs exactly once, never retried. */
  call: () => Promise<T> | T;
  /** The quantity to charge, from the call's result (validated like any quantity). */
  extractUsage: (result: T) => number;
  idempotencyKey?: string;
  metadata?: JsonObject;
  units?: string;
  description?: string;
  /** Overrides the client's retry policy for the charge (no second retry layer). */
  retryOptions?: {
    maxAttempts?: number;
    baseDelayMs?: number;
    maxDelayMs?: number;
    timeoutMs?: number;
    deadlineMs?: number;
  };
}

/**
 * What {@link Drip.wrapApiCall} returns.
 *
 * @example
 * ```ts
 * const { result, charge, idempotencyKey } = await client.wrapApiCall(params);
 * ```
 */
export interface WrapApiCallResult<T> {
  result: T;
  charge: ChargeResult;
  idempotencyKey: string;
}

const RESPONSE_META = Symbol.for('drip.response');
const MONEY_RE = /^-?\d+(\.\d{1,6})?$/;
const BATCH_MAX_ITEMS = 500;
const BATCH_MAX_BYTES = 512 * 1024;
const RECORD_RUN_MAX_EVENTS = 100;
const END_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'] as const;
const RUN_STATUSES = ['PENDING', 'RUNNING', ...END_STATUSES] as const;
const CHARGE_STATUSES = [
  'PENDING',
  'PENDING_SETTLEMENT',
  'CONFIRMED',
  'FAILED',
  'REFUNDED',
  'REFUND_PENDING',
];
const CUSTOMER_STATUSES = ['ACTIVE', 'LOW_BALANCE', 'PAUSED'];
const SURFACES = ['API', 'RPC', 'WEBHOOK', 'AGENT', 'PIPELINE', 'CUSTOM'];
const CHAINS = ['ETHEREUM', 'SOLANA', 'POLYGON', 'ARBITRUM', 'OPTIMISM', 'BASE', 'AVALANCHE', 'BSC'];
const CAP_TYPES = ['DAILY_CHARGE_LIMIT', 'MONTHLY_CHARGE_LIMIT', 'SINGLE_CHARGE_LIMIT'];
const NAMED_EVENT_FIELDS = new Set([
  'eventType',
  'quantity',
  'units',
  'description',
  'costUnits',
  'costCurrency',
  'correlationId',
  'parentEventId',
  'spanId',
  'metadata',
  'idempotencyKey',
  'runId',
  'customerId',
  'workflowId',
]);
const CALL_OPTION_KEYS = new Set(['signal', 'timeoutMs', 'deadlineMs', 'maxAttempts']);

/**
 * The HTTP status, request id and attempt count of the response a result came from.
 *
 * @example
 * ```ts
 * const customer = await client.getCustomer('cus_1');
 * getResponseMeta(customer)?.requestId; // 'req_...'
 * ```
 */
export function getResponseMeta(result: unknown): ResponseMeta | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  return (result as Record<symbol, ResponseMeta | undefined>)[RESPONSE_META];
}

function attachMeta<T>(value: T, res: RequestResult<unknown>): T {
  if (typeof value === 'object' && value !== null && Object.isExtensible(value)) {
    Object.defineProperty(value, RESPONSE_META, {
      value: { status: res.status, requestId: res.requestId, attempts: res.attempts },
      enumerable: false,
      configurable: true,
    });
  }
  return value;
}

const seg = encodeURIComponent;

function callOptions(o: CallOptions | undefined): RequestOptions {
  return o
    ? { signal: o.signal, timeoutMs: o.timeoutMs, deadlineMs: o.deadlineMs, maxAttempts: o.maxAttempts }
    : {};
}

/** Runs `rules` on a fresh {@link Checker}, then throws what they collected (nothing is sent). */
function check(rules: (c: Checker) => void): void {
  const c = new Checker();
  rules(c);
  c.done();
}

/** The usual single check of a resource id argument. */
function checkId(path: string, value: unknown): void {
  check((c) => c.id(path, value));
}

/** `limit` (1-100) and `offset` of a page request. */
function checkPage(c: Checker, o: { limit?: unknown; offset?: unknown }): void {
  c.int('limit', o.limit, 1, 100);
  c.int('offset', o.offset, 0, Number.MAX_SAFE_INTEGER);
}

/** Checks the response fields, then attaches the response metadata. */
function shaped<T>(res: RequestResult<unknown>, data: unknown, what: string, fields: Fields): T {
  checkShape(res, data, what, fields);
  return attachMeta(data as T, res);
}

/** Copies the defined fields named in `keys` (typed for query strings; bodies only pass it on as JSON). */
function pick<T extends object>(o: T, keys: ReadonlyArray<keyof T & string>): Record<string, QueryValue> {
  const out: Record<string, QueryValue> = {};
  for (const k of keys) {
    const v = o[k];
    if (v !== undefined) out[k] = v as QueryValue;
  }
  return out;
}

/** Copies every field except the per-call options (so schema-flexible extra fields pass through). */
function wireFields(o: Record<string, unknown>, drop: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || CALL_OPTION_KEYS.has(k) || drop.includes(k)) continue;
    out[k] = v;
  }
  return out;
}

function parseError(message: string, res: RequestResult<unknown>, data: unknown): DripError {
  const err = new DripError(message, res.status, 'PARSE_ERROR', { body: data }, res.requestId);
  err.attempts = res.attempts;
  return err;
}

type FieldKind =
  | 'string'
  | 'string?'
  | 'number'
  | 'number?'
  | 'boolean'
  | 'boolean?'
  | 'money'
  | 'money?'
  | 'array'
  | 'object';

type Fields = Record<string, FieldKind>;

const CUSTOMER: Fields = { id: 'string', isInternal: 'boolean?', status: 'string?' };
const CHARGE: Fields = { id: 'string', amountUsdc: 'money', status: 'string' };
const WORKFLOW: Fields = { id: 'string', slug: 'string?', name: 'string?' };
const WEBHOOK: Fields = { id: 'string', url: 'string' };
const RUN: Fields = { id: 'string', status: 'string' };
const EVENT: Fields = { id: 'string', eventType: 'string' };
const API_KEY: Fields = { id: 'string' };
const API_SECRET: Fields = { id: 'string', secretKey: 'string' };

function checkShape(res: RequestResult<unknown>, data: unknown, what: string, fields: Fields) {
  if (!isRecord(data)) throw parseError(`${what}: response is not a JSON object`, res, data);
  for (const [name, kind] of Object.entries(fields)) {
    const v = data[name];
    const optional = kind.endsWith('?');
    if (optional && (v === undefined || v === null)) continue;
    const base = kind.replace('?', '');
    // `string`, `number` and `boolean` are `typeof` names.
    const ok =
      base === 'money'
        ? typeof v === 'string' && MONEY_RE.test(v)
        : base === 'array'
          ? Array.isArray(v)
          : base === 'object'
            ? isRecord(v)
            : typeof v === base;
    if (!ok) throw parseError(`${what}: field "${name}" is missing or not a ${base}`, res, data);
  }
}

function titleCase(slug: string): string {
  return slug
    .split(/[-_]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

/**
 * The Drip API v1 client.
 *
 * @example
 * ```ts
 * import { Drip } from '@drip/core';
 * const client = new Drip({ apiKey: process.env.DRIP_API_KEY, baseUrl: 'http://localhost:3001' });
 * await client.trackUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
 * ```
 */
export class Drip {
  /** `secret` for `sk_` keys, `public` for `pk_` keys. */
  readonly keyType: KeyType;
  /** `test`, `live` or `unknown`, from the key prefix. */
  readonly mode: KeyMode;
  /** The normalised base URL requests go to. */
  readonly baseUrl: string;
  /** The `X-Drip-Client` value this client sends. */
  readonly clientHeader: string;
  /** Adapter identification, as given in the options. */
  readonly sdk: { adapter?: string | undefined };
  // `#` names: a bundler's minifier shortens them, which it cannot do for TypeScript `private` names.
  readonly #transport: Transport;
  readonly #userPolicy: Partial<RetryPolicy>;
  readonly #keys: IdempotencyKeyGenerator;
  readonly #meters = new Set<StreamMeter>();

  constructor(options: DripOptions = {}) {
    const apiKey = options.apiKey ?? readEnv('DRIP_API_KEY');
    if (!apiKey) throw configurationError('No API key: pass apiKey or set DRIP_API_KEY');
    const keyType = keyTypeOf(apiKey);
    if (!keyType || apiKey.length < 10) {
      throw configurationError('The API key must be sk_... or pk_..., 10+ characters');
    }
    const rawBase =
      [options.baseUrl, readEnv('DRIP_API_URL'), readEnv('DRIP_BASE_URL')].find(
        (v): v is string => typeof v === 'string' && v.length > 0,
      ) ?? DEFAULT_BASE_URL;
    const baseUrl = normalizeBaseUrl(rawBase);
    if (!baseUrl) {
      throw configurationError(
        `Invalid base URL "${rawBase}": need an http(s) URL without query or fragment`,
      );
    }
    let keys: IdempotencyKeyGenerator;
    try {
      keys = createIdempotencyKeyGenerator({
        instanceId: options.idempotencyInstanceId,
        factory: options.idempotencyKeyFactory,
      });
    } catch (cause) {
      throw configurationError(cause instanceof Error ? cause.message : String(cause));
    }
    this.keyType = keyType;
    this.mode = keyModeOf(apiKey);
    this.baseUrl = baseUrl;
    this.sdk = { adapter: options.sdk?.adapter };
    const adapter = options.sdk?.adapter ? `; adapter=${options.sdk.adapter}` : '';
    this.clientHeader = `@drip/core@${VERSION}${adapter}; runtime=${detectRuntime()}`;
    this.#userPolicy = pick(options, [
      'maxAttempts',
      'timeoutMs',
      'deadlineMs',
      'backoffBaseMs',
      'backoffCapMs',
      'retryAfterCapMs',
    ]) as Partial<RetryPolicy>;
    this.#transport = new Transport({
      apiKey,
      baseUrl,
      fetch: options.fetch,
      clock: options.clock,
      random: options.random,
      logger: options.logger,
      clientHeader: this.clientHeader,
      sendUserAgent: !isBrowser(),
      policy: this.#userPolicy,
    });
    this.#keys = keys;
  }

  /** The clock the client uses (shared with StreamMeter timers). */
  get clock(): Clock {
    return this.#transport.clock;
  }

  // ---------------------------------------------------------------- low level

  /**
   * Advanced, low-level: sends one request through the client's single transport (headers, timeouts,
   * deadline, retries, `Retry-After`, error mapping, `pk_` guard). `path` is relative to the base URL
   * and must already be encoded. With `maxAttempts: 1` the caller schedules its own retries.
   *
   * @example
   * ```ts
   * const { data, status, requestId } = await client.request<{ results: unknown[] }>('POST',
   *   '/usage/internal/bulk', { body: { events }, maxAttempts: 1 });
   * ```
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<RequestResult<T>> {
    return this.#send<T>(method, path, options);
  }

  /**
   * Next automatic idempotency key for a prefix (`<prefix>_<instanceId>_<counter>`, spec §5.2).
   *
   * @example
   * ```ts
   * client.nextIdempotencyKey('mw'); // 'mw_k3v9q2m1x8zt4fha_2f'
   * ```
   */
  nextIdempotencyKey(prefix: string): string {
    return this.#keys(prefix);
  }

  #guard(path: string): void {
    const bare = path.split('?')[0] ?? path;
    if (this.keyType === 'public' && !isAllowed('public', bare)) {
      throw new DripPermissionError(
        `${bare} needs a secret (sk_) key, not a public (pk_) one`,
        'PUBLIC_KEY_NOT_ALLOWED',
      );
    }
  }

  async #send<T>(method: string, path: string, options: RequestOptions): Promise<RequestResult<T>> {
    this.#guard(path);
    return this.#transport.request<T>(method, path, options);
  }

  /**
   * The generic executor of most methods: per-call options plus `extra` (body, query, retry safety),
   * then the response check and its metadata.
   */
  async #call<T>(
    method: string,
    path: string,
    o: CallOptions | undefined,
    extra: RequestOptions,
    what: string,
    fields: Fields,
  ): Promise<T> {
    const res = await this.#send<unknown>(method, path, { ...callOptions(o), ...extra });
    return shaped<T>(res, res.data, what, fields);
  }

  #usagePolicy(o: RequestOptions): RequestOptions {
    // POST /usage waits for settlement on hosted Drip: longer defaults unless the caller or client set them.
    return {
      ...o,
      timeoutMs: o.timeoutMs ?? this.#userPolicy.timeoutMs ?? 30_000,
      deadlineMs: o.deadlineMs ?? this.#userPolicy.deadlineMs ?? 90_000,
    };
  }

  // ---------------------------------------------------------------- health

  /**
   * `GET /health` at the origin. `ok` is true only for HTTP 2xx with `status: "healthy"`. Never retried.
   *
   * @example
   * ```ts
   * const { ok, latencyMs } = await client.ping();
   * ```
   */
  async ping(options?: CallOptions): Promise<PingResult> {
    const started = this.#transport.clock.now();
    let status: number;
    let body: unknown;
    try {
      const res = await this.#transport.request<unknown>('GET', healthUrlFor(this.baseUrl), {
        ...callOptions(options),
        maxAttempts: 1,
      });
      status = res.status;
      body = res.data;
    } catch (err) {
      if (!isDripError(err) || err.statusCode < 400) throw err;
      status = err.statusCode;
      body = err.data;
    }
    const latencyMs = this.#transport.clock.now() - started;
    const rec = isRecord(body) ? body : {};
    const bodyStatus = typeof rec.status === 'string' ? rec.status : String(status);
    return {
      ok: status >= 200 && status < 300 && bodyStatus === 'healthy',
      status: bodyStatus,
      latencyMs,
      timestamp: typeof rec.timestamp === 'number' ? rec.timestamp : null,
    };
  }

  // ---------------------------------------------------------------- customers

  /**
   * `POST /customers`. One of `externalCustomerId` and `onchainAddress` is required.
   *
   * @example
   * ```ts
   * const customer = await client.createCustomer({ externalCustomerId: 'user_42', metadata: { plan: 'pro' } });
   * ```
   */
  async createCustomer(params: CreateCustomerParams): Promise<Customer> {
    check((c) => {
      if (params.externalCustomerId === undefined && params.onchainAddress === undefined) {
        c.add('externalCustomerId', 'externalCustomerId or onchainAddress is required');
      }
      c.string('externalCustomerId', params.externalCustomerId, { min: 1, max: 255 });
      c.onchainAddress('onchainAddress', params.onchainAddress);
      c.email('email', params.email);
      c.boolean('isInternal', params.isInternal);
      c.metadata('metadata', params.metadata);
    });
    const body = pick(params, ['externalCustomerId', 'onchainAddress', 'email', 'isInternal', 'metadata']);
    try {
      return await this.#call<Customer>(
        'POST',
        '/customers',
        params,
        { body, retrySafe: true },
        'customer',
        CUSTOMER,
      );
    } catch (err) {
      // §5.4: a 409 on a retry means our own earlier attempt created it.
      if (err instanceof DripConflictError && err.attempts > 1 && err.existingId) {
        return this.getCustomer(err.existingId, params);
      }
      throw err;
    }
  }

  /**
   * `GET /customers/{id}`.
   *
   * @example
   * ```ts
   * const customer = await client.getCustomer('cus_1');
   * ```
   */
  async getCustomer(customerId: string, options?: CallOptions): Promise<Customer> {
    checkId('customerId', customerId);
    return this.#call('GET', `/customers/${seg(customerId)}`, options, {}, 'customer', CUSTOMER);
  }

  /**
   * `GET /customers` (one page).
   *
   * @example
   * ```ts
   * const { data, count } = await client.listCustomers({ limit: 50, status: 'ACTIVE' });
   * ```
   */
  async listCustomers(options: ListCustomersOptions = {}): Promise<ListResult<Customer>> {
    check((c) => {
      checkPage(c, options);
      c.oneOf('status', options.status, CUSTOMER_STATUSES);
      c.boolean('isInternal', options.isInternal);
    });
    const query = pick(options, [
      'limit',
      'offset',
      'status',
      'isInternal',
      'externalCustomerId',
      'onchainAddress',
    ]);
    return this.#listPage('/customers', query, options, 'customers', 'customer', CUSTOMER, true);
  }

  /**
   * Every customer, page by page (stops on a short page or `hasMore: false`; drops repeated ids).
   *
   * @example
   * ```ts
   * for await (const customer of client.listAllCustomers({ status: 'ACTIVE' })) console.log(customer.id);
   * ```
   */
  listAllCustomers(options: Omit<ListCustomersOptions, 'offset'> = {}): AsyncIterable<Customer> {
    return this.#all(this.listCustomers, options, 100);
  }

  /**
   * Finds the customer with this `externalCustomerId`, creating it when missing (spec §4: on 409, the
   * `existingCustomerId`, else the `externalCustomerId` filter checked client-side, else every page).
   *
   * @example
   * ```ts
   * const customer = await client.getOrCreateCustomer('user_42', { plan: 'pro' });
   * ```
   */
  async getOrCreateCustomer(
    externalCustomerId: string,
    metadata?: JsonObject,
    options?: CallOptions,
  ): Promise<Customer> {
    try {
      return await this.createCustomer({ externalCustomerId, metadata, ...options });
    } catch (err) {
      if (!(err instanceof DripConflictError) || err.code === 'IDEMPOTENCY_KEY_REUSED') throw err;
      if (err.existingId) return this.getCustomer(err.existingId, options);
      const filtered = await this.listCustomers({ externalCustomerId, limit: 100, ...options });
      const hit = filtered.data.find((c) => c.externalCustomerId === externalCustomerId);
      if (hit) return hit;
      for await (const c of this.listAllCustomers({ ...options })) {
        if (c.externalCustomerId === externalCustomerId) return c;
      }
      throw new DripConflictError(
        `Customer "${externalCustomerId}" exists but was not found`,
        'CUSTOMER_RESOLUTION_FAILED',
        { externalCustomerId },
        err.requestId,
        err,
      );
    }
  }

  /**
   * `GET /customers/{id}/balance`. Amounts stay decimal strings.
   *
   * @example
   * ```ts
   * const { availableUsdc } = await client.getBalance('cus_1'); // '99.998000'
   * ```
   */
  async getBalance(customerId: string, options?: CallOptions): Promise<Balance> {
    checkId('customerId', customerId);
    return this.#call('GET', `/customers/${seg(customerId)}/balance`, options, {}, 'balance', {
      customerId: 'string',
      balanceUsdc: 'money',
      pendingChargesUsdc: 'money?',
      availableUsdc: 'money?',
    });
  }

  // ---------------------------------------------------------------- usage and charges

  #usageBody(p: TrackUsageParams | ChargeParams, prefix: string): Record<string, unknown> {
    check((c) => {
      const hasId = p.customerId !== undefined;
      const hasExt = p.externalCustomerId !== undefined;
      if (hasId && hasExt) c.add('customerId', 'give customerId or externalCustomerId, not both');
      else if (!hasId && !hasExt) c.add('customerId', 'customerId or externalCustomerId is required');
      if (hasId) c.id('customerId', p.customerId);
      if (hasExt) c.string('externalCustomerId', p.externalCustomerId, { min: 1, max: 255 });
      c.meter('meter', p.meter);
      c.quantity('quantity', p.quantity, true);
      c.idempotencyKey('idempotencyKey', p.idempotencyKey);
      c.string('units', p.units, { max: 50 });
      c.string('description', p.description, { max: 500 });
      c.metadata('metadata', p.metadata);
    });
    return stripUndefined({
      customerId: p.customerId,
      externalCustomerId: p.externalCustomerId,
      usageType: p.meter,
      quantity: p.quantity,
      units: p.units,
      description: p.description,
      metadata: p.metadata,
      idempotencyKey: p.idempotencyKey ?? this.#keys(prefix),
    });
  }

  /**
   * Records usage without charging: `POST /usage/internal` (`mode: 'sync'`, default) or
   * `POST /usage/internal/batch` (`mode: 'batch'`). The idempotency key is fixed before the first attempt.
   *
   * @example
   * ```ts
   * await client.trackUsage({ customerId: 'cus_1', meter: 'llm_tokens', quantity: 842 });
   * ```
   */
  async trackUsage(params: TrackUsageParams): Promise<TrackUsageResult> {
    check((c) => {
      c.oneOf('mode', params.mode, ['sync', 'batch']);
    });
    const body = this.#usageBody(params, 'track');
    const batch = params.mode === 'batch';
    const res = await this.#send<unknown>('POST', batch ? '/usage/internal/batch' : '/usage/internal', {
      ...callOptions(params),
      body,
    });
    checkShape(res, res.data, 'trackUsage', {
      success: 'boolean',
      usageEventId: batch ? 'string?' : 'string',
    });
    const data = res.data as TrackUsageResult;
    const out: TrackUsageResult = {
      ...data,
      idempotencyKey: data.idempotencyKey ?? (body.idempotencyKey as string),
    };
    if (batch) out.mode = 'batch';
    return attachMeta(out, res);
  }

  /**
   * Records usage and charges it now: `POST /usage`. `charge` is `null` for internal customers (and on
   * hosted Drip for auto-promoted ones).
   *
   * @example
   * ```ts
   * const { charge } = await client.charge({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
   * charge?.amountUsdc; // '0.001000'
   * ```
   */
  async charge(params: ChargeParams): Promise<ChargeResult> {
    const body = this.#usageBody(params, 'chg');
    return this.#postCharge('/usage', body, this.#usagePolicy(callOptions(params)));
  }

  /**
   * Records usage and settles the charge in the background: `POST /usage/async` (202).
   *
   * @example
   * ```ts
   * const { charge } = await client.chargeAsync({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
   * charge?.status; // 'PENDING'
   * ```
   */
  async chargeAsync(params: ChargeParams): Promise<ChargeResult> {
    const body = this.#usageBody(params, 'chga');
    return this.#postCharge('/usage/async', body, callOptions(params));
  }

  async #postCharge(path: string, body: Record<string, unknown>, o: RequestOptions): Promise<ChargeResult> {
    const res = await this.#send<unknown>('POST', path, { ...o, body });
    checkShape(res, res.data, 'charge', { success: 'boolean', usageEventId: 'string' });
    const data = res.data as Record<string, unknown>;
    const charge = data.charge;
    if (charge !== null && charge !== undefined) {
      checkShape(res, charge, 'charge.charge', { id: 'string', amountUsdc: 'money', status: 'string' });
    }
    const out = {
      ...data,
      isDuplicate: data.isDuplicate === true,
      charge: charge ?? null,
      idempotencyKey: body.idempotencyKey as string,
    } as ChargeResult;
    return attachMeta(out, res);
  }

  /**
   * `GET /charges/{id}`.
   *
   * @example
   * ```ts
   * const charge = await client.getCharge('chg_1');
   * ```
   */
  async getCharge(chargeId: string, options?: CallOptions): Promise<Charge> {
    checkId('chargeId', chargeId);
    return this.#call('GET', `/charges/${seg(chargeId)}`, options, {}, 'charge', CHARGE);
  }

  /**
   * `GET /charges` (one page).
   *
   * @example
   * ```ts
   * const { data } = await client.listCharges({ customerId: 'cus_1', status: 'CONFIRMED' });
   * ```
   */
  async listCharges(options: ListChargesOptions = {}): Promise<ListResult<Charge>> {
    check((c) => {
      checkPage(c, options);
      c.oneOf('status', options.status, CHARGE_STATUSES);
    });
    const query = pick(options, ['customerId', 'status', 'limit', 'offset']);
    return this.#listPage('/charges', query, options, 'charges', 'charge', CHARGE, true);
  }

  /**
   * Every charge, page by page.
   *
   * @example
   * ```ts
   * for await (const ch of client.listAllCharges({ customerId: 'cus_1' })) total += Number(ch.amountToken);
   * ```
   */
  listAllCharges(options: Omit<ListChargesOptions, 'offset'> = {}): AsyncIterable<Charge> {
    return this.#all(this.listCharges, options, 100);
  }

  /**
   * Runs `call()` once (never retried), then charges what `extractUsage` returns through `POST /usage`.
   * The idempotency key is generated before `call()`; the charge reuses the client's single retry layer
   * (`retryOptions` override its policy).
   *
   * @example
   * ```ts
   * const { result } = await client.wrapApiCall({ customerId: 'cus_1', meter: 'llm_tokens',
   *   call: () => openai.chat.completions.create(req), extractUsage: (r) => r.usage.total_tokens });
   * ```
   */
  async wrapApiCall<T>(params: WrapApiCallParams<T>): Promise<WrapApiCallResult<T>> {
    check((c) => {
      c.id('customerId', params.customerId);
      c.meter('meter', params.meter);
      c.idempotencyKey('idempotencyKey', params.idempotencyKey);
      c.metadata('metadata', params.metadata);
      if (typeof params.call !== 'function') c.add('call', 'must be a function');
      if (typeof params.extractUsage !== 'function') c.add('extractUsage', 'must be a function');
    });
    const idempotencyKey = params.idempotencyKey ?? this.#keys('wrap');
    const result = await params.call();
    const quantity = params.extractUsage(result);
    const r = params.retryOptions ?? {};
    const charge = await this.#postCharge(
      '/usage',
      this.#usageBody(
        {
          customerId: params.customerId,
          meter: params.meter,
          quantity,
          idempotencyKey,
          metadata: params.metadata,
          units: params.units,
          description: params.description,
        },
        'wrap',
      ),
      this.#usagePolicy({
        ...callOptions(params),
        maxAttempts: params.maxAttempts ?? r.maxAttempts,
        timeoutMs: params.timeoutMs ?? r.timeoutMs,
        deadlineMs: params.deadlineMs ?? r.deadlineMs,
        policy: stripUndefined({
          backoffBaseMs: r.baseDelayMs,
          backoffCapMs: r.maxDelayMs,
        }) as Partial<RetryPolicy>,
      }),
    );
    return { result, charge, idempotencyKey };
  }

  /**
   * A meter for streamed usage (tokens as they arrive), flushed through `POST /usage` (spec §5.6).
   *
   * @example
   * ```ts
   * const meter = client.createStreamMeter({ customerId: 'cus_1', meter: 'llm_tokens', flushThreshold: 1000 });
   * for await (const chunk of stream) meter.add(chunk.tokens);
   * await meter.close();
   * ```
   */
  createStreamMeter(options: StreamMeterOptions): StreamMeter {
    check((c) => {
      c.id('customerId', options.customerId);
      c.meter('meter', options.meter);
      c.string('idempotencyKey', options.idempotencyKey, { min: 1, max: 100 });
      c.metadata('metadata', options.metadata);
      c.quantity('flushThreshold', options.flushThreshold, false);
      c.int('flushIntervalMs', options.flushIntervalMs, 1, 2_147_483_647);
    });
    const meter = new StreamMeter(options, {
      clock: this.#transport.clock,
      nextKey: () => this.#keys('stream'),
      send: (body, signal) => this.#postCharge('/usage', body, this.#usagePolicy({ body, signal })),
      onClosed: (m) => this.#meters.delete(m),
    });
    this.#meters.add(meter);
    return meter;
  }

  /**
   * Closes every open StreamMeter (final flush). Safe to call more than once.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => client.close());
   * ```
   */
  async close(): Promise<void> {
    const open = [...this.#meters];
    const results = await Promise.allSettled(open.map((m) => m.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  // ---------------------------------------------------------------- workflows

  /**
   * `POST /workflows`.
   *
   * @example
   * ```ts
   * const wf = await client.createWorkflow({ name: 'Summarise', slug: 'summarise', productSurface: 'AGENT' });
   * ```
   */
  async createWorkflow(params: CreateWorkflowParams): Promise<Workflow> {
    check((c) => {
      c.string('name', params.name, { required: true, min: 1, max: 255 });
      c.slug('slug', params.slug);
      c.oneOf('productSurface', params.productSurface, SURFACES);
      c.oneOf('chain', params.chain, CHAINS);
      c.string('description', params.description, { max: 1000 });
      c.metadata('metadata', params.metadata);
    });
    const body = pick(params, ['name', 'slug', 'productSurface', 'chain', 'description', 'metadata']);
    try {
      const res = await this.#send<unknown>('POST', '/workflows', {
        ...callOptions(params),
        body,
        retrySafe: true,
      });
      return shaped(res, res.data, 'workflow', WORKFLOW);
    } catch (err) {
      if (err instanceof DripConflictError && err.attempts > 1 && err.code === 'DUPLICATE_WORKFLOW') {
        const found = await this.#findWorkflow(params.slug, params);
        if (found) return found;
      }
      throw err;
    }
  }

  async #findWorkflow(idOrSlug: string, options?: CallOptions): Promise<Workflow | undefined> {
    for await (const w of this.listAllWorkflows({ ...callOptions(options) })) {
      if (w.id === idOrSlug || w.slug === idOrSlug) return w;
    }
    return undefined;
  }

  /**
   * `GET /workflows` (one page).
   *
   * @example
   * ```ts
   * const { data } = await client.listWorkflows({ isActive: true });
   * ```
   */
  async listWorkflows(options: ListWorkflowsOptions = {}): Promise<ListResult<Workflow>> {
    check((c) => {
      checkPage(c, options);
      c.oneOf('productSurface', options.productSurface, SURFACES);
      c.boolean('isActive', options.isActive);
    });
    const query = pick(options, ['productSurface', 'isActive', 'limit', 'offset']);
    return this.#listPage('/workflows', query, options, 'workflows', 'workflow', WORKFLOW, true);
  }

  /**
   * Every workflow, page by page.
   *
   * @example
   * ```ts
   * for await (const wf of client.listAllWorkflows()) console.log(wf.slug);
   * ```
   */
  listAllWorkflows(options: Omit<ListWorkflowsOptions, 'offset'> = {}): AsyncIterable<Workflow> {
    return this.#all(this.listWorkflows, options, 50);
  }

  // ---------------------------------------------------------------- runs

  /**
   * `POST /runs`. Sends an `externalRunId` (generated `run_...` when absent) so a retry cannot start a
   * second run; a 409 `DUPLICATE_RUN` on a retry resolves to the run the earlier attempt created.
   *
   * @example
   * ```ts
   * const run = await client.startRun({ customerId: 'cus_1', workflowId: 'wf_1' });
   * ```
   */
  async startRun(params: StartRunParams): Promise<RunStarted> {
    check((c) => {
      c.id('customerId', params.customerId);
      c.id('workflowId', params.workflowId);
      c.string('externalRunId', params.externalRunId, { min: 1, max: 255 });
      c.string('correlationId', params.correlationId, { max: 255 });
      c.id('parentRunId', params.parentRunId, false);
      c.metadata('metadata', params.metadata);
    });
    const externalRunId = params.externalRunId ?? this.#keys('run');
    const body = stripUndefined({
      customerId: params.customerId,
      workflowId: params.workflowId,
      externalRunId,
      correlationId: params.correlationId,
      parentRunId: params.parentRunId,
      metadata: params.metadata,
    });
    try {
      const res = await this.#send<unknown>('POST', '/runs', {
        ...callOptions(params),
        body,
        retrySafe: true,
      });
      checkShape(res, res.data, 'run', { id: 'string', status: 'string' });
      return attachMeta({ ...(res.data as RunStarted), externalRunId }, res);
    } catch (err) {
      if (
        err instanceof DripConflictError &&
        err.attempts > 1 &&
        err.code === 'DUPLICATE_RUN' &&
        err.existingId
      ) {
        const run = await this.getRun(err.existingId, params);
        return {
          id: run.id,
          customerId: run.customerId,
          workflowId: run.workflowId,
          workflowName: run.workflowName,
          status: run.status,
          correlationId: run.correlationId ?? null,
          createdAt: run.startedAt ?? '',
          externalRunId,
        };
      }
      throw err;
    }
  }

  /**
   * `PATCH /runs/{id}`: ends a run. Naturally idempotent (same status again returns the stored state).
   *
   * @example
   * ```ts
   * await client.endRun(run.id, { status: 'COMPLETED' });
   * ```
   */
  async endRun(runId: string, params: EndRunParams): Promise<RunEnded> {
    check((c) => {
      c.id('runId', runId);
      c.oneOf('status', params?.status, END_STATUSES, true);
      c.string('errorMessage', params?.errorMessage, { max: 2000 });
      c.string('errorCode', params?.errorCode, { max: 100 });
      c.metadata('metadata', params?.metadata);
    });
    const body = pick(params, ['status', 'errorMessage', 'errorCode', 'metadata']);
    return this.#call('PATCH', `/runs/${seg(runId)}`, params, { body }, 'endRun', RUN);
  }

  /**
   * `GET /runs/{id}`.
   *
   * @example
   * ```ts
   * const run = await client.getRun('run_1'); // run.totals?.eventCount
   * ```
   */
  async getRun(runId: string, options?: CallOptions): Promise<RunDetails> {
    checkId('runId', runId);
    return this.#call('GET', `/runs/${seg(runId)}`, options, {}, 'run', RUN);
  }

  /**
   * `GET /runs` (one page).
   *
   * @example
   * ```ts
   * const { data } = await client.listRuns({ customerId: 'cus_1', status: 'FAILED' });
   * ```
   */
  async listRuns(options: ListRunsOptions = {}): Promise<ListResult<RunSummary>> {
    check((c) => {
      checkPage(c, options);
      c.oneOf('status', options.status, RUN_STATUSES);
    });
    const query = pick(options, ['customerId', 'workflowId', 'status', 'from', 'to', 'limit', 'offset']);
    return this.#listPage('/runs', query, options, 'runs', 'run', RUN);
  }

  /**
   * Every run, page by page.
   *
   * @example
   * ```ts
   * for await (const run of client.listAllRuns({ status: 'RUNNING' })) console.log(run.id);
   * ```
   */
  listAllRuns(options: Omit<ListRunsOptions, 'offset'> = {}): AsyncIterable<RunSummary> {
    return this.#all(this.listRuns, options, 50);
  }

  /**
   * `GET /runs/{id}/timeline` (one cursor page). `hasMore`/`nextCursor` are normalised.
   *
   * @example
   * ```ts
   * const tl = await client.getRunTimeline('run_1', { limit: 200 });
   * ```
   */
  async getRunTimeline(runId: string, options: TimelineOptions = {}): Promise<RunTimeline> {
    check((c) => {
      c.id('runId', runId);
      c.int('limit', options.limit, 1, 500);
      c.boolean('includeAnomalies', options.includeAnomalies);
      c.boolean('collapseRetries', options.collapseRetries);
    });
    const query = pick(options, ['limit', 'cursor', 'includeAnomalies', 'collapseRetries']);
    const res = await this.#send<unknown>('GET', `/runs/${seg(runId)}/timeline`, {
      ...callOptions(options),
      query,
    });
    checkShape(res, res.data, 'timeline', { events: 'array' });
    const d = res.data as Record<string, unknown>;
    const out = {
      ...d,
      runId: typeof d.runId === 'string' ? d.runId : runId,
      anomalies: Array.isArray(d.anomalies) ? d.anomalies : [],
      summary: isRecord(d.summary) ? d.summary : {},
      hasMore: d.hasMore === true,
      nextCursor: typeof d.nextCursor === 'string' ? d.nextCursor : null,
    } as RunTimeline;
    return attachMeta(out, res);
  }

  /**
   * Every timeline event of a run, following cursors.
   *
   * @example
   * ```ts
   * for await (const ev of client.listAllTimelineEvents('run_1')) console.log(ev.eventType);
   * ```
   */
  listAllTimelineEvents(
    runId: string,
    options: Omit<TimelineOptions, 'cursor'> = {},
  ): AsyncIterable<TimelineEvent> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        const seen = new Set<string>();
        const cursors = new Set<string>();
        let cursor: string | undefined;
        for (;;) {
          const page = await self.getRunTimeline(runId, { ...options, cursor });
          for (const ev of page.events) {
            if (seen.has(ev.id)) continue;
            seen.add(ev.id);
            yield ev;
          }
          if (!page.hasMore || !page.nextCursor || cursors.has(page.nextCursor)) return;
          cursors.add(page.nextCursor);
          cursor = page.nextCursor;
        }
      },
    };
  }

  // ---------------------------------------------------------------- run events

  #eventItem(item: Record<string, unknown>, path: string, c: Checker, requireRun: boolean): void {
    if (requireRun) c.id(`${path}runId`, item.runId);
    else {
      c.id(`${path}runId`, item.runId, false);
      c.id(`${path}customerId`, item.customerId, false);
      c.id(`${path}workflowId`, item.workflowId, false);
      if (item.runId === undefined && item.customerId === undefined) {
        c.add(`${path}runId`, 'runId or customerId is required');
      }
    }
    c.string(`${path}eventType`, item.eventType, { required: true, min: 1, max: 100 });
    c.quantity(`${path}quantity`, item.quantity, false);
    c.string(`${path}units`, item.units, { max: 50 });
    c.string(`${path}description`, item.description, { max: 500 });
    c.nonNegative(`${path}costUnits`, item.costUnits);
    c.string(`${path}costCurrency`, item.costCurrency, { max: 10 });
    c.string(`${path}correlationId`, item.correlationId, { max: 255 });
    c.id(`${path}parentEventId`, item.parentEventId, false);
    c.string(`${path}spanId`, item.spanId, { max: 64 });
    c.metadata(`${path}metadata`, item.metadata);
    c.idempotencyKey(`${path}idempotencyKey`, item.idempotencyKey);
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(item)) {
      if (!NAMED_EVENT_FIELDS.has(k) && !CALL_OPTION_KEYS.has(k) && v !== undefined) extra[k] = v;
    }
    if (Object.keys(extra).length > 0) c.metadata(`${path}(extra fields)`, extra);
  }

  /**
   * `POST /run-events`. Fields beyond the named ones (e.g. `model`, `inputTokens`) pass through unchanged.
   * Per-call options (`signal`, `timeoutMs`, ...) go in the second argument, so that every field of the
   * first one is event data.
   *
   * @example
   * ```ts
   * await client.emitEvent({ runId: run.id, eventType: 'llm.call', model: 'gpt-4', inputTokens: 500, outputTokens: 1200 });
   * ```
   */
  async emitEvent(params: EmitEventParams, options?: CallOptions): Promise<EmitEventResult> {
    check((c) => {
      this.#eventItem(params as Record<string, unknown>, '', c, true);
    });
    const body = wireFields(params as Record<string, unknown>);
    body.idempotencyKey ??= this.#keys('evt');
    const res = await this.#send<unknown>('POST', '/run-events', { ...callOptions(options), body });
    checkShape(res, res.data, 'event', { id: 'string' });
    const d = res.data as EmitEventResult;
    return attachMeta(
      { ...d, isDuplicate: d.isDuplicate === true, idempotencyKey: body.idempotencyKey as string },
      res,
    );
  }

  /**
   * `POST /run-events/batch`, split into chunks of at most 500 items and 512 KiB; every item gets a key
   * (assigned before chunking) and the results are merged in input order.
   *
   * @example
   * ```ts
   * await client.emitEventsBatch([{ runId, eventType: 'tool.call', name: 'web-search', duration: 1500 }]);
   * ```
   */
  async emitEventsBatch(events: BatchEventItem[], options?: CallOptions): Promise<BatchEventResult> {
    check((c) => {
      if (!Array.isArray(events)) c.add('events', 'must be an array');
      else if (events.length === 0) c.add('events', 'must not be empty');
      else {
        events.forEach((e, i) => {
          this.#eventItem(e as Record<string, unknown>, `events.${i}.`, c, false);
        });
      }
    });
    const items = events.map((e) => {
      const w = wireFields(e as Record<string, unknown>);
      w.idempotencyKey ??= this.#keys('evt');
      return w;
    });
    const chunks: Record<string, unknown>[][] = [];
    let current: Record<string, unknown>[] = [];
    let bytes = 0;
    const enc = new TextEncoder();
    for (const item of items) {
      const size = enc.encode(JSON.stringify(item)).length + 1;
      if (current.length > 0 && (current.length >= BATCH_MAX_ITEMS || bytes + size > BATCH_MAX_BYTES)) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(item);
      bytes += size;
    }
    if (current.length > 0) chunks.push(current);
    const merged: BatchEventResult = { success: true, created: 0, duplicates: 0, skipped: 0, events: [] };
    let last: RequestResult<unknown> | undefined;
    for (const chunk of chunks) {
      const res = await this.#send<unknown>('POST', '/run-events/batch', {
        ...callOptions(options),
        body: { events: chunk },
        retrySafe: true,
      });
      checkShape(res, res.data, 'batch', { events: 'array' });
      const d = res.data as BatchEventResult;
      if (d.events.length !== chunk.length) {
        throw parseError(`batch: ${d.events.length} results for ${chunk.length} items`, res, d);
      }
      merged.success &&= d.success !== false;
      merged.created += Number(d.created) || 0;
      merged.duplicates += Number(d.duplicates) || 0;
      merged.skipped += Number(d.skipped) || 0;
      merged.events.push(...d.events);
      last = res;
    }
    // The metadata of the last chunk's response.
    return last ? attachMeta(merged, last) : merged;
  }

  /**
   * Records a finished run in one call (`POST /runs/record`, spec §5.5). Always sends an `externalRunId`
   * and an `idempotencyKey`. Servers without the route (a 404 without a resource code) get the
   * step-by-step fallback, as do runs with more than 100 events; a failure part-way ends the run
   * `FAILED` with `errorCode: "RECORD_INCOMPLETE"` and rethrows.
   *
   * @example
   * ```ts
   * await client.recordRun({ customerId: 'cus_1', workflow: 'summarise', status: 'COMPLETED',
   *   events: [{ eventType: 'llm.call', model: 'gpt-4', inputTokens: 500, outputTokens: 1200 }] });
   * ```
   */
  async recordRun(params: RecordRunParams): Promise<RecordRunResult> {
    check((c) => {
      c.id('customerId', params.customerId);
      c.id('workflow', params.workflow);
      c.oneOf('status', params.status, END_STATUSES, true);
      c.string('errorMessage', params.errorMessage, { max: 2000 });
      c.string('errorCode', params.errorCode, { max: 100 });
      c.string('externalRunId', params.externalRunId, { min: 1, max: 255 });
      c.string('correlationId', params.correlationId, { max: 255 });
      c.metadata('metadata', params.metadata);
      c.idempotencyKey('idempotencyKey', params.idempotencyKey);
      if (params.events !== undefined && !Array.isArray(params.events)) c.add('events', 'must be an array');
      (params.events ?? []).forEach((e, i) => {
        const item = e as Record<string, unknown>;
        c.string(`events.${i}.eventType`, item.eventType, { required: true, min: 1, max: 100 });
        c.quantity(`events.${i}.quantity`, item.quantity, false);
        c.string(`events.${i}.units`, item.units, { max: 50 });
        c.string(`events.${i}.description`, item.description, { max: 500 });
        c.nonNegative(`events.${i}.costUnits`, item.costUnits);
        c.metadata(`events.${i}.metadata`, item.metadata);
      });
    });
    const externalRunId = params.externalRunId ?? this.#keys('run');
    const idempotencyKey = params.idempotencyKey ?? this.#keys('rec');
    const events = (params.events ?? []).map((e) => wireFields(e as Record<string, unknown>));
    if (events.length > RECORD_RUN_MAX_EVENTS) {
      return this.#recordRunStepwise(params, externalRunId, events);
    }
    const body = stripUndefined({
      ...wireFields(params as unknown as Record<string, unknown>, ['events']),
      events,
      externalRunId,
      idempotencyKey,
    });
    try {
      const res = await this.#send<unknown>('POST', '/runs/record', { ...callOptions(params), body });
      checkShape(res, res.data, 'recordRun', { run: 'object' });
      checkShape(res, (res.data as Record<string, unknown>).run, 'recordRun.run', {
        id: 'string',
        status: 'string',
      });
      const d = res.data as RecordRunResult;
      return attachMeta({ ...d, events: d.events ?? { created: 0, duplicates: 0 } }, res);
    } catch (err) {
      if (!isDripError(err)) throw err;
      if (err.statusCode === 404 && ['ROUTE_NOT_FOUND', 'NOT_FOUND', 'INVALID_RESPONSE'].includes(err.code)) {
        return this.#recordRunStepwise(params, externalRunId, events);
      }
      if (err instanceof DripConflictError && err.code === 'DUPLICATE_RUN' && err.attempts > 1) {
        if (err.existingId) {
          const run = await this.getRun(err.existingId, callOptions(params));
          return {
            run: {
              id: run.id,
              workflowId: run.workflowId,
              workflowName: run.workflowName,
              status: run.status,
              durationMs: run.durationMs ?? null,
            },
            events: { created: 0, duplicates: events.length },
            totalCostUnits: run.totals?.totalCostUnits ?? null,
            summary: 'Run already recorded by an earlier attempt',
            isDuplicate: true,
          };
        }
        throw new DripConflictError(
          err.message,
          'DUPLICATE_RUN',
          { ...(isRecord(err.data) ? err.data : {}), alreadyRecorded: true },
          err.requestId,
          err,
        );
      }
      throw err;
    }
  }

  async #recordRunStepwise(
    params: RecordRunParams,
    externalRunId: string,
    events: Record<string, unknown>[],
  ): Promise<RecordRunResult> {
    const opts = callOptions(params);
    let workflow = await this.#findWorkflow(params.workflow, opts);
    if (!workflow) {
      if (!SLUG_PATTERN.test(params.workflow)) {
        throw validationError([
          {
            path: 'workflow',
            message: 'no workflow has this id, and it is not a slug of 1-100 [a-z0-9_-]',
          },
        ]);
      }
      workflow = await this.createWorkflow({
        name: titleCase(params.workflow) || params.workflow,
        slug: params.workflow,
        productSurface: 'CUSTOM',
        ...opts,
      });
    }
    const run = await this.startRun({
      customerId: params.customerId,
      workflowId: workflow.id,
      externalRunId,
      correlationId: params.correlationId,
      metadata: params.metadata,
      ...opts,
    });
    try {
      let created = 0;
      let duplicates = 0;
      if (events.length > 0) {
        const keys = await Promise.all(events.map((_, i) => derivedKey(`${externalRunId}:${i}`)));
        const batch = await this.emitEventsBatch(
          events.map((e, i) => ({ ...(e as BatchEventItem), runId: run.id, idempotencyKey: keys[i] })),
          opts,
        );
        created = batch.created;
        duplicates = batch.duplicates;
      }
      const ended = await this.endRun(run.id, {
        status: params.status,
        errorMessage: params.errorMessage,
        errorCode: params.errorCode,
        ...opts,
      });
      return {
        run: {
          id: run.id,
          workflowId: workflow.id,
          workflowName: workflow.name,
          status: ended.status,
          durationMs: ended.durationMs ?? null,
        },
        events: { created, duplicates },
        totalCostUnits: ended.totalCostUnits ?? null,
        summary: `Recorded run with ${created} events (step by step)`,
      };
    } catch (err) {
      try {
        await this.endRun(run.id, {
          status: 'FAILED',
          errorCode: 'RECORD_INCOMPLETE',
          errorMessage: err instanceof Error ? err.message.slice(0, 2000) : 'recordRun failed part-way',
          ...opts,
        });
      } catch {
        // Best effort: the original error is what the caller needs.
      }
      throw err;
    }
  }

  // ---------------------------------------------------------------- events (ledger)

  /**
   * `GET /events` (one page), normalised to `{ data, total, limit, offset, hasMore }` from either the
   * hosted `pagination` object or the top-level fields.
   *
   * @example
   * ```ts
   * const { data, hasMore } = await client.listEvents({ runId: 'run_1' });
   * ```
   */
  async listEvents(options: ListEventsOptions = {}): Promise<ListEventsResult> {
    check((c) => {
      c.int('limit', options.limit, 1, 100);
      c.int('offset', options.offset, 0, Number.MAX_SAFE_INTEGER);
    });
    const query = pick(options, [
      'customerId',
      'runId',
      'workflowId',
      'eventType',
      'outcome',
      'actionName',
      'parentEventId',
      'idempotencyKey',
      'from',
      'to',
      'limit',
      'offset',
    ]);
    const res = await this.#send<unknown>('GET', '/events', { ...callOptions(options), query });
    checkShape(res, res.data, 'events', { data: 'array' });
    const d = res.data as Record<string, unknown>;
    const p = isRecord(d.pagination) ? d.pagination : {};
    const num = (...vs: unknown[]) => vs.find((v): v is number => typeof v === 'number');
    const data = (d.data as unknown[]).map((e) => {
      checkShape(res, e, 'event', { id: 'string', eventType: 'string' });
      return e as ExecutionEvent;
    });
    const limit = num(p.limit, d.limit) ?? options.limit ?? 50;
    const offset = num(p.offset, d.offset) ?? options.offset ?? 0;
    const total = num(p.total, d.total, d.count) ?? offset + data.length;
    const hasMoreRaw =
      typeof p.hasMore === 'boolean' ? p.hasMore : typeof d.hasMore === 'boolean' ? d.hasMore : undefined;
    return attachMeta({ data, total, limit, offset, hasMore: hasMoreRaw ?? data.length >= limit }, res);
  }

  /**
   * Every event matching the filters, page by page.
   *
   * @example
   * ```ts
   * for await (const ev of client.listAllEvents({ customerId: 'cus_1' })) console.log(ev.eventType);
   * ```
   */
  listAllEvents(options: Omit<ListEventsOptions, 'offset'> = {}): AsyncIterable<ExecutionEvent> {
    return this.#paginate(async (offset, limit) => {
      const page = await this.listEvents({ ...options, offset, limit });
      return { data: page.data, count: page.total, hasMore: page.hasMore };
    }, options.limit ?? 50);
  }

  /**
   * `GET /events/{id}`.
   *
   * @example
   * ```ts
   * const ev = await client.getEvent('evt_1'); // ev.childEvents
   * ```
   */
  async getEvent(eventId: string, options?: CallOptions): Promise<ExecutionEvent> {
    checkId('eventId', eventId);
    return this.#call('GET', `/events/${seg(eventId)}`, options, {}, 'event', EVENT);
  }

  // ---------------------------------------------------------------- webhooks (secret key only)

  /**
   * `POST /webhooks` (secret key only). The result carries the signing `secret`, shown only here and on
   * rotation. Not retried after an unknown outcome (only on 429/503).
   *
   * @example
   * ```ts
   * const { id, secret } = await client.createWebhook({ url: 'https://example.com/drip', events: ['charge.failed'] });
   * ```
   */
  async createWebhook(params: CreateWebhookParams): Promise<Webhook & { secret: string; message?: string }> {
    this.#guard('/webhooks');
    check((c) => this.#webhookChecks(c, params, true));
    const body = pick(params, ['url', 'events', 'description', 'filters']);
    return this.#call('POST', '/webhooks', params, { body, retrySafe: false }, 'webhook', {
      id: 'string',
      secret: 'string',
    });
  }

  #webhookChecks(c: Checker, p: Partial<CreateWebhookParams> & { isActive?: unknown }, create: boolean) {
    if (create || p.url !== undefined) {
      c.string('url', p.url, { required: true, min: 1, max: 2048 });
      if (typeof p.url === 'string' && !/^https?:\/\/[^\s]+$/.test(p.url))
        c.add('url', 'must be an absolute http(s) URL');
    }
    if (create || p.events !== undefined) {
      if (!Array.isArray(p.events) || p.events.length < 1 || p.events.length > 50) {
        c.add('events', 'must be an array of 1-50 event types');
      } else if (p.events.some((e) => typeof e !== 'string' || e.length === 0)) {
        c.add('events', 'must hold non-empty strings');
      }
    }
    c.string('description', p.description, { max: 500 });
    c.boolean('isActive', p.isActive);
    if (p.filters !== undefined && p.filters !== null && !isRecord(p.filters))
      c.add('filters', 'must be an object or null');
  }

  /**
   * `GET /webhooks` (secret key only).
   *
   * @example
   * ```ts
   * const { data } = await client.listWebhooks();
   * ```
   */
  async listWebhooks(options?: CallOptions): Promise<ListResult<Webhook>> {
    return this.#listPage('/webhooks', {}, options, 'webhooks', 'webhook', WEBHOOK, true);
  }

  /**
   * `GET /webhooks/{id}` (secret key only).
   *
   * @example
   * ```ts
   * const wh = await client.getWebhook('wh_1'); // wh.healthStatus
   * ```
   */
  async getWebhook(webhookId: string, options?: CallOptions): Promise<Webhook> {
    checkId('webhookId', webhookId);
    return this.#call('GET', `/webhooks/${seg(webhookId)}`, options, {}, 'webhook', WEBHOOK);
  }

  /**
   * `PATCH /webhooks/{id}` (secret key only). `filters: null` clears the filters.
   *
   * @example
   * ```ts
   * await client.updateWebhook('wh_1', { isActive: false });
   * ```
   */
  async updateWebhook(webhookId: string, params: UpdateWebhookParams): Promise<Webhook> {
    check((c) => {
      c.id('webhookId', webhookId);
      this.#webhookChecks(c, params as Partial<CreateWebhookParams> & { isActive?: unknown }, false);
    });
    const body = pick(params, ['url', 'events', 'description', 'isActive', 'filters']);
    return this.#call('PATCH', `/webhooks/${seg(webhookId)}`, params, { body }, 'webhook', WEBHOOK);
  }

  /**
   * `DELETE /webhooks/{id}` (secret key only). A 404 on a retry attempt counts as success.
   *
   * @example
   * ```ts
   * await client.deleteWebhook('wh_1'); // { success: true }
   * ```
   */
  async deleteWebhook(webhookId: string, options?: CallOptions): Promise<{ success: true }> {
    checkId('webhookId', webhookId);
    return this.#deleteCall(`/webhooks/${seg(webhookId)}`, options);
  }

  async #deleteCall(path: string, options?: CallOptions): Promise<{ success: true }> {
    try {
      const res = await this.#send<unknown>('DELETE', path, callOptions(options));
      return attachMeta({ success: true as const }, res);
    } catch (err) {
      if (isDripError(err) && err.statusCode === 404 && err.attempts > 1) return { success: true };
      throw err;
    }
  }

  /**
   * `POST /webhooks/{id}/test` (secret key only): one `webhook.test` delivery, sent synchronously.
   *
   * @example
   * ```ts
   * const { status } = await client.testWebhook('wh_1'); // 'DELIVERED'
   * ```
   */
  async testWebhook(webhookId: string, options?: CallOptions): Promise<WebhookTestResult> {
    checkId('webhookId', webhookId);
    // No body, as the official client sends it (the server treats an empty body as {}).
    const res = await this.#send<unknown>('POST', `/webhooks/${seg(webhookId)}/test`, {
      ...callOptions(options),
      retrySafe: false,
    });
    checkShape(res, res.data, 'webhookTest', { status: 'string' });
    const d = res.data as WebhookTestResult;
    return attachMeta({ ...d, deliveryId: d.deliveryId ?? null }, res);
  }

  /**
   * `POST /webhooks/{id}/rotate-secret` (secret key only). Verify with `[newSecret, oldSecret]` until
   * `previousSecretExpiresAt`.
   *
   * @example
   * ```ts
   * const { secret } = await client.rotateWebhookSecret('wh_1');
   * ```
   */
  async rotateWebhookSecret(webhookId: string, options?: CallOptions): Promise<WebhookSecretRotation> {
    checkId('webhookId', webhookId);
    // No body, as the official client sends it (the server treats an empty body as {}).
    return this.#call(
      'POST',
      `/webhooks/${seg(webhookId)}/rotate-secret`,
      options,
      { retrySafe: false },
      'rotateWebhookSecret',
      { secret: 'string' },
    );
  }

  /**
   * `GET /webhooks/{id}/deliveries` (secret key only).
   *
   * @example
   * ```ts
   * const { data } = await client.listWebhookDeliveries('wh_1', { status: 'FAILED' });
   * ```
   */
  async listWebhookDeliveries(
    webhookId: string,
    options: ListDeliveriesOptions = {},
  ): Promise<ListResult<WebhookDelivery>> {
    check((c) => {
      c.id('webhookId', webhookId);
      checkPage(c, options);
      c.oneOf('status', options.status, ['PENDING', 'DELIVERED', 'FAILED']);
    });
    const query = pick(options, ['limit', 'offset', 'status']);
    return this.#listPage(
      `/webhooks/${seg(webhookId)}/deliveries`,
      query,
      options,
      'deliveries',
      'delivery',
      RUN,
    );
  }

  /**
   * Verifies a webhook signature (several `v1`, several secrets, bare-hex form). Never throws.
   *
   * @example
   * ```ts
   * const ok = await Drip.verifyWebhookSignature(rawBody, header, secret);
   * ```
   */
  static verifyWebhookSignature(
    payload: WebhookPayload,
    header: string | null | undefined,
    secret: string | readonly string[],
    tolerance?: number | VerifyWebhookOptions,
  ): Promise<boolean> {
    return verifyWebhookSignature(payload, header, secret, tolerance);
  }

  /**
   * Signs a payload in the `t=...,v1=...` form (tests, and the local server's signer).
   *
   * @example
   * ```ts
   * const header = await Drip.generateWebhookSignature(body, 'whsec_abc');
   * ```
   */
  static generateWebhookSignature(
    payload: WebhookPayload,
    secret: string | readonly string[],
    timestamp?: number,
  ): Promise<string> {
    return generateWebhookSignature(payload, secret, timestamp);
  }

  /**
   * Verifies, then parses a typed event; throws `DripError` 400 `INVALID_SIGNATURE` on mismatch.
   *
   * @example
   * ```ts
   * const event = await Drip.constructWebhookEvent(rawBody, header, secret);
   * ```
   */
  static constructWebhookEvent(
    payload: WebhookPayload,
    header: string | null | undefined,
    secret: string | readonly string[],
    tolerance?: number | VerifyWebhookOptions,
  ): Promise<DripWebhookEvent> {
    return constructWebhookEvent(payload, header, secret, tolerance);
  }

  // ---------------------------------------------------------------- spending caps, entitlements

  /**
   * `PUT /customers/{id}/spending-cap`: create or replace the cap of one type.
   *
   * @example
   * ```ts
   * await client.setCustomerSpendingCap('cus_1', { capType: 'DAILY_CHARGE_LIMIT', limitValue: '25.00' });
   * ```
   */
  async setCustomerSpendingCap(customerId: string, params: SetSpendingCapParams): Promise<SpendingCap> {
    check((c) => {
      c.id('customerId', customerId);
      c.oneOf('capType', params?.capType, CAP_TYPES, true);
      const lv = params?.limitValue;
      if (typeof lv === 'number') {
        if (!Number.isFinite(lv) || lv <= 0 || lv > 1e9) c.add('limitValue', 'must be a number in (0, 1e9]');
        else if (!/^\d+(\.\d{1,6})?$/.test(String(lv))) c.add('limitValue', 'must have at most 6 decimals');
      } else if (typeof lv === 'string') {
        if (!/^\d+(\.\d{1,6})?$/.test(lv) || Number(lv) <= 0 || Number(lv) > 1e9) {
          c.add('limitValue', 'must be a decimal string in (0, 1e9], 6 decimals at most');
        }
      } else c.add('limitValue', 'is required (number or decimal string)');
      c.boolean('autoBlock', params?.autoBlock);
    });
    const body = pick(params, ['capType', 'limitValue', 'autoBlock']);
    const res = await this.#send<unknown>('PUT', `/customers/${seg(customerId)}/spending-cap`, {
      ...callOptions(params),
      body,
    });
    checkShape(res, res.data, 'spendingCap', { id: 'string', capType: 'string' });
    return attachMeta(res.data as SpendingCap, res);
  }

  /**
   * `GET /customers/{id}/spending-caps` (active caps).
   *
   * @example
   * ```ts
   * const { caps } = await client.getCustomerSpendingCaps('cus_1');
   * ```
   */
  async getCustomerSpendingCaps(customerId: string, options?: CallOptions): Promise<{ caps: SpendingCap[] }> {
    checkId('customerId', customerId);
    return this.#call('GET', `/customers/${seg(customerId)}/spending-caps`, options, {}, 'spendingCaps', {
      caps: 'array',
    });
  }

  /**
   * `DELETE /customers/{id}/spending-caps/{capId}` (deactivates the cap).
   *
   * @example
   * ```ts
   * await client.removeCustomerSpendingCap('cus_1', 'cap_1');
   * ```
   */
  async removeCustomerSpendingCap(
    customerId: string,
    capId: string,
    options?: CallOptions,
  ): Promise<{ success: true }> {
    check((c) => {
      c.id('customerId', customerId);
      c.id('capId', capId);
    });
    return this.#deleteCall(`/customers/${seg(customerId)}/spending-caps/${seg(capId)}`, options);
  }

  /**
   * `POST /entitlements/check`: may this customer do this now? Read-only, so retried like a GET.
   *
   * @example
   * ```ts
   * const { allowed, remaining } = await client.checkEntitlement({ customerId: 'cus_1', featureKey: 'api_calls' });
   * ```
   */
  async checkEntitlement(params: EntitlementCheckParams): Promise<EntitlementCheckResult> {
    check((c) => {
      c.id('customerId', params.customerId);
      c.string('featureKey', params.featureKey, { required: true, min: 1, max: 100 });
      c.quantity('quantity', params.quantity, false);
    });
    const body = {
      customerId: params.customerId,
      featureKey: params.featureKey,
      quantity: params.quantity ?? 1,
    };
    return this.#call('POST', '/entitlements/check', params, { body, retrySafe: true }, 'entitlement', {
      allowed: 'boolean',
    });
  }

  // ---------------------------------------------------------------- API keys (secret key only)

  /**
   * `POST /api-keys` (secret key only): a new key pair in the caller's mode; `secretKey` is shown once.
   *
   * @example
   * ```ts
   * const { publicKey, secretKey } = await client.createApiKey({ name: 'ci' });
   * ```
   */
  async createApiKey(
    params: { name: string } & CallOptions,
  ): Promise<ApiKey & { secretKey: string; message?: string }> {
    this.#guard('/api-keys');
    check((c) => c.string('name', params?.name, { required: true, min: 1, max: 100 }));
    const body = { name: params.name };
    return this.#call('POST', '/api-keys', params, { body, retrySafe: false }, 'apiKey', API_SECRET);
  }

  /**
   * `GET /api-keys` (secret key only; revoked pairs included).
   *
   * @example
   * ```ts
   * const { data } = await client.listApiKeys();
   * ```
   */
  async listApiKeys(
    options: { limit?: number; offset?: number } & CallOptions = {},
  ): Promise<ListResult<ApiKey>> {
    check((c) => checkPage(c, options));
    const query = { limit: options.limit, offset: options.offset };
    return this.#listPage('/api-keys', query, options, 'apiKeys', 'apiKey', API_KEY);
  }

  /**
   * `POST /api-keys/{id}/rotate` (secret key only): new secret key, old one valid for `gracePeriodHours`.
   *
   * @example
   * ```ts
   * const { secretKey } = await client.rotateApiKey('key_1', { gracePeriodHours: 1 });
   * ```
   */
  async rotateApiKey(
    keyId: string,
    params: { gracePeriodHours?: number } & CallOptions = {},
  ): Promise<ApiKeyRotation> {
    check((c) => {
      c.id('keyId', keyId);
      c.int('gracePeriodHours', params.gracePeriodHours, 0, 168);
    });
    const body = pick(params, ['gracePeriodHours']);
    return this.#call(
      'POST',
      `/api-keys/${seg(keyId)}/rotate`,
      params,
      { body, retrySafe: false },
      'apiKeyRotation',
      API_SECRET,
    );
  }

  /**
   * `POST /api-keys/{id}/revoke` (secret key only). Idempotent: revoking again returns the pair unchanged.
   *
   * @example
   * ```ts
   * const revoked = await client.revokeApiKey('key_1'); // revoked.revokedAt
   * ```
   */
  async revokeApiKey(keyId: string, options?: CallOptions): Promise<ApiKey> {
    checkId('keyId', keyId);
    return this.#call(
      'POST',
      `/api-keys/${seg(keyId)}/revoke`,
      options,
      { retrySafe: true },
      'apiKey',
      API_KEY,
    );
  }

  // ---------------------------------------------------------------- pagination helpers

  /** One page of a list route; each item is checked against `fields` (and gets the metadata with `meta`). */
  async #listPage<T>(
    path: string,
    query: Record<string, QueryValue>,
    options: CallOptions | undefined,
    what: string,
    itemWhat: string,
    fields: Fields,
    meta?: boolean,
  ): Promise<ListResult<T>> {
    const res = await this.#send<unknown>('GET', path, { ...callOptions(options), query });
    checkShape(res, res.data, what, { data: 'array' });
    const d = res.data as Record<string, unknown>;
    const data = (d.data as unknown[]).map((x) => {
      checkShape(res, x, itemWhat, fields);
      return meta ? attachMeta(x as T, res) : (x as T);
    });
    const out: ListResult<T> = { data, count: typeof d.count === 'number' ? d.count : data.length };
    if (typeof d.hasMore === 'boolean') out.hasMore = d.hasMore;
    return attachMeta(out, res);
  }

  /** Every item of an offset-paginated list method, starting from `options` (page size `limit`). */
  #all<T extends { id: string }, O extends { limit?: number | undefined }>(
    list: (o: O & { offset: number; limit: number }) => Promise<ListResult<T>>,
    options: O,
    limit: number,
  ): AsyncIterable<T> {
    return this.#paginate(
      (offset, l) => list.call(this, { ...options, offset, limit: l }),
      options.limit ?? limit,
    );
  }

  #paginate<T extends { id: string }>(
    page: (offset: number, limit: number) => Promise<ListResult<T>>,
    limit: number,
  ): AsyncIterable<T> {
    return {
      async *[Symbol.asyncIterator]() {
        const seen = new Set<string>();
        let offset = 0;
        for (;;) {
          const p = await page(offset, limit);
          let fresh = 0;
          for (const item of p.data) {
            if (seen.has(item.id)) continue;
            seen.add(item.id);
            fresh += 1;
            yield item;
          }
          // Stop on a short page or hasMore === false; never rely on count. A page of only repeats
          // means the server ignores offset: stop instead of looping.
          if (p.data.length < limit || p.hasMore === false || fresh === 0) return;
          offset += p.data.length;
        }
      },
    };
  }
}

async function derivedKey(raw: string): Promise<string> {
  if (raw.length <= 128 && /^[A-Za-z0-9._:-]+$/.test(raw)) return raw;
  const digest = new Uint8Array(
    await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(raw)),
  );
  return `rec_${base64url(digest)}`;
}
