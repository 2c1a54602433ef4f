/**
 * Types of the delivery outbox: what goes in (usage and run records), what the store keeps, what the
 * transport sends, and what `stats()` reports.
 */

import type { Clock } from '../clock';
import type { ChargeOption, CustomerProvisioningOptions } from './customers';
import type { DripLogger } from '../transport';

/** Body of one usage record, exactly as `POST /usage/internal` takes it (spec §3.3). */
export interface OutboxUsageBody {
  /** The Drip customer id; `''` while the record carries the app's own id instead (set at delivery). */
  customerId: string;
  /** The app's own customer id, resolved to a Drip id at delivery (see `customers`). */
  externalCustomerId?: string;
  usageType: string;
  quantity: number;
  idempotencyKey: string;
  units?: string;
  description?: string;
  metadata?: Record<string, unknown>;
}

/** One event of a recorded run (spec §3.5 `events[]`, extra JSON fields kept). */
export interface OutboxRunEvent {
  eventType: string;
  quantity?: number;
  units?: string;
  description?: string;
  costUnits?: number;
  metadata?: Record<string, unknown>;
  [field: string]: unknown;
}

/** Body of one run record, exactly as `POST /runs/record` takes it (spec §3.5). */
export interface OutboxRunBody {
  /** The Drip customer id; `''` while the record carries the app's own id instead (set at delivery). */
  customerId: string;
  /** The app's own customer id, resolved to a Drip id at delivery (see `customers`). */
  externalCustomerId?: string;
  workflow: string;
  status: 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMEOUT';
  events: OutboxRunEvent[];
  externalRunId: string;
  idempotencyKey?: string;
  correlationId?: string;
  errorMessage?: string;
  errorCode?: string;
  metadata?: Record<string, unknown>;
  startedAt?: string;
  endedAt?: string;
}

/**
 * What `enqueue()` accepts. Keys are optional: missing ones are generated when the record is accepted
 * (usage `mw_…`, run `externalRunId` `run_…` and `idempotencyKey` `rec_…`) and never change afterwards.
 *
 * @example
 * ```ts
 * outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
 * outbox.enqueue({ type: 'run', customerId: 'cus_1', workflow: 'chat', status: 'COMPLETED', events: [] });
 * ```
 */
export type OutboxInput =
  | {
      type: 'usage';
      /** A Drip customer id; or give `externalCustomerId` (exactly one of the two). */
      customerId?: string | undefined;
      /** The app's own customer id: the customer is found, or created, at delivery. */
      externalCustomerId?: string | undefined;
      meter: string;
      quantity: number;
      /**
       * The record's key. A key the caller gives is sent as it is, and a keyed record is never merged
       * into an aggregate (see `localKey`): a client's retry of the same request produces the same key,
       * and only a record sent under that key is applied once by the API.
       */
      idempotencyKey?: string | undefined;
      /**
       * `true` when `idempotencyKey` was made from an identity local to this process (the request meter's
       * generated request id), which no retry can produce again: such a record may still be merged into
       * an aggregate. Leave it out for any key derived from the request (e.g. an `Idempotency-Key` header).
       */
      localKey?: boolean | undefined;
      units?: string | undefined;
      description?: string | undefined;
      metadata?: Record<string, unknown> | undefined;
    }
  | ({ type: 'run' } & Omit<
      OutboxRunBody,
      'externalRunId' | 'events' | 'customerId' | 'externalCustomerId'
    > & {
        customerId?: string | undefined;
        externalCustomerId?: string | undefined;
        externalRunId?: string | undefined;
        events?: OutboxRunEvent[] | undefined;
        /** As for usage: `true` when `idempotencyKey` was made from an identity local to this process. */
        localKey?: boolean | undefined;
      });

/**
 * A record as the outbox and its store hold it. `id` is a per-outbox sequence number; `body` is the wire
 * body with its keys fixed.
 *
 * @example
 * ```ts
 * const r: OutboxRecord = { id: 1, kind: 'usage', enqueuedAt: Date.now(), attempts: 0, bytes: 120,
 *   body: { customerId: 'cus_1', usageType: 'api_calls', quantity: 1, idempotencyKey: 'mw_x_1' } };
 * ```
 */
export type OutboxRecord =
  | {
      id: number;
      kind: 'usage';
      body: OutboxUsageBody;
      enqueuedAt: number;
      attempts: number;
      bytes: number;
      /** A usage call waiting in an open aggregation window (durable stores only); not sent as is. */
      aggregating?: boolean | undefined;
      /** See the run variant. */
      requestKey?: true | undefined;
    }
  | {
      id: number;
      kind: 'run';
      body: OutboxRunBody;
      enqueuedAt: number;
      attempts: number;
      bytes: number;
      /**
       * `true` when the caller gave the key and it was derived from the request (not marked `localKey`):
       * a client's retry of that request sends the same key, so the API's `IDEMPOTENCY_KEY_REUSED` means
       * the request was already applied (`answers.ts`). Persisted with the record.
       */
      requestKey?: true | undefined;
    };

