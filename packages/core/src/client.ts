/**
 * The Drip API v1 client (spec §4). Every method validates its input before sending, goes through the
 * single {@link Transport}, and checks the response fields it relies on (`PARSE_ERROR` otherwise).
 *
 * Most methods are one line: an {@link Endpoint} (route, input rules, fields sent, retry safety, response
 * check) run by one generic executor. Methods with their own logic (usage and charges, run events,
 * `recordRun`, recoveries after a 409 on a retry) are written out.
 */

import type { Clock } from './clock';
import {
  DripConflictError,
  DripError,
  type DripErrorDetail,
  DripPermissionError,
  configurationError,
  isDripError,
  isRecord,
  validationError,
} from './errors';
import { type IdempotencyKeyGenerator, createIdempotencyKeyGenerator, runEventKey } from './keys';
import { detectRuntime, isBrowser, readEnv } from './runtime';
import { type KeyMode, type KeyType, isAllowed, keyModeOf, keyTypeOf } from './scopes';
import { StreamMeter, type StreamMeterOptions } from './stream-meter';
import {
  type DripLogger,
  type FetchLike,
  type RequestOptions,
  type RequestResult,
  type RetryPolicy,
  DEFAULT_RETRY_POLICY,
  Transport,
  healthUrlFor,
  normalizeBaseUrl,
  pick,
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
import {
  type Rule,
  type Rules,
  SLUG_PATTERN,
  assertValid,
  bool,
  check,
  id,
  idempotencyKey as KEY,
  int,
  matches,
  metadata,
  meter,
  nonNegative,
  oneOf,
  quantity,
  str,
} from './validation';
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

const RESPONSE_META = /* @__PURE__ */ Symbol.for('drip.response');
const MONEY_RE = /^-?\d+(\.\d{1,6})?$/;
const DECIMAL_RE = /^\d+(\.\d{1,6})?$/;
const BATCH_MAX_ITEMS = 500;
const BATCH_MAX_BYTES = 512 * 1024;
const RECORD_RUN_MAX_EVENTS = 100;
const CALL_OPTION_KEYS = ['signal', 'timeoutMs', 'deadlineMs', 'maxAttempts'] as const;

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

/** Attaches the response metadata to an object result (non-enumerable, so never serialised). */
function attachMeta<T>(value: T, meta: ResponseMeta | undefined): T {
  if (meta && typeof value === 'object' && value !== null && Object.isExtensible(value)) {
    Object.defineProperty(value, RESPONSE_META, { value: meta, configurable: true });
  }
  return value;
}

function metaOf(res: RequestResult<unknown>): ResponseMeta {
  return { status: res.status, requestId: res.requestId, attempts: res.attempts };
}

const seg = (value: unknown) => encodeURIComponent(value as string);

/** The per-call options (`signal`, `timeoutMs`, `deadlineMs`, `maxAttempts`) of a params object. */
function callOptions(o: CallOptions | undefined): RequestOptions {
  return pick(o, CALL_OPTION_KEYS) as RequestOptions;
}

/** Copies every field except the per-call options (so schema-flexible extra fields pass through). */
function wireFields(o: object, drop?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined && k !== drop && !(CALL_OPTION_KEYS as readonly string[]).includes(k)) out[k] = v;
  }
  return out;
}

/** Response field kinds: `typeof` names, a decimal `money` string, `array`, `object`; `?` when optional. */
type FieldKind = 'string' | 'string?' | 'boolean' | 'boolean?' | 'money' | 'money?' | 'array' | 'object';

type Fields = Readonly<Record<string, FieldKind>>;

const CUSTOMER: Fields = { id: 'string', isInternal: 'boolean?', status: 'string?' };
const CHARGE: Fields = { id: 'string', amountUsdc: 'money', status: 'string' };
const WORKFLOW: Fields = { id: 'string', slug: 'string?', name: 'string?' };
const WEBHOOK: Fields = { id: 'string', url: 'string' };
const RUN: Fields = { id: 'string', status: 'string' };
const API_KEY: Fields = { id: 'string' };
const API_SECRET: Fields = { id: 'string', secretKey: 'string' };
const PAGE_OF: Fields = { data: 'array' };
const EVENT_SHAPE: Fields = { id: 'string', eventType: 'string' };

function parseError(message: string, meta: ResponseMeta, data: unknown): DripError {
  const err = new DripError(message, meta.status, 'PARSE_ERROR', { body: data }, meta.requestId);
  err.attempts = meta.attempts;
  return err;
}

/**
 * Checks the response fields a method relies on (`PARSE_ERROR` naming the request and the field otherwise),
 * then attaches the metadata.
 */
