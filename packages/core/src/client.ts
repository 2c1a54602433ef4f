/**
 * The Drip API v1 client (spec §4). Every method validates its input before sending, goes through the
 * single {@link Transport}, and checks the response fields it relies on (`PARSE_ERROR` otherwise).
 *
 * Most methods are one line: an endpoint of the rule table (`client/rules.ts`: route, input rules, fields
 * sent, retry safety, response check) run by the executor (`client/executor.ts`). Methods with their own
 * logic (usage and charges, run events, recoveries after a 409 on a retry) are written out here;
 * `recordRun` and its §5.5 fallback live in `client/record-run.ts`, list iteration in
 * `client/pagination.ts`, response checks in `client/response.ts`.
 */

import type { Clock } from './clock';
import { DripConflictError, type DripErrorDetail, configurationError, isDripError, isRecord } from './errors';
import { type IdempotencyKeyGenerator, createIdempotencyKeyGenerator } from './keys';
import { detectRuntime, isBrowser, readEnv } from './runtime';
import { type KeyMode, type KeyType, keyModeOf, keyTypeOf } from './scopes';
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
  assertValid,
  check,
  idempotencyKey as KEY,
  int,
  metadata,
  meter,
  oneOf,
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

import { RequestExecutor, callOptions, RETRY_OPTION_KEYS, wireFields } from './client/executor';
import { findWorkflow, followTimelineCursors, listAllPages, paginateByOffset } from './client/pagination';
import { recordRun } from './client/record-run';
import {
  CHARGE,
  EVENT_SHAPE,
  attachMeta,
  extend,
  getResponseMeta,
  parseError,
  shaped,
} from './client/response';
import {
  BATCH_MAX_BYTES,
  BATCH_MAX_ITEMS,
  BATCH_REFS,
  ENDPOINTS,
  EVENT,
  ID,
  OPTIONAL_QUANTITY,
  START_RUN,
  USAGE,
} from './client/rules';