/**
 * Why a record left the outbox without being delivered.
 *
 * - `overflow`: the queue was full (count or bytes) under `drop-oldest` / `drop-newest`.
 * - `expired`: older than `maxAgeMs` (24 h by default) while the API stayed unreachable.
 * - `rejected`: the API refused it for good (4xx); it is also in the dead-letter list.
 * - `invalid`: refused at `enqueue()` (e.g. a NaN quantity, a missing customer).
 * - `closed`: enqueued after `close()`, or still queued when `close()` timed out without a durable store.
 * - `no-client`: no API client could be built (no key configured).
 *
 * @example
 * ```ts
 * const reason: DropReason = 'overflow';
 * ```
 */
export type DropReason = 'overflow' | 'expired' | 'rejected' | 'invalid' | 'closed' | 'no-client';

/**
 * What `onDrop` receives.
 *
 * @example
 * ```ts
 * createOutbox({ client, onDrop: (d) => console.warn(d.reason, d.record?.body) });
 * ```
 */
export interface DropInfo {
  reason: DropReason;
  /** The dropped record (absent for `invalid` input that never became one). */
  record?: OutboxRecord | undefined;
  /** The server's error for `rejected`, or the validation message for `invalid`. */
  error?: unknown;
}

/**
 * One dead letter: a record the API refused for good, with the server's error.
 *
 * @example
 * ```ts
 * for (const d of outbox.deadLetters()) console.log(d.status, d.code, d.record.body);
 * ```
 */
export interface DeadLetter {
  record: OutboxRecord;
  status: number;
  code: string | undefined;
  error: unknown;
  at: number;
}

/**
 * Counters of `outbox.stats()`. Invariant (without aggregation): `enqueued` = `sent` + `deadLettered` +
 * dropped (except `invalid`) + `queued` + `inFlight` (+ `spilled`).
 *
 * @example
 * ```ts
 * const s = outbox.stats();
 * if (s.dropped.overflow > 0) alert(`${s.dropped.overflow} usage records dropped`);
 * ```
 */
export interface OutboxStats {
  /** Records accepted by `enqueue()` (aggregated usage counts each call). */
  enqueued: number;
  /** Records an earlier process left in the durable store, loaded at start. */
  replayed: number;
  /** Records the API acknowledged (duplicates included). */
  sent: number;
  /** Send attempts repeated after a transient failure (per record). */
  retried: number;
  /** Acknowledged records the API had already applied (a replayed key). */
  deduplicated: number;
  /** Records refused for good (4xx); see `deadLetters()`. */
  deadLettered: number;
  /** Usage calls merged into an existing aggregate instead of becoming a record. */
  aggregated: number;
  /** Drops by reason. */
  dropped: Record<DropReason, number>;
  /** Records being sent right now. */
  inFlight: number;
  /** Records waiting in memory (aggregates in the open window included). */
  queued: number;
  /** Records waiting on disk only (`overflow: 'spill'`). */
  spilled: number;
  /**
   * Whether accepted records survive the process now. `reason` says why a configured durable store is
   * not in use (it could not be opened; the outbox keeps retrying and logs each failure at error level).
   */
  store: { durable: boolean; reason?: string | undefined };
  /** Approximate bytes held in memory (JSON size of the waiting records). */
  bytes: number;
  /** HTTP requests made (bulk requests count once). */
  requests: number;
  /** `open`: sending; `paused`: waiting after repeated transient failures; `probing`: one request to test. */
  state: 'open' | 'paused' | 'probing';
  /** Whether the server advertised the bulk routes (`undefined` until discovered). */
  bulk: { usage: boolean; runs: boolean } | undefined;
  /** Drops and dead letters by reason; dead letters as `rejected:<CODE>` (e.g. `rejected:UNAUTHORIZED`). */
  problems: Record<string, number>;
  /** Last transient or permanent error (for health pages). */
  lastError: { code: string; status: number; message: string; at: number } | undefined;
}

/**
 * Answer of one delivery request, as the outbox needs it. Network errors are `status: 0`, timeouts `408`.
 *
 * @example
 * ```ts
 * const r: DeliveryResponse = { status: 201, body: { isDuplicate: false } };
 * ```
 */
export interface DeliveryResponse {
  status: number;
  body: unknown;
  code?: string | undefined;
  retryAfterMs?: number | undefined;
  message?: string | undefined;
}

/**
 * How the outbox talks to the API. `createClientTransport(client)` builds one over the client's single
 * transport (`maxAttempts: 1`: the outbox schedules its own retries, spec §7.1 outbox row). Inject your
 * own in tests.
 *
 * @example
 * ```ts
 * const transport: DeliveryTransport = {
 *   post: async (path, body) => ({ status: 201, body: {} }),
 *   health: async () => ({ status: 200, body: { status: 'healthy', capabilities: [] } }),
 * };
 * ```
 */