function shaped<T>(meta: ResponseMeta, data: unknown, fields: Fields, what: string): T {
  if (!isRecord(data)) throw parseError(`${what}: response is not a JSON object`, meta, data);
  for (const [name, kind] of Object.entries(fields)) {
    const v = data[name];
    const base = kind.replace('?', '');
    if (base !== kind && (v === undefined || v === null)) continue;
    // `string` and `boolean` are `typeof` names.
    const ok =
      base === 'money'
        ? typeof v === 'string' && MONEY_RE.test(v)
        : base === 'array'
          ? Array.isArray(v)
          : base === 'object'
            ? isRecord(v)
            : typeof v === base;
    if (!ok) throw parseError(`${what}: field "${name}" is missing or not a ${base}`, meta, data);
  }
  return attachMeta(data as T, meta);
}

/** `{ ...from, ...extra }` keeping the response metadata of `from`. */
function extend<T>(from: object, extra: object): T {
  return attachMeta({ ...from, ...extra } as T, getResponseMeta(from));
}

/**
 * One endpoint of the table-driven methods, run by `Drip.#run`.
 */
interface Endpoint {
  /** `METHOD /path`; each `:name` segment takes the next id argument (checked as an id, URL-encoded). */
  route: string;
  /** Rules of the params object, checked after the ids. */
  rules?: Rules;
  /** Params fields sent as the body (the query of a GET). Default: the fields of `rules`; no rules, no body. */
  send?: readonly string[];
  /** Whether the call may be repeated after an unknown outcome (default: the transport's rule, spec §7.2). */
  safe?: boolean;
  /** Fields the result (each item of a list) must have; none: the result is `{ success: true }`. */
  shape?: Fields;
  /** List route: the result is a page whose `data` array holds the items. */
  list?: boolean;
}

const ID = /* @__PURE__ */ id();
const OPTIONAL_ID = /* @__PURE__ */ id(false);
const NAME = /* @__PURE__ */ str(255, 1);
const TEXT_255 = /* @__PURE__ */ str(255);
const TEXT_500 = /* @__PURE__ */ str(500);
const UNITS = /* @__PURE__ */ str(50);
const ERROR_FIELDS: Rules = {
  errorMessage: /* @__PURE__ */ str(2000),
  errorCode: /* @__PURE__ */ str(100),
};
const PAGE: Rules = {
  limit: /* @__PURE__ */ int(1, 100),
  offset: /* @__PURE__ */ int(0, 2 ** 53 - 1), // Number.MAX_SAFE_INTEGER, written so bundlers see a constant
};
const END_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'];
const END_STATUS = /* @__PURE__ */ oneOf(END_STATUSES, true);
const SURFACE = /* @__PURE__ */ oneOf(['API', 'RPC', 'WEBHOOK', 'AGENT', 'PIPELINE', 'CUSTOM']);

/** A rule that runs `rule` only when the value is not `undefined` (so `null` is checked). */
const ifDefined =
  (rule: Rule): Rule =>
  (v) =>
    v === undefined ? undefined : rule(v);

/** `trackUsage`, `charge`, `chargeAsync`, `wrapApiCall`, after the customer reference check. */
const USAGE: Rules = {
  customerId: /* @__PURE__ */ ifDefined(ID),
  externalCustomerId: NAME,
  meter,
  quantity: /* @__PURE__ */ quantity(true),
  idempotencyKey: KEY,
  units: UNITS,
  description: TEXT_500,
  metadata,
};

const EVENT_TYPE = /* @__PURE__ */ str(100, 1, true);
const OPTIONAL_QUANTITY = /* @__PURE__ */ quantity();
/** The named fields of a run event; any other field is schema-flexible data (spec §2.4.1). */
const EVENT: Rules = {
  eventType: EVENT_TYPE,
  quantity: OPTIONAL_QUANTITY,
  units: UNITS,
  description: TEXT_500,
  costUnits: nonNegative,
  costCurrency: /* @__PURE__ */ str(10),
  correlationId: TEXT_255,
  parentEventId: OPTIONAL_ID,
  spanId: /* @__PURE__ */ str(64),
  metadata,
  idempotencyKey: KEY,
};
/** The checked fields of a `recordRun` event (the others pass through). */
const RECORD_EVENT: Rules = {
  eventType: EVENT_TYPE,
  quantity: OPTIONAL_QUANTITY,
  units: UNITS,
  description: TEXT_500,
  costUnits: nonNegative,
  metadata,
};
/** The references of a batch event item (one of `runId` and `customerId` is required). */
const BATCH_REFS: Rules = { runId: OPTIONAL_ID, customerId: OPTIONAL_ID, workflowId: OPTIONAL_ID };

const START_RUN: Rules = {
  customerId: ID,
  workflowId: ID,
  externalRunId: NAME,
  correlationId: TEXT_255,
  parentRunId: OPTIONAL_ID,
  metadata,
};

const URL_RE = /^https?:\/\/[^\s]+$/;
const URL_TEXT = /* @__PURE__ */ str(2048, 1, true);
const WEBHOOK_URL: Rule = (v) =>
  URL_TEXT(v) ?? (URL_RE.test(v as string) ? undefined : 'must be an absolute http(s) URL');