export { getResponseMeta } from './client/response';

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
  /** Builds, guards and sends every request (one path normalisation, one transport). */
  readonly #executor: RequestExecutor;
  /** The idempotency key generator: `#nextKey('track')` is the next `track_...` key (spec §5.2). */
  readonly #nextKey: IdempotencyKeyGenerator;
  /** StreamMeters not closed yet; `close()` flushes them. */
  readonly #openStreamMeters = new Set<StreamMeter>();

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
      this.#nextKey = createIdempotencyKeyGenerator({
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
    const configuredPolicy: Partial<RetryPolicy> = pick(options, Object.keys(DEFAULT_RETRY_POLICY));
    const transport = new Transport({
      ...options,
      apiKey,
      baseUrl,
      clientHeader: this.clientHeader,
      sendUserAgent: !isBrowser(),
      policy: configuredPolicy,
    });
    this.#executor = new RequestExecutor(transport, configuredPolicy, keyType, baseUrl);
  }

  /** The clock the client uses (shared with StreamMeter timers). */
  get clock(): Clock {
    return this.#executor.transport.clock;
  }

  // ---------------------------------------------------------------- low level

  /**
   * Advanced, low-level: sends one request through the client's single transport (headers, timeouts,
   * deadline, retries, `Retry-After`, error mapping, `pk_` guard). `path` is relative to the base URL
   * and must already be encoded; it is normalised once ({@link normalizeApiPath}: `//`, `.` and `..`
   * resolved) and the `pk_` guard judges that normalised path, the one sent. A path that climbs above the
   * base or that a URL parser would rewrite is a `VALIDATION_ERROR`. With `maxAttempts: 1` the caller
   * schedules its own retries.
   *
   * @example
   * ```ts
   * const { data, status, requestId } = await client.request<{ results: unknown[] }>('POST',
   *   '/usage/internal/bulk', { body: { events }, maxAttempts: 1 });
   * ```
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<RequestResult<T>> {
    return this.#executor.send<T>(method, path, options);
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
    return this.#nextKey(prefix);
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
    const clock = this.#executor.transport.clock;
    const started = clock.now();
    let status: number;
    let body: unknown;
    try {
      const res = await this.#executor.transport.request<unknown>('GET', healthUrlFor(this.baseUrl), {
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
      return await this.#executor.callEndpoint(ENDPOINTS.createCustomer, [], params, problems);
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
    return this.#executor.callEndpoint(ENDPOINTS.getCustomer, [customerId], options);
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
    return this.#executor.callEndpoint(ENDPOINTS.listCustomers, [], options);
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
    return listAllPages((o) => this.listCustomers(o), options, 100);
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
    return this.#executor.callEndpoint(ENDPOINTS.getBalance, [customerId], options);
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
      idempotencyKey: p.idempotencyKey ?? this.#nextKey(prefix),
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
    const data = await this.#executor.sendChecked<TrackUsageResult>(
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
    return this.#postCharge(
      '/usage',
      this.#usageBody(params, 'chg'),
      this.#executor.usagePolicy(callOptions(params)),
    );
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
    const data = await this.#executor.sendChecked<Record<string, unknown>>(
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
    return this.#executor.callEndpoint(ENDPOINTS.getCharge, [chargeId], options);
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
    return this.#executor.callEndpoint(ENDPOINTS.listCharges, [], options);
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
    return listAllPages((o) => this.listCharges(o), options, 100);
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
    const isFunction: Rule = (v) => (typeof v === 'function' ? undefined : 'must be a function');
    assertValid(
      check([], params, {
        customerId: ID,
        meter,
        idempotencyKey: KEY,
        metadata,
        call: isFunction,
        extractUsage: isFunction,
      }),
    );
    const idempotencyKey = params.idempotencyKey ?? this.#nextKey('wrap');
    const result = await params.call();
    const quantity = params.extractUsage(result);
    const retry = params.retryOptions ?? {};
    const charge = await this.#postCharge(
      '/usage',
      this.#usageBody({ ...params, quantity, idempotencyKey }, 'wrap'),
      this.#executor.usagePolicy({
        ...callOptions(params),
        maxAttempts: params.maxAttempts ?? retry.maxAttempts,
        timeoutMs: params.timeoutMs ?? retry.timeoutMs,
        deadlineMs: params.deadlineMs ?? retry.deadlineMs,
        policy: stripUndefined({ backoffBaseMs: retry.baseDelayMs, backoffCapMs: retry.maxDelayMs }),
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
    const meters = this.#openStreamMeters;
    const streamMeter = new StreamMeter(options, {
      clock: this.clock,
      nextKey: () => this.#nextKey('stream'),
      send: (body, signal) =>
        this.#postCharge(
          '/usage',
          body as Record<string, unknown> & { idempotencyKey: string },
          this.#executor.usagePolicy({ signal }),
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
    const results = await Promise.allSettled([...this.#openStreamMeters].map((m) => m.close()));
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
      return await this.#executor.callEndpoint(ENDPOINTS.createWorkflow, [], params);
    } catch (err) {
      if (err instanceof DripConflictError && err.attempts > 1 && err.code === 'DUPLICATE_WORKFLOW') {
        const found = await findWorkflow(this, params.slug, params);
        if (found) return found;
      }
      throw err;
    }
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
    return this.#executor.callEndpoint(ENDPOINTS.listWorkflows, [], options);
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
    return listAllPages((o) => this.listWorkflows(o), options, 50);
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
    const externalRunId = params.externalRunId ?? this.#nextKey('run');
    try {
      const run = await this.#executor.callEndpoint<RunStarted>(ENDPOINTS.startRun, [], {
        ...params,
        externalRunId,
      });
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
    return this.#executor.callEndpoint(ENDPOINTS.endRun, [runId], params);
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
    return this.#executor.callEndpoint(ENDPOINTS.getRun, [runId], options);
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
    return this.#executor.callEndpoint(ENDPOINTS.listRuns, [], options);
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
    return listAllPages((o) => this.listRuns(o), options, 50);
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
    const timeline = await this.#executor.callEndpoint<Record<string, unknown>>(
      ENDPOINTS.getRunTimeline,
      [runId],
      options,
    );
    return extend(timeline, {
      runId: typeof timeline.runId === 'string' ? timeline.runId : runId,
      anomalies: Array.isArray(timeline.anomalies) ? timeline.anomalies : [],
      summary: isRecord(timeline.summary) ? timeline.summary : {},
      hasMore: timeline.hasMore === true,
      nextCursor: typeof timeline.nextCursor === 'string' ? timeline.nextCursor : null,
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
    return followTimelineCursors((cursor) => this.getRunTimeline(runId, { ...options, cursor }));
  }

  // ---------------------------------------------------------------- run events

  /**
   * Checks one run event (`prefix` is its path, e.g. `events.3.`) and returns its wire form with an
   * idempotency key. Fields beyond the named ones pass through, checked as JSON like metadata.
   */
  #checkEvent(item: Record<string, unknown>, problems: DripErrorDetail[], prefix: string, inBatch: boolean) {
    if (!inBatch) check(problems, item, { runId: ID }, prefix);
    else {
      check(problems, item, BATCH_REFS, prefix);
      if (item.runId === undefined && item.customerId === undefined) {
        problems.push({ path: `${prefix}runId`, message: 'runId or customerId is required' });
      }
    }
    check(problems, item, EVENT, prefix);
    const wire = wireFields(item, undefined, RETRY_OPTION_KEYS);
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
    const body = this.#checkEvent(params as Record<string, unknown>, problems, '', false);
    assertValid(problems);
    body.idempotencyKey ??= this.#nextKey('evt');
    const created = await this.#executor.sendChecked<EmitEventResult>(
      'POST',
      '/run-events',
      { ...callOptions(options), body },
      {
        id: 'string',
      },
    );
    return extend(created, {
      isDuplicate: created.isDuplicate === true,
      idempotencyKey: body.idempotencyKey,
    });
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
      ? events.map((e, i) => this.#checkEvent(e as Record<string, unknown>, problems, `events.${i}.`, true))
      : [];
    assertValid(problems);
    for (const item of items) item.idempotencyKey ??= this.#nextKey('evt');
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
      const answer = await this.#executor.sendChecked<BatchEventResult>(
        'POST',
        '/run-events/batch',
        { ...callOptions(options), body: { events: chunk }, retrySafe: true },
        { events: 'array' },
      );
      meta = getResponseMeta(answer) as ResponseMeta;
      if (answer.events.length !== chunk.length) {
        throw parseError(
          `POST /run-events/batch: ${answer.events.length} results for ${chunk.length} items`,
          meta,
          answer,
        );
      }
      merged.success &&= answer.success !== false;
      merged.created += Number(answer.created) || 0;
      merged.duplicates += Number(answer.duplicates) || 0;
      merged.skipped += Number(answer.skipped) || 0;
      merged.events.push(...answer.events);
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
  recordRun(params: RecordRunParams): Promise<RecordRunResult> {
    return recordRun({ executor: this.#executor, nextKey: this.#nextKey, client: this }, params);
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
    const page = await this.#executor.callEndpoint<Record<string, unknown>>(
      ENDPOINTS.listEvents,
      [],
      options,
    );
    const meta = getResponseMeta(page) as ResponseMeta;
    const hosted = isRecord(page.pagination) ? page.pagination : {};
    const num = (...vs: unknown[]) => vs.find((v): v is number => typeof v === 'number');
    const data = (page.data as unknown[]).map((e, i) =>
      shaped<ExecutionEvent>(meta, e, EVENT_SHAPE, `GET /events: data.${i}`),
    );
    const limit = num(hosted.limit, page.limit) ?? options.limit ?? 50;
    const offset = num(hosted.offset, page.offset) ?? options.offset ?? 0;
    const total = num(hosted.total, page.total, page.count) ?? offset + data.length;
    const hasMore =
      [hosted.hasMore, page.hasMore].find((v): v is boolean => typeof v === 'boolean') ??
      data.length >= limit;
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
    return paginateByOffset(async (offset, limit) => {
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
    return this.#executor.callEndpoint(ENDPOINTS.getEvent, [eventId], options);
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
    this.#executor.guard('/webhooks');
    return this.#executor.callEndpoint(ENDPOINTS.createWebhook, [], params);
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
    return this.#executor.callEndpoint(ENDPOINTS.listWebhooks, [], options);
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
    return this.#executor.callEndpoint(ENDPOINTS.getWebhook, [webhookId], options);
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
    return this.#executor.callEndpoint(ENDPOINTS.updateWebhook, [webhookId], params);
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
    return this.#executor.deleteIdempotently('DELETE /webhooks/:webhookId', [webhookId], options);
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
    const result = await this.#executor.callEndpoint<WebhookTestResult>(
      ENDPOINTS.testWebhook,
      [webhookId],
      options,
    );
    return extend(result, { deliveryId: result.deliveryId ?? null });
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
    return this.#executor.callEndpoint(ENDPOINTS.rotateWebhookSecret, [webhookId], options);
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
    return this.#executor.callEndpoint(ENDPOINTS.listWebhookDeliveries, [webhookId], options);
  }

  /**
   * Verifies a webhook signature (several `v1`, several secrets, bare-hex form); see
   * {@link verifyWebhookSignature}. Throws only for a negative or non-finite tolerance.
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
    return this.#executor.callEndpoint(ENDPOINTS.setCustomerSpendingCap, [customerId], params);
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
    return this.#executor.callEndpoint(ENDPOINTS.getCustomerSpendingCaps, [customerId], options);
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
    return this.#executor.deleteIdempotently(
      'DELETE /customers/:customerId/spending-caps/:capId',
      [customerId, capId],
      options,
    );
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
    return this.#executor.callEndpoint(ENDPOINTS.checkEntitlement, [], {
      ...params,
      quantity: params.quantity ?? 1,
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
    this.#executor.guard('/api-keys');
    return this.#executor.callEndpoint(ENDPOINTS.createApiKey, [], params);
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
    return this.#executor.callEndpoint(ENDPOINTS.listApiKeys, [], options);
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
    return this.#executor.callEndpoint(ENDPOINTS.rotateApiKey, [keyId], params);
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
    return this.#executor.callEndpoint(ENDPOINTS.revokeApiKey, [keyId], options);
  }
}