export interface DeliveryTransport {
  /** `POST` a JSON body to a path relative to the API base (`/usage/internal`, ...). Never throws. */
  post(path: string, body: unknown, options: { timeoutMs: number }): Promise<DeliveryResponse>;
  /** `GET /health` (spec §3.1, capabilities of §10). Never throws. */
  health(options: { timeoutMs: number }): Promise<DeliveryResponse>;
}

/**
 * The outbox's durable store. The outbox calls `append` off the caller's tick with the records it
 * accepted (`put`) and the ids it finished with (`delete`, delivered or dropped), in order; `load`
 * once at start to replay what an earlier process left. A store is free to compact.
 *
 * The memory store keeps nothing across restarts; `@drip/core/node` has `createFileOutboxStore()`.
 *
 * @example
 * ```ts
 * const store: OutboxStore = {
 *   durable: false,
 *   load: async () => [],
 *   append: async (_put, _deleted) => {},
 * };
 * ```
 */
export interface OutboxStore {
  /** Whether records survive the process (decides `spill` and the `closed` drop accounting). */
  readonly durable: boolean;
  /** Records left by an earlier process, in id order. */
  load(): Promise<OutboxRecord[]>;
  /** Persists accepted records and forgets finished ids, as one atomic step. */
  append(put: readonly OutboxRecord[], deleted: readonly number[]): Promise<void>;
  /** Spill support: stores records that do not fit in memory (only they go there). */
  spill?(records: readonly OutboxRecord[]): Promise<void>;
  /** Spill support: takes back up to `max` spilled records, oldest first. */
  unspill?(max: number): Promise<OutboxRecord[]>;
  /** Spill support: how many records are spilled (read after `load`). */
  spilledCount?(): number;
  /** Releases files and handles. */
  close?(): Promise<void>;
}

/**
 * Where records that do not fit the memory bound wait (`overflow: 'spill'`), oldest first. A durable
 * {@link OutboxStore} with `spill`/`unspill` is one; without it, on Node, the outbox uses a private
 * overflow directory under the OS temporary directory (not durable).
 *
 * @example
 * ```ts
 * const target: SpillStore = {
 *   durable: false,
 *   spill: async (records) => {},
 *   unspill: async (max) => [],
 *   spilledCount: () => 0,
 * };
 * ```
 */
export interface SpillStore {
  /** Whether spilled records survive the process. */
  readonly durable: boolean;
  /** Stores records that do not fit in memory, after every record spilled before. */
  spill(records: readonly OutboxRecord[]): Promise<void>;
  /** Takes back up to `max` spilled records, oldest first. */
  unspill(max: number): Promise<OutboxRecord[]>;
  /** How many records are spilled. */
  spilledCount(): number;
  /** Bytes of spilled records on disk, where known. */
  diskBytes?(): number;
  /** Releases files (a non-durable target removes them). */
  close?(): Promise<void>;
}

/**
 * Usage aggregation options: usage calls with the same customer, meter, units and metadata within a
 * window become one record whose key is fixed when the window is sealed.
 *
 * @example
 * ```ts
 * createOutbox({ client, aggregate: { windowMs: 2_000 } });
 * ```
 */
export interface AggregateOptions {
  /** Window length in ms (default 1 000). */
  windowMs?: number | undefined;
}

/**
 * Options of {@link createOutbox}. Every bound has a default; see the README section "Outbox and request
 * metering" for the table.
 *
 * @example
 * ```ts
 * const outbox = createOutbox({ client, maxRecords: 50_000, overflow: 'drop-newest', aggregate: true });
 * ```
 */