const WEBHOOK_EVENTS: Rule = (v) =>
  !Array.isArray(v) || v.length < 1 || v.length > 50
    ? 'must be an array of 1-50 event types'
    : v.some((e) => typeof e !== 'string' || e.length === 0)
      ? 'must hold non-empty strings'
      : undefined;
const WEBHOOK_REST: Rules = {
  description: TEXT_500,
  isActive: bool,
  filters: (v) => (v === undefined || v === null || isRecord(v) ? undefined : 'must be an object or null'),
};

/** A spending cap limit: a number or decimal string in (0, 1e9] with at most 6 decimals. */
const LIMIT_VALUE: Rule = (v) =>
  v === undefined || v === null
    ? 'is required'
    : (typeof v === 'number' || typeof v === 'string') &&
        DECIMAL_RE.test(String(v)) &&
        Number(v) > 0 &&
        Number(v) <= 1e9
      ? undefined
      : 'must be a number or decimal string in (0, 1e9], 6 decimals at most';

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
      options.baseUrl || readEnv('DRIP_API_URL') || readEnv('DRIP_BASE_URL') || DEFAULT_BASE_URL;
    const baseUrl = normalizeBaseUrl(rawBase);
    if (!baseUrl) {
      throw configurationError(
        `Invalid base URL "${rawBase}": need an http(s) URL without query or fragment`,
      );
    }
    try {
      this.#keys = createIdempotencyKeyGenerator({
        instanceId: options.idempotencyInstanceId,
        factory: options.idempotencyKeyFactory,
      });
    } catch (cause) {
      throw configurationError((cause as Error).message);
    }
    const adapter = options.sdk?.adapter;
    this.keyType = keyType;
    this.mode = keyModeOf(apiKey);
    this.baseUrl = baseUrl;
    this.sdk = { adapter };
    this.clientHeader = `@drip/core@${VERSION}${adapter ? `; adapter=${adapter}` : ''}; runtime=${detectRuntime()}`;
    this.#userPolicy = pick(options, Object.keys(DEFAULT_RETRY_POLICY));
    this.#transport = new Transport({
      ...options,
      apiKey,
      baseUrl,
      clientHeader: this.clientHeader,
      sendUserAgent: !isBrowser(),
      policy: this.#userPolicy,
    });
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

  /** Refuses a secret-only route with a public key before anything is sent (spec §6). */
  #guard(path: string): void {
    const bare = path.split('?')[0] as string;
    if (!isAllowed(this.keyType, bare)) {
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

  /** Sends, then checks the response against `fields` (see {@link shaped}). */
  async #json<T>(method: string, path: string, options: RequestOptions, fields: Fields): Promise<T> {
    const res = await this.#send<unknown>(method, path, options);
    return shaped<T>(metaOf(res), res.data, fields, `${method} ${path}`);
  }

  /**
   * The generic executor of the table-driven methods: checks the id arguments and the params (after any
   * `problems` the method found itself), sends the route with the params' call options, then checks the
   * response (each item of a list page).
   */
  async #run<T>(
    e: Endpoint,
    ids: readonly unknown[],
    params?: object,
    problems: DripErrorDetail[] = [],
  ): Promise<T> {
    const [method, template] = e.route.split(' ') as [string, string];
    let i = 0;
    const path = template.replace(/:(\w+)/g, (_, name: string) => {
      const value = ids[i++];
      const message = ID(value);
      if (message) problems.push({ path: name, message });
      return seg(value);
    });
    if (e.rules) check(problems, params, e.rules);
    assertValid(problems);
    const fields = e.send || e.rules ? pick(params, e.send ?? Object.keys(e.rules ?? {})) : undefined;
    const options: RequestOptions = { ...callOptions(params), retrySafe: e.safe };
    if (method === 'GET') options.query = fields;
    else options.body = fields;
    if (!e.shape) {
      return attachMeta({ success: true }, metaOf(await this.#send(method, path, options))) as T;
    }
    if (!e.list) return this.#json<T>(method, path, options, e.shape);
    const page = await this.#json<Record<string, unknown>>(method, path, options, PAGE_OF);
    const meta = getResponseMeta(page) as ResponseMeta;
    const data = (page.data as unknown[]).map((item, n) =>
      shaped(meta, item, e.shape as Fields, `${method} ${path}: data.${n}`),
    );
    const out: ListResult<unknown> = {
      data,
      count: typeof page.count === 'number' ? page.count : data.length,
    };
    if (typeof page.hasMore === 'boolean') out.hasMore = page.hasMore;
    return attachMeta(out as T, meta);
  }

  /** A `DELETE`: a 404 on a retry attempt means an earlier attempt already deleted it. */
  async #delete(route: string, ids: readonly string[], options?: CallOptions): Promise<{ success: true }> {
    try {
      return await this.#run({ route }, ids, options);
    } catch (err) {
      if (isDripError(err) && err.statusCode === 404 && err.attempts > 1) return { success: true };
      throw err;
    }
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
    const clock = this.#transport.clock;
    const started = clock.now();
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
    const rec = isRecord(body) ? body : {};
    const bodyStatus = typeof rec.status === 'string' ? rec.status : String(status);
    return {
      ok: status >= 200 && status < 300 && bodyStatus === 'healthy',
      status: bodyStatus,
      latencyMs: clock.now() - started,
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
    const problems: DripErrorDetail[] =
      params.externalCustomerId === undefined && params.onchainAddress === undefined
        ? [{ path: 'externalCustomerId', message: 'externalCustomerId or onchainAddress is required' }]
        : [];
    try {
      return await this.#run(
        {
          route: 'POST /customers',
          rules: {
            externalCustomerId: NAME,
            onchainAddress: matches(/^0x[a-fA-F0-9]{40}$/, 'must match ^0x[a-fA-F0-9]{40}$'),
            email: matches(
              /^(?=.{1,320}$)[^\s@]+@[^\s@]+\.[^\s@]+$/,
              'must be an email address (320 characters at most)',
            ),
            isInternal: bool,
            metadata,
          },
          safe: true,
          shape: CUSTOMER,
        },
        [],
        params,
        problems,
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
  getCustomer(customerId: string, options?: CallOptions): Promise<Customer> {
    return this.#run({ route: 'GET /customers/:customerId', shape: CUSTOMER }, [customerId], options);
  }

  /**
   * `GET /customers` (one page).
   *
   * @example
   * ```ts
   * const { data, count } = await client.listCustomers({ limit: 50, status: 'ACTIVE' });
   * ```
   */
  listCustomers(options: ListCustomersOptions = {}): Promise<ListResult<Customer>> {
    return this.#run(
      {
        route: 'GET /customers',
        rules: { ...PAGE, status: oneOf(['ACTIVE', 'LOW_BALANCE', 'PAUSED']), isInternal: bool },
        send: ['limit', 'offset', 'status', 'isInternal', 'externalCustomerId', 'onchainAddress'],
        list: true,
        shape: CUSTOMER,
      },
      [],
      options,
    );
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
  getBalance(customerId: string, options?: CallOptions): Promise<Balance> {
    return this.#run(
      {
        route: 'GET /customers/:customerId/balance',
        shape: {
          customerId: 'string',
          balanceUsdc: 'money',
          pendingChargesUsdc: 'money?',
          availableUsdc: 'money?',
        },
      },
      [customerId],
      options,
    );
  }

  // ---------------------------------------------------------------- usage and charges

  /** Checks a usage record and builds its body; the idempotency key is fixed here, before any attempt. */
  #usageBody(p: TrackUsageParams | ChargeParams, prefix: string, problems: DripErrorDetail[] = []) {
    const hasId = p.customerId !== undefined;
    const hasExt = p.externalCustomerId !== undefined;
    if (hasId === hasExt) {
      problems.push({ path: 'customerId', message: 'give exactly one of customerId and externalCustomerId' });
    }
    assertValid(check(problems, p, USAGE));
    return stripUndefined({
      customerId: p.customerId,
      externalCustomerId: p.externalCustomerId,
      usageType: p.meter,
      quantity: p.quantity,
      units: p.units,
      description: p.description,
      metadata: p.metadata,
      idempotencyKey: p.idempotencyKey ?? this.#keys(prefix),
    }) as Record<string, unknown> & { idempotencyKey: string };
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
    const batch = params.mode === 'batch';
    const body = this.#usageBody(params, 'track', check([], params, { mode: oneOf(['sync', 'batch']) }));
    const data = await this.#json<TrackUsageResult>(
      'POST',
      batch ? '/usage/internal/batch' : '/usage/internal',
      { ...callOptions(params), body },
      { success: 'boolean', usageEventId: batch ? 'string?' : 'string' },
    );
    return extend(data, {
      idempotencyKey: data.idempotencyKey ?? body.idempotencyKey,
      ...(batch ? { mode: 'batch' } : {}),
    });
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
    return this.#postCharge('/usage', this.#usageBody(params, 'chg'), this.#usagePolicy(callOptions(params)));
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
    return this.#postCharge('/usage/async', this.#usageBody(params, 'chga'), callOptions(params));
  }

  async #postCharge(
    path: string,
    body: Record<string, unknown> & { idempotencyKey: string },
    o: RequestOptions,
  ): Promise<ChargeResult> {
    const data = await this.#json<Record<string, unknown>>(
      'POST',
      path,
      { ...o, body },
      {
        success: 'boolean',
        usageEventId: 'string',
      },
    );
    const charge = data.charge ?? null;
    if (charge !== null)
      shaped(getResponseMeta(data) as ResponseMeta, charge, CHARGE, `POST ${path}: charge`);
    return extend(data, {
      isDuplicate: data.isDuplicate === true,
      charge,
      idempotencyKey: body.idempotencyKey,
    });
  }

  /**
   * `GET /charges/{id}`.
   *
   * @example
   * ```ts
   * const charge = await client.getCharge('chg_1');
   * ```
   */
  getCharge(chargeId: string, options?: CallOptions): Promise<Charge> {
    return this.#run({ route: 'GET /charges/:chargeId', shape: CHARGE }, [chargeId], options);
  }

  /**
   * `GET /charges` (one page).
   *
   * @example
   * ```ts
   * const { data } = await client.listCharges({ customerId: 'cus_1', status: 'CONFIRMED' });
   * ```
   */
  listCharges(options: ListChargesOptions = {}): Promise<ListResult<Charge>> {
    return this.#run(
      {
        route: 'GET /charges',
        rules: {
          ...PAGE,
          status: oneOf([
            'PENDING',
            'PENDING_SETTLEMENT',
            'CONFIRMED',
            'FAILED',
            'REFUNDED',
            'REFUND_PENDING',
          ]),
        },
        send: ['customerId', 'status', 'limit', 'offset'],
        list: true,
        shape: CHARGE,
      },
      [],
      options,
    );
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
    const fn: Rule = (v) => (typeof v === 'function' ? undefined : 'must be a function');
    assertValid(
      check([], params, { customerId: ID, meter, idempotencyKey: KEY, metadata, call: fn, extractUsage: fn }),
    );
    const idempotencyKey = params.idempotencyKey ?? this.#keys('wrap');
    const result = await params.call();
    const quantity = params.extractUsage(result);
    const r = params.retryOptions ?? {};
    const charge = await this.#postCharge(
      '/usage',
      this.#usageBody({ ...params, quantity, idempotencyKey }, 'wrap'),
      this.#usagePolicy({
        ...callOptions(params),
        maxAttempts: params.maxAttempts ?? r.maxAttempts,
        timeoutMs: params.timeoutMs ?? r.timeoutMs,
        deadlineMs: params.deadlineMs ?? r.deadlineMs,
        policy: stripUndefined({ backoffBaseMs: r.baseDelayMs, backoffCapMs: r.maxDelayMs }),
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
    assertValid(
      check([], options, {
        customerId: ID,
        meter,
        idempotencyKey: str(100, 1),
        metadata,
        flushThreshold: OPTIONAL_QUANTITY,
        flushIntervalMs: int(1, 2_147_483_647),
      }),
    );
    const meters = this.#meters;
    const streamMeter = new StreamMeter(options, {
      clock: this.clock,
      nextKey: () => this.#keys('stream'),
      send: (body, signal) =>
        this.#postCharge(
          '/usage',
          body as Record<string, unknown> & { idempotencyKey: string },
          this.#usagePolicy({ signal }),
        ),
      onClosed: (m) => meters.delete(m),
    });
    meters.add(streamMeter);
    return streamMeter;
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
    const results = await Promise.allSettled([...this.#meters].map((m) => m.close()));
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
    try {
      return await this.#run(
        {
          route: 'POST /workflows',
          rules: {
            name: str(255, 1, true),
            slug: (v) =>
              typeof v === 'string' && SLUG_PATTERN.test(v)
                ? undefined
                : 'must be 1-100 characters of [a-z0-9_-]',
            productSurface: SURFACE,
            chain: oneOf([
              'ETHEREUM',
              'SOLANA',
              'POLYGON',
              'ARBITRUM',
              'OPTIMISM',
              'BASE',
              'AVALANCHE',
              'BSC',
            ]),
            description: str(1000),
            metadata,
          },
          safe: true,
          shape: WORKFLOW,
        },
        [],
        params,
      );
    } catch (err) {
      if (err instanceof DripConflictError && err.attempts > 1 && err.code === 'DUPLICATE_WORKFLOW') {
        const found = await this.#findWorkflow(params.slug, params);
        if (found) return found;
      }
      throw err;
    }
  }

  async #findWorkflow(idOrSlug: string, options?: CallOptions): Promise<Workflow | undefined> {
    for await (const w of this.listAllWorkflows(callOptions(options))) {
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
  listWorkflows(options: ListWorkflowsOptions = {}): Promise<ListResult<Workflow>> {
    return this.#run(
      {
        route: 'GET /workflows',
        rules: { ...PAGE, productSurface: SURFACE, isActive: bool },
        list: true,
        shape: WORKFLOW,
      },
      [],
      options,
    );
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
    assertValid(check([], params, START_RUN));
    const externalRunId = params.externalRunId ?? this.#keys('run');
    try {
      const run = await this.#run<RunStarted>(
        { route: 'POST /runs', send: Object.keys(START_RUN), safe: true, shape: RUN },
        [],
        { ...params, externalRunId },
      );
      return extend(run, { externalRunId });
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
  endRun(runId: string, params: EndRunParams): Promise<RunEnded> {
    return this.#run(
      {
        route: 'PATCH /runs/:runId',
        rules: { status: END_STATUS, ...ERROR_FIELDS, metadata },
        shape: RUN,
      },
      [runId],
      params,
    );
  }

  /**
   * `GET /runs/{id}`.
   *
   * @example
   * ```ts
   * const run = await client.getRun('run_1'); // run.totals?.eventCount
   * ```
   */
  getRun(runId: string, options?: CallOptions): Promise<RunDetails> {
    return this.#run({ route: 'GET /runs/:runId', shape: RUN }, [runId], options);
  }

  /**
   * `GET /runs` (one page).
   *
   * @example
   * ```ts
   * const { data } = await client.listRuns({ customerId: 'cus_1', status: 'FAILED' });
   * ```
   */
  listRuns(options: ListRunsOptions = {}): Promise<ListResult<RunSummary>> {
    return this.#run(
      {
        route: 'GET /runs',
        rules: { ...PAGE, status: oneOf(['PENDING', 'RUNNING', ...END_STATUSES]) },
        send: ['customerId', 'workflowId', 'status', 'from', 'to', 'limit', 'offset'],
        list: true,
        shape: RUN,
      },
      [],
      options,
    );
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
    const d = await this.#run<Record<string, unknown>>(
      {
        route: 'GET /runs/:runId/timeline',
        rules: { limit: int(1, 500), includeAnomalies: bool, collapseRetries: bool },
        send: ['limit', 'cursor', 'includeAnomalies', 'collapseRetries'],
        shape: { events: 'array' },
      },
      [runId],
      options,
    );
    return extend(d, {
      runId: typeof d.runId === 'string' ? d.runId : runId,
      anomalies: Array.isArray(d.anomalies) ? d.anomalies : [],
      summary: isRecord(d.summary) ? d.summary : {},
      hasMore: d.hasMore === true,
      nextCursor: typeof d.nextCursor === 'string' ? d.nextCursor : null,
    });
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

  /**
   * Checks one run event (`prefix` is its path, e.g. `events.3.`) and returns its wire form with an
   * idempotency key. Fields beyond the named ones pass through, checked as JSON like metadata.
   */
  #event(item: Record<string, unknown>, problems: DripErrorDetail[], prefix: string, inBatch: boolean) {
    if (!inBatch) check(problems, item, { runId: ID }, prefix);
    else {
      check(problems, item, BATCH_REFS, prefix);
      if (item.runId === undefined && item.customerId === undefined) {
        problems.push({ path: `${prefix}runId`, message: 'runId or customerId is required' });
      }
    }
    check(problems, item, EVENT, prefix);
    const wire = wireFields(item);
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(wire)) {
      if (!Object.hasOwn(EVENT, k) && !Object.hasOwn(BATCH_REFS, k)) extra[k] = v;
    }
    const message = Object.keys(extra).length > 0 ? metadata(extra) : undefined;
    if (message) problems.push({ path: `${prefix}(extra fields)`, message });
    return wire;
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
    const problems: DripErrorDetail[] = [];
    const body = this.#event(params as Record<string, unknown>, problems, '', false);
    assertValid(problems);
    body.idempotencyKey ??= this.#keys('evt');
    const d = await this.#json<EmitEventResult>(
      'POST',
      '/run-events',
      { ...callOptions(options), body },
      {
        id: 'string',
      },
    );
    return extend(d, { isDuplicate: d.isDuplicate === true, idempotencyKey: body.idempotencyKey });
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
    const problems: DripErrorDetail[] = [];
    if (!Array.isArray(events)) problems.push({ path: 'events', message: 'must be an array' });
    else if (events.length === 0) problems.push({ path: 'events', message: 'must not be empty' });
    const items = Array.isArray(events)
      ? events.map((e, i) => this.#event(e as Record<string, unknown>, problems, `events.${i}.`, true))
      : [];
    assertValid(problems);
    for (const item of items) item.idempotencyKey ??= this.#keys('evt');
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
    chunks.push(current);
    const merged: BatchEventResult = { success: true, created: 0, duplicates: 0, skipped: 0, events: [] };
    let meta: ResponseMeta | undefined;
    for (const chunk of chunks) {
      const d = await this.#json<BatchEventResult>(
        'POST',
        '/run-events/batch',
        { ...callOptions(options), body: { events: chunk }, retrySafe: true },
        { events: 'array' },
      );
      meta = getResponseMeta(d) as ResponseMeta;
      if (d.events.length !== chunk.length) {
        throw parseError(
          `POST /run-events/batch: ${d.events.length} results for ${chunk.length} items`,
          meta,
          d,
        );
      }
      merged.success &&= d.success !== false;
      merged.created += Number(d.created) || 0;
      merged.duplicates += Number(d.duplicates) || 0;
      merged.skipped += Number(d.skipped) || 0;
      merged.events.push(...d.events);
    }
    // The metadata of the last chunk's response.
    return attachMeta(merged, meta);
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
    const problems = check([], params, {
      customerId: ID,
      workflow: ID,
      status: END_STATUS,
      ...ERROR_FIELDS,
      externalRunId: NAME,
      correlationId: TEXT_255,
      metadata,
      idempotencyKey: KEY,
    });
    const list = params.events ?? [];
    if (!Array.isArray(list)) problems.push({ path: 'events', message: 'must be an array' });
    else {
      list.forEach((e, i) => {
        check(problems, e, RECORD_EVENT, `events.${i}.`);
      });
    }
    assertValid(problems);
    const externalRunId = params.externalRunId ?? this.#keys('run');
    const idempotencyKey = params.idempotencyKey ?? this.#keys('rec');
    const events = list.map((e) => wireFields(e));
    if (events.length > RECORD_RUN_MAX_EVENTS) return this.#recordRunStepwise(params, externalRunId, events);
    const body = { ...wireFields(params, 'events'), events, externalRunId, idempotencyKey };
    try {
      const d = await this.#json<RecordRunResult>(
        'POST',
        '/runs/record',
        { ...callOptions(params), body },
        { run: 'object' },
      );
      shaped(getResponseMeta(d) as ResponseMeta, d.run, RUN, 'POST /runs/record: run');
      return extend(d, { events: d.events ?? { created: 0, duplicates: 0 } });
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
        const keys = events.map((_, i) => runEventKey(externalRunId, i));
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
    const d = await this.#run<Record<string, unknown>>(
      {
        route: 'GET /events',
        rules: PAGE,
        send: [
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
        ],
        shape: PAGE_OF,
      },
      [],
      options,
    );
    const meta = getResponseMeta(d) as ResponseMeta;
    const p = isRecord(d.pagination) ? d.pagination : {};
    const num = (...vs: unknown[]) => vs.find((v): v is number => typeof v === 'number');
    const data = (d.data as unknown[]).map((e, i) =>
      shaped<ExecutionEvent>(meta, e, EVENT_SHAPE, `GET /events: data.${i}`),
    );
    const limit = num(p.limit, d.limit) ?? options.limit ?? 50;
    const offset = num(p.offset, d.offset) ?? options.offset ?? 0;
    const total = num(p.total, d.total, d.count) ?? offset + data.length;
    const hasMore =
      [p.hasMore, d.hasMore].find((v): v is boolean => typeof v === 'boolean') ?? data.length >= limit;
    return attachMeta({ data, total, limit, offset, hasMore }, meta);
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
  getEvent(eventId: string, options?: CallOptions): Promise<ExecutionEvent> {
    return this.#run({ route: 'GET /events/:eventId', shape: EVENT_SHAPE }, [eventId], options);
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
    return this.#run(
      {
        route: 'POST /webhooks',
        rules: { url: WEBHOOK_URL, events: WEBHOOK_EVENTS, ...WEBHOOK_REST },
        send: ['url', 'events', 'description', 'filters'],
        safe: false,
        shape: { id: 'string', secret: 'string' },
      },
      [],
      params,
    );
  }

  /**
   * `GET /webhooks` (secret key only).
   *
   * @example
   * ```ts
   * const { data } = await client.listWebhooks();
   * ```
   */
  listWebhooks(options?: CallOptions): Promise<ListResult<Webhook>> {
    return this.#run({ route: 'GET /webhooks', list: true, shape: WEBHOOK }, [], options);
  }

  /**
   * `GET /webhooks/{id}` (secret key only).
   *
   * @example
   * ```ts
   * const wh = await client.getWebhook('wh_1'); // wh.healthStatus
   * ```
   */
  getWebhook(webhookId: string, options?: CallOptions): Promise<Webhook> {
    return this.#run({ route: 'GET /webhooks/:webhookId', shape: WEBHOOK }, [webhookId], options);
  }

  /**
   * `PATCH /webhooks/{id}` (secret key only). `filters: null` clears the filters.
   *
   * @example
   * ```ts
   * await client.updateWebhook('wh_1', { isActive: false });
   * ```
   */
  updateWebhook(webhookId: string, params: UpdateWebhookParams): Promise<Webhook> {
    return this.#run(
      {
        route: 'PATCH /webhooks/:webhookId',
        rules: { url: ifDefined(WEBHOOK_URL), events: ifDefined(WEBHOOK_EVENTS), ...WEBHOOK_REST },
        shape: WEBHOOK,
      },
      [webhookId],
      params,
    );
  }

  /**
   * `DELETE /webhooks/{id}` (secret key only). A 404 on a retry attempt counts as success.
   *
   * @example
   * ```ts
   * await client.deleteWebhook('wh_1'); // { success: true }
   * ```
   */
  deleteWebhook(webhookId: string, options?: CallOptions): Promise<{ success: true }> {
    return this.#delete('DELETE /webhooks/:webhookId', [webhookId], options);
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
    // No body, as the official client sends it (the server treats an empty body as {}).
    const d = await this.#run<WebhookTestResult>(
      {
        route: 'POST /webhooks/:webhookId/test',
        safe: false,
        shape: { status: 'string' },
      },
      [webhookId],
      options,
    );
    return extend(d, { deliveryId: d.deliveryId ?? null });
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
  rotateWebhookSecret(webhookId: string, options?: CallOptions): Promise<WebhookSecretRotation> {
    // No body, as the official client sends it (the server treats an empty body as {}).
    return this.#run(
      {
        route: 'POST /webhooks/:webhookId/rotate-secret',
        safe: false,
        shape: { secret: 'string' },
      },
      [webhookId],
      options,
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
  listWebhookDeliveries(
    webhookId: string,
    options: ListDeliveriesOptions = {},
  ): Promise<ListResult<WebhookDelivery>> {
    return this.#run(
      {
        route: 'GET /webhooks/:webhookId/deliveries',
        rules: { ...PAGE, status: oneOf(['PENDING', 'DELIVERED', 'FAILED']) },
        list: true,
        shape: RUN,
      },
      [webhookId],
      options,
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
  setCustomerSpendingCap(customerId: string, params: SetSpendingCapParams): Promise<SpendingCap> {
    return this.#run(
      {
        route: 'PUT /customers/:customerId/spending-cap',
        rules: {
          capType: oneOf(['DAILY_CHARGE_LIMIT', 'MONTHLY_CHARGE_LIMIT', 'SINGLE_CHARGE_LIMIT'], true),
          limitValue: LIMIT_VALUE,
          autoBlock: bool,
        },
        shape: { id: 'string', capType: 'string' },
      },
      [customerId],
      params,
    );
  }

  /**
   * `GET /customers/{id}/spending-caps` (active caps).
   *
   * @example
   * ```ts
   * const { caps } = await client.getCustomerSpendingCaps('cus_1');
   * ```
   */
  getCustomerSpendingCaps(customerId: string, options?: CallOptions): Promise<{ caps: SpendingCap[] }> {
    return this.#run(
      { route: 'GET /customers/:customerId/spending-caps', shape: { caps: 'array' } },
      [customerId],
      options,
    );
  }

  /**
   * `DELETE /customers/{id}/spending-caps/{capId}` (deactivates the cap).
   *
   * @example
   * ```ts
   * await client.removeCustomerSpendingCap('cus_1', 'cap_1');
   * ```
   */
  removeCustomerSpendingCap(
    customerId: string,
    capId: string,
    options?: CallOptions,
  ): Promise<{ success: true }> {
    return this.#delete('DELETE /customers/:customerId/spending-caps/:capId', [customerId, capId], options);
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
    return this.#run(
      {
        route: 'POST /entitlements/check',
        rules: { customerId: ID, featureKey: str(100, 1, true), quantity: OPTIONAL_QUANTITY },
        safe: true,
        shape: { allowed: 'boolean' },
      },
      [],
      { ...params, quantity: params.quantity ?? 1 },
    );
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
    return this.#run(
      {
        route: 'POST /api-keys',
        rules: { name: str(100, 1, true) },
        safe: false,
        shape: API_SECRET,
      },
      [],
      params,
    );
  }

  /**
   * `GET /api-keys` (secret key only; revoked pairs included).
   *
   * @example
   * ```ts
   * const { data } = await client.listApiKeys();
   * ```
   */
  listApiKeys(options: { limit?: number; offset?: number } & CallOptions = {}): Promise<ListResult<ApiKey>> {
    return this.#run({ route: 'GET /api-keys', rules: PAGE, list: true, shape: API_KEY }, [], options);
  }

  /**
   * `POST /api-keys/{id}/rotate` (secret key only): new secret key, old one valid for `gracePeriodHours`.
   *
   * @example
   * ```ts
   * const { secretKey } = await client.rotateApiKey('key_1', { gracePeriodHours: 1 });
   * ```
   */
  rotateApiKey(
    keyId: string,
    params: { gracePeriodHours?: number } & CallOptions = {},
  ): Promise<ApiKeyRotation> {
    return this.#run(
      {
        route: 'POST /api-keys/:keyId/rotate',
        rules: { gracePeriodHours: int(0, 168) },
        safe: false,
        shape: API_SECRET,
      },
      [keyId],
      params,
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
  revokeApiKey(keyId: string, options?: CallOptions): Promise<ApiKey> {
    return this.#run({ route: 'POST /api-keys/:keyId/revoke', safe: true, shape: API_KEY }, [keyId], options);
  }

  // ---------------------------------------------------------------- pagination helpers

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