export interface OutboxOptions {
  /** How records are sent (use this or `client`). */
  transport?: DeliveryTransport | undefined;
  /** A `Drip` client (or anything with its `request()`), wrapped with `createClientTransport`. */
  client?: ClientLike | undefined;
  /** Built lazily on the first delivery when neither `transport` nor `client` is given. */
  clientFactory?: (() => ClientLike) | undefined;
  /** Durable store; default memory (nothing survives the process). */
  store?: OutboxStore | undefined;
  /** Most records held in memory (default 10 000). */
  maxRecords?: number | undefined;
  /** Most bytes (JSON size) held in memory (default 16 MiB). */
  maxBytes?: number | undefined;
  /**
   * What a full queue does. `spill` (the default wherever there is somewhere to spill: a durable store
   * with spill support, or on Node a private overflow directory under the OS temporary directory) writes
   * new records to disk and reads them back in order as delivery catches up; `drop-oldest` (the default
   * elsewhere) and `drop-newest` drop, counted in `stats().dropped.overflow` and reported to `onDrop`.
   */
  overflow?: 'drop-oldest' | 'drop-newest' | 'spill' | undefined;
  /**
   * Most bytes (JSON size) spilled to disk (default 1 GiB, about 2.5 million request records). Beyond it
   * new records are dropped as `overflow`, logged at error level and counted.
   */
  maxSpillBytes?: number | undefined;
  /**
   * Most records per request on bulk routes (default 500, at most 1 000 usage / 500 runs). Halved for a
   * while when a bulk request gets no answer in time.
   */
  batchSize?: number | undefined;
  /** Most bytes per request body (default 512 KiB; the server's limit is 1 MiB). */
  maxBatchBytes?: number | undefined;
  /**
   * A record waits at most this long for a batch to fill (default 1 000 ms). Each request costs the app a
   * fixed amount of CPU whatever its size, so fewer, fuller batches cost less per record.
   */
  flushIntervalMs?: number | undefined;
  /** Requests in flight at once (default 4). */
  maxInFlight?: number | undefined;
  /** Bulk requests in flight at once (default 2, never more than `maxInFlight`). */
  maxBulkInFlight?: number | undefined;
  /** Usage aggregation (default off). `true` means a 1 s window. */
  aggregate?: boolean | AggregateOptions | undefined;
  /** Records older than this are dropped as `expired` (default 24 h). */
  maxAgeMs?: number | undefined;
  /** Backoff base (default 1 s) and cap (default 60 s), full jitter. */
  backoffBaseMs?: number | undefined;
  backoffCapMs?: number | undefined;
  /** Longest `Retry-After` honoured (default 60 s). */
  retryAfterCapMs?: number | undefined;
  /** Per-request timeout (default 15 s). */
  timeoutMs?: number | undefined;
  /** Consecutive transient failures before sending pauses (default 3). */
  pauseAfter?: number | undefined;
  /** Use bulk routes: `auto` (default) when `/health` advertises them, `never`, or `always`. */
  bulk?: 'auto' | 'never' | 'always' | undefined;
  /** Dead letters kept for `deadLetters()` (default 1 000, oldest forgotten first; all are counted). */
  deadLetterLimit?: number | undefined;
  /**
   * Records that carry the app's own customer id (`externalCustomerId`): created on first delivery
   * (default), or, with `{ provision: false }`, required to exist (unknown ones become dead letters).
   */
  customers?: CustomerProvisioningOptions | undefined;
  /**
   * Meters whose usage is charged (`POST /usage`: the customer's balance moves) instead of only
   * recorded (`POST /usage/internal`, the default).
   */
  charge?: ChargeOption | undefined;
  /** Called once per dropped record (and per refused input). Errors it throws are ignored. */
  onDrop?: ((info: DropInfo) => void) | undefined;
  /** Called with each delivery cycle's promise (serverless `waitUntil`). */
  waitUntil?: ((promise: Promise<unknown>) => void) | undefined;
  /** Flush on SIGTERM, SIGINT and `beforeExit` where `process` exists (default true). */
  shutdownHooks?: boolean | undefined;
  /** Grace period of the shutdown flush (default 5 s). */
  shutdownTimeoutMs?: number | undefined;
  /** Key generator for usage (`mw`) and run (`run`, `rec`) keys; default the client's shared sequence. */
  idempotencyKey?: ((prefix: string) => string) | undefined;
  logger?: DripLogger | undefined;
  /** Log each delivery at debug level (default false). */
  debug?: boolean | undefined;
  clock?: Clock | undefined;
  /** Random source in [0, 1) for jitter. */
  random?: (() => number) | undefined;
}

/**
 * The part of the `Drip` client the outbox uses: its low-level `request`.
 *
 * @example
 * ```ts
 * const client: ClientLike = new Drip({ apiKey });
 * ```
 */
export interface ClientLike {
  request<T>(
    method: string,
    path: string,
    options?: {
      body?: unknown;
      timeoutMs?: number | undefined;
      deadlineMs?: number | undefined;
      maxAttempts?: number | undefined;
      retrySafe?: boolean | undefined;
      /** Extra request headers for this call (the request meter sets `X-Drip-Client`). */
      headers?: Record<string, string> | undefined;
    },
  ): Promise<{ data: T; status: number; requestId?: string | undefined }>;
  /** Absolute `GET /health` URL, when the client exposes it. */
  readonly healthUrl?: string | undefined;
  readonly baseUrl?: string | undefined;
}

/**
 * Result of `flush()` and `close()`.
 *
 * @example
 * ```ts
 * const { delivered, remaining } = await outbox.flush(5_000);
 * ```
 */
export interface FlushResult {
  /** True when nothing was left waiting or in flight. */
  delivered: boolean;
  /** Records still waiting (in memory or spilled) when it returned. */
  remaining: number;
}
