/**
 * The delivery outbox (issue 3, spec §7.1 outbox row, §10): a bounded in-memory queue with optional
 * durable store that delivers usage and run records in the background. `enqueue()` is synchronous,
 * O(1), never throws and never does I/O on the caller's tick.
 */

import { type Clock, systemClock } from '../clock';
import { isRecord as isObject } from '../errors';
import { generateIdempotencyKey } from '../idempotency';
import type { DripLogger } from '../transport';
import { createClientTransport } from './client-transport';
import { validCustomer, withDeliveryRules } from './customers';
import { Deque } from './deque';
import { DeliveryReport } from './report';
import { registerForShutdown, unregisterForShutdown } from './shutdown';
import type {
  ClientLike,
  DeadLetter,
  DeliveryResponse,
  DeliveryTransport,
  DropInfo,
  DropReason,
  FlushResult,
  OutboxInput,
  OutboxOptions,
  OutboxRecord,
  OutboxRunBody,
  OutboxStats,
  OutboxStore,
  OutboxUsageBody,
} from './types';

/**
 * The outbox. Create one with {@link createOutbox}; the request meter owns one per configuration.
 *
 * @example
 * ```ts
 * const outbox = createOutbox({ client: new Drip({ apiKey }) });
 * outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
 * await outbox.flush(5_000);
 * ```
 */
export interface Outbox {
  /**
   * Accepts a record for delivery. Synchronous and O(1); never throws. Returns `false` when the record
   * was refused (invalid, closed, or dropped as the newest under `drop-newest`), which is also counted
   * and reported through `onDrop`.
   */
  enqueue(input: OutboxInput): boolean;
  /** Seals aggregation windows and sends everything now; resolves when idle or after `timeoutMs` (default 10 s). Never rejects. */
  flush(timeoutMs?: number): Promise<FlushResult>;
  /** Flushes, then stops timers and hooks and releases the store. Later `enqueue()` calls are dropped (`closed`). */
  close(timeoutMs?: number): Promise<FlushResult>;
  /** Hands the next delivery to a platform `waitUntil` (Workers, Vercel, Next `after()`). */
  waitUntil(register: (promise: Promise<unknown>) => void, timeoutMs?: number): void;
  /** Counters and gauges; see {@link OutboxStats}. */
  stats(): OutboxStats;
  /** Records the API refused for good, newest last (bounded by `deadLetterLimit`). */
  deadLetters(): readonly DeadLetter[];
  /** Resolves once the durable store was loaded (immediately with the memory store). */
  ready(): Promise<void>;
}

// Plain literals: a bundler keeps an unused object whose values are arithmetic (`16 * 1024 * 1024`), so
// bundles that use only the client would carry it.
const DEFAULTS = {
  maxRecords: 10_000,
  maxBytes: 16_777_216, // 16 MiB
  batchSize: 500,
  maxBulkInFlight: 2,
  maxBatchBytes: 524_288, // 512 KiB
  flushIntervalMs: 1_000,
  maxInFlight: 4,
  windowMs: 1_000,
  maxAgeMs: 86_400_000, // 24 h
  backoffBaseMs: 1_000,
  backoffCapMs: 60_000,
  retryAfterCapMs: 60_000,
  timeoutMs: 15_000,
  pauseAfter: 3,
  deadLetterLimit: 1_000,
  shutdownTimeoutMs: 5_000,
} as const;

/** Every outbox log line starts with it (added by `#warnOnce` and `#debug`). */
const PREFIX = 'drip outbox: ';
const RUN_STATUSES = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT']);
const BULK_LIMIT = { usage: 1000, run: 500 } as const;

/** A quantity rounded to 6 decimals (shared with the request meter). */
export function round6(q: number): number {
  return Math.round(q * 1e6) / 1e6;
}

function canonical(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Approximate JSON size of a value (strings by length, numbers as 8), walking at most 6 levels. */
function estimateBytes(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
      return 8;
    case 'boolean':
      return 5;
    case 'object': {
      if (value === null) return 4;
      if (depth > 6) return 64;
      let n = 2;
      if (Array.isArray(value)) {
        for (const v of value) n += estimateBytes(v, depth + 1) + 1;
        return n;
      }
      for (const k in value) {
        const v = (value as Record<string, unknown>)[k];
        if (v !== undefined) n += k.length + 4 + estimateBytes(v, depth + 1);
      }
      return n;
    }
    default:
      return 0;
  }
}

/**
 * `estimateBytes` of a usage body, field by field (the same sum, without walking the object): this runs
 * for every usage record.
 */
function usageBytes(b: OutboxUsageBody): number {
  // 2 for the braces; per field: key length + 4, then the value.
  let n = 2 + (10 + 4 + b.customerId.length + 2) + (9 + 4 + b.usageType.length + 2) + (8 + 4 + 8);
  n += 14 + 4 + b.idempotencyKey.length + 2;
  if (b.units !== undefined) n += 5 + 4 + estimateBytes(b.units, 1);
  if (b.description !== undefined) n += 11 + 4 + estimateBytes(b.description, 1);
  if (b.metadata !== undefined) n += 8 + 4 + estimateBytes(b.metadata, 1);
  return n;
}

/** A string of `min`-`max` characters (shared with the request meter). */
export function validString(v: unknown, min: number, max: number): v is string {
  return typeof v === 'string' && v.length >= min && v.length <= max;
}

/** A finite quantity in [0, 1e15] (shared with the request meter). */
export function validQuantity(q: unknown): q is number {
  return typeof q === 'number' && Number.isFinite(q) && q >= 0 && q <= 1e15;
}

function emptyDrops(): Record<DropReason, number> {
  return { overflow: 0, expired: 0, rejected: 0, invalid: 0, closed: 0, 'no-client': 0 };
}

function unref(handle: unknown): void {
  const h = handle as { unref?: () => void } | null;
  if (h && typeof h.unref === 'function') h.unref();
}

interface Bucket {
  record: OutboxRecord & { kind: 'usage' };
  members: number[] | undefined;
}

type Kind = 'usage' | 'run';

/** Transient = worth retrying later: no answer, timeout, 429, 5xx, 409 in progress (spec §7.2). */
function isTransient(r: DeliveryResponse): boolean {
  return (
    r.status === 0 ||
    r.status === 408 ||
    r.status === 429 ||
    r.status >= 500 ||
    (r.status === 409 && r.code === 'IDEMPOTENCY_KEY_IN_PROGRESS')
  );
}

function codeOf(r: DeliveryResponse): string | undefined {
  if (r.code) return r.code;
  if (isObject(r.body) && typeof r.body.code === 'string') return r.body.code;
  return undefined;
}

class OutboxImpl implements Outbox {
  readonly #o: OutboxOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #logger: DripLogger | undefined;
  readonly #store: OutboxStore | undefined;
  /** `store.durable`, read once (it is readonly). */
  readonly #durable: boolean;
  readonly #keyFor: (prefix: string) => string;
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  readonly #overflow: 'drop-oldest' | 'drop-newest' | 'spill';
  readonly #windowMs: number | undefined;

  #transport: DeliveryTransport | undefined;
  #transportFailed = false;
  readonly #usageQ = new Deque<OutboxRecord>();
  readonly #runQ = new Deque<OutboxRecord>();
  readonly #buckets = new Map<string, Bucket>();
  #windowTimer: unknown;
  #nextId = 1;
  #bytes = 0;
  #inFlightRecords = 0;
  #inFlightRequests = 0;
  #spilled = 0;
  #spillBuffer: OutboxRecord[] = [];
  #unspilling = false;

  readonly #counters: Omit<
    OutboxStats,
    'inFlight' | 'queued' | 'spilled' | 'bytes' | 'state' | 'bulk' | 'lastError' | 'dropped' | 'problems'
  > = {
    enqueued: 0,
    replayed: 0,
    sent: 0,
    retried: 0,
    deduplicated: 0,
    deadLettered: 0,
    aggregated: 0,
    requests: 0,
  };
  readonly #drops = emptyDrops();
  #lastError: OutboxStats['lastError'];
  readonly #dead: DeadLetter[] = [];

  #caps: { usage: boolean; runs: boolean } | undefined;
  #capsPromise: Promise<void> | undefined;
  #bulk404 = 0;
  #bulkBytes: number;
  /** Items per bulk request now: halved when a bulk request times out, grown back on success. */
  #batchLimit: number;

  #failures = 0;
  #state: OutboxStats['state'] = 'open';
  #notBefore = 0;
  #sendTimer: unknown;
  #sendTimerAt = Number.POSITIVE_INFINITY;
  #flushing = 0;
  #closed = false;
  #idleWaiters: Array<() => void> = [];
  readonly #warned = new Set<string>();
  /** Counted, rate-limited lines for every drop and dead letter (`report.ts`). */
  readonly #report: DeliveryReport;

  #pendingPut: OutboxRecord[] = [];
  #pendingDel: number[] = [];
  #persistScheduled = false;
  #storeChain: Promise<void>;
  #loaded = false;
  readonly #loading: Promise<void>;
  #hooked = false;

  constructor(options: OutboxOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger;
    this.#store = options.store;
    this.#durable = options.store?.durable === true;
    this.#keyFor = options.idempotencyKey ?? generateIdempotencyKey;
    this.#maxRecords = Math.max(1, this.#cfg('maxRecords'));
    this.#maxBytes = Math.max(1024, this.#cfg('maxBytes'));
    this.#bulkBytes = Math.min(this.#cfg('maxBatchBytes'), 1024 * 1024 - 1024);
    this.#batchLimit = Math.max(1, this.#cfg('batchSize'));
    let overflow = options.overflow ?? 'drop-oldest';
    if (overflow === 'spill' && !(this.#durable && this.#store?.spill && this.#store.unspill)) {
      this.#warnOnce(
        'spill',
        "overflow 'spill' needs a durable store with spill support; using 'drop-oldest'",
      );
      overflow = 'drop-oldest';
    }
    this.#overflow = overflow;
    const agg = options.aggregate;
    this.#windowMs = agg
      ? Math.max(1, (typeof agg === 'object' ? agg.windowMs : undefined) ?? DEFAULTS.windowMs)
      : undefined;
    this.#report = new DeliveryReport({ logger: options.logger, clock: this.#clock });
    if (options.transport) this.#transport = this.#rules(options.transport, undefined);
    else if (options.client)
      this.#transport = this.#rules(createClientTransport(options.client), options.client);
    this.#loading = this.#durable ? this.#load() : Promise.resolve();
    if (!this.#durable) this.#loaded = true;
    this.#storeChain = this.#loading;
  }

  /** The transport with the customer and charge rules of `customers.ts` around it. */
  #rules(transport: DeliveryTransport, client: ClientLike | undefined): DeliveryTransport {
    this.#report.bind(client);
    const o = this.#o;
    return withDeliveryRules(transport, client, {
      customers: o.customers,
      charge: o.charge,
      observer: this.#report,
      now: () => this.#clock.now(),
    });
  }

  /** A numeric option, or its default when left out. */
  #cfg(key: keyof typeof DEFAULTS & keyof OutboxOptions): number {
    return this.#o[key] ?? DEFAULTS[key];
  }

  // ---------------------------------------------------------------- enqueue (hot path)

  enqueue(input: OutboxInput): boolean {
    try {
      if (this.#closed) {
        this.#drop('closed', undefined, 'enqueue after close()');
        return false;
      }
      if (!this.#hooked) this.#hook();
      if (input.type === 'usage') return this.#enqueueUsage(input);
      if (input.type === 'run') return this.#enqueueRun(input);
      this.#drop('invalid', undefined, 'unknown record type');
      return false;
    } catch (err) {
      // Never into the caller: count and log once.
      this.#drop('invalid', undefined, err);
      return false;
    }
  }

  #enqueueUsage(input: OutboxInput & { type: 'usage' }): boolean {
    const q = input.quantity;
    if (
      !validCustomer(input) ||
      !validString(input.meter, 1, 100) ||
      !validQuantity(q) ||
      (input.idempotencyKey !== undefined && !validString(input.idempotencyKey, 1, 128))
    ) {
      this.#drop('invalid', undefined, 'usage needs customerId, meter and a quantity in [0, 1e15]');
      return false;
    }
    let body: OutboxUsageBody;
    if (input.units === undefined && input.description === undefined && input.metadata !== undefined) {
      // The request meter's shape, as one literal: adding a field later would give the body (kept until
      // delivery) a separate property store. Same fields in the same order as below.
      body = {
        customerId: input.customerId ?? '',
        usageType: input.meter,
        quantity: q,
        idempotencyKey: input.idempotencyKey ?? '',
        metadata: input.metadata,
      };
    } else {
      body = {
        customerId: input.customerId ?? '',
        usageType: input.meter,
        quantity: q,
        idempotencyKey: input.idempotencyKey ?? '',
      };
      if (input.units !== undefined) body.units = input.units;
      if (input.description !== undefined) body.description = input.description;
      if (input.metadata !== undefined) body.metadata = input.metadata;
    }
    if (input.externalCustomerId !== undefined) body.externalCustomerId = input.externalCustomerId;
    this.#counters.enqueued++;
    if (this.#windowMs !== undefined) return this.#aggregate(body);
    if (body.idempotencyKey === '') body.idempotencyKey = this.#keyFor('mw');
    return this.#admit(this.#makeRecord('usage', body));
  }

  #enqueueRun(input: OutboxInput & { type: 'run' }): boolean {
    const events = input.events ?? [];
    if (
      !validCustomer(input) ||
      !validString(input.workflow, 1, 100) ||
      !RUN_STATUSES.has(input.status) ||
      !Array.isArray(events) ||
      events.length > 100
    ) {
      this.#drop('invalid', undefined, 'run needs customerId, workflow, final status, <= 100 events');
      return false;
    }
    // Built field by field (no rest/spread): this runs once per metered request.
    let body: OutboxRunBody;
    if (
      input.correlationId === undefined &&
      input.errorMessage === undefined &&
      input.errorCode === undefined &&
      input.metadata !== undefined &&
      input.startedAt !== undefined &&
      input.endedAt !== undefined
    ) {
      // The request meter's usual shape as one literal (no separate property store on a body kept until
      // delivery); same fields in the same order as below.
      body = {
        customerId: input.customerId ?? '',
        workflow: input.workflow,
        status: input.status,
        events,
        externalRunId: input.externalRunId || this.#keyFor('run'),
        idempotencyKey: input.idempotencyKey || this.#keyFor('rec'),
        metadata: input.metadata,
        startedAt: input.startedAt,
        endedAt: input.endedAt,
      };
    } else {
      body = {
        customerId: input.customerId ?? '',
        workflow: input.workflow,
        status: input.status,
        events,
        externalRunId: input.externalRunId || this.#keyFor('run'),
        idempotencyKey: input.idempotencyKey || this.#keyFor('rec'),
      };
      if (input.correlationId !== undefined) body.correlationId = input.correlationId;
      if (input.errorMessage !== undefined) body.errorMessage = input.errorMessage;
      if (input.errorCode !== undefined) body.errorCode = input.errorCode;
      if (input.metadata !== undefined) body.metadata = input.metadata;
      if (input.startedAt !== undefined) body.startedAt = input.startedAt;
      if (input.endedAt !== undefined) body.endedAt = input.endedAt;
    }
    if (input.externalCustomerId !== undefined) body.externalCustomerId = input.externalCustomerId;
    this.#counters.enqueued++;
    return this.#admit(this.#makeRecord('run', body));
  }

  #makeRecord(kind: 'usage', body: OutboxUsageBody): OutboxRecord & { kind: 'usage' };
  #makeRecord(kind: 'run', body: OutboxRunBody): OutboxRecord & { kind: 'run' };
  #makeRecord(kind: Kind, body: OutboxUsageBody | OutboxRunBody): OutboxRecord {
    // Approximate JSON size: the memory bound's currency, computed once here without serialising.
    const bytes = (kind === 'usage' ? usageBytes(body as OutboxUsageBody) : estimateBytes(body, 0)) + 48;
    return {
      id: this.#nextId++,
      kind,
      body,
      enqueuedAt: this.#clock.now(),
      attempts: 0,
      bytes,
    } as OutboxRecord;
  }

  #held(): number {
    return this.#usageQ.length + this.#runQ.length + this.#buckets.size + this.#inFlightRecords;
  }

  #fits(bytes: number): boolean {
    return this.#held() < this.#maxRecords && this.#bytes + bytes <= this.#maxBytes;
  }

  /** Makes room for `bytes` under the overflow policy; false when the new record must be dropped. */
  #makeRoom(bytes: number): boolean {
    if (this.#fits(bytes)) return true;
    if (this.#overflow !== 'drop-oldest') return false;
    for (let guard = 0; guard < 1_000_000 && !this.#fits(bytes); guard++) {
      const victim = this.#q(this.#oldestKind()).shift();
      if (!victim) return false; // only aggregates and in-flight records are held
      this.#bytes -= victim.bytes;
      this.#forget(victim.id);
      this.#drop('overflow', victim);
    }
    return this.#fits(bytes);
  }

  #admit(record: OutboxRecord): boolean {
    if (this.#spilled > 0 || this.#spillBuffer.length > 0 || !this.#fits(record.bytes)) {
      if (this.#overflow === 'spill') {
        this.#spillBuffer.push(record);
        this.#spilled++;
        this.#schedulePersist();
        return true;
      }
      if (!this.#makeRoom(record.bytes)) {
        this.#drop('overflow', record);
        return false;
      }
    }
    this.#q(record.kind).push(record);
    this.#bytes += record.bytes;
    if (this.#durable) {
      this.#pendingPut.push(record);
      this.#schedulePersist();
    }
    this.#kick();
    return true;
  }

  /**
   * `scheduleSend()` after a record was queued, skipped when it could not change anything (the hot path
   * then reads no clock): the capability probe is still out (its end reschedules), every delivery slot is
   * busy (each finishing send reschedules), or a send timer is armed and the queue is below a batch (a
   * newer record never moves the due time earlier).
   */
  #kick(): void {
    if (this.#loaded && this.#flushing === 0 && this.#state === 'open') {
      if (this.#capsPromise !== undefined) return;
      if (this.#inFlightRequests > 0 && this.#inFlightRequests >= this.#limit()) return;
      if (this.#sendTimer !== undefined && this.#queued() < this.#cfg('batchSize')) return;
    }
    this.#scheduleSend();
  }

  #aggregate(body: OutboxUsageBody): boolean {
    const gk = `${body.externalCustomerId ?? ''}\u0000${body.customerId}\u0000${body.usageType}\u0000${body.units ?? ''}\u0000${body.description ?? ''}\u0000${canonical(body.metadata)}`;
    const member = this.#durable ? this.#makeRecord('usage', { ...body }) : undefined;
    if (member) member.aggregating = true;
    const bucket = this.#buckets.get(gk);
    if (bucket) {
      bucket.record.body.quantity = round6(bucket.record.body.quantity + body.quantity);
      this.#counters.aggregated++;
      if (member && bucket.members) {
        bucket.members.push(member.id);
        this.#pendingPut.push(member);
        this.#schedulePersist();
      }
      return true;
    }
    const record = this.#makeRecord('usage', body);
    if (!this.#makeRoom(record.bytes)) {
      this.#drop('overflow', record);
      return false;
    }
    this.#bytes += record.bytes;
    this.#buckets.set(gk, { record, members: member ? [member.id] : undefined });
    if (member) {
      this.#pendingPut.push(member);
      this.#schedulePersist();
    }
    if (this.#windowTimer === undefined) {
      this.#windowTimer = this.#clock.setTimeout(() => {
        this.#windowTimer = undefined;
        this.#seal();
      }, this.#windowMs ?? DEFAULTS.windowMs);
      unref(this.#windowTimer);
    }
    return true;
  }

  /** Seals the open window: each aggregate gets its key now, before its first send (spec §5.7). */
  #seal(): void {
    if (this.#buckets.size === 0) return;
    if (this.#windowTimer !== undefined) {
      this.#clock.clearTimeout(this.#windowTimer);
      this.#windowTimer = undefined;
    }
    for (const { record, members } of this.#buckets.values()) {
      record.body.idempotencyKey = this.#keyFor('mw');
      record.id = this.#nextId++;
      this.#usageQ.push(record);
      if (this.#durable) {
        this.#pendingPut.push(record);
        if (members) for (const m of members) this.#pendingDel.push(m);
      }
    }
    this.#buckets.clear();
    this.#schedulePersist();
    this.#scheduleSend();
  }

  // ---------------------------------------------------------------- accounting

  #drop(reason: DropReason, record: OutboxRecord | undefined, error?: unknown): void {
    this.#drops[reason]++;
    this.#report.drop(reason, record, error);
    const hook = this.#o.onDrop;
    if (hook) {
      const info: DropInfo = { reason, record, error };
      try {
        hook(info);
      } catch {
        // A user hook must not break delivery.
      }
    }
  }

  /** Logs `drip outbox: <message>` once per key. */
  #warnOnce(key: string, message: string, context?: Record<string, unknown>): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    try {
      // No trailing `undefined` argument when there is no context (console would print it).
      if (context === undefined) this.#logger?.warn?.(PREFIX + message);
      else this.#logger?.warn?.(PREFIX + message, context);
    } catch {
      // ignore logger failures
    }
  }

  /** Logs `drip outbox: <message>` at debug level when the `debug` option is on. */
  #debug(message: string, context?: Record<string, unknown>): void {
    if (!this.#o.debug) return;
    try {
      if (context === undefined) this.#logger?.debug?.(PREFIX + message);
      else this.#logger?.debug?.(PREFIX + message, context);
    } catch {
      // ignore
    }
  }

  // ---------------------------------------------------------------- durable store

  async #load(): Promise<void> {
    const store = this.#store;
    if (!store) return;
    try {
      const records = await store.load();
      const put: OutboxRecord[] = [];
      const del: number[] = [];
      const again: OutboxUsageBody[] = [];
      for (const r of records) {
        del.push(r.id);
        if (r.kind === 'usage' && r.aggregating) {
          // Never sent: aggregate it again in this process's window.
          again.push(r.body);
          continue;
        }
        r.id = this.#nextId++;
        r.attempts = 0;
        put.push(r);
        this.#q(r.kind).push(r);
        this.#bytes += r.bytes;
        this.#counters.replayed++;
      }
      this.#spilled += store.spilledCount?.() ?? 0;
      for (const body of again) {
        this.#counters.replayed++;
        this.#aggregate(body);
      }
      // Re-keyed ids (and re-opened aggregates): one atomic step replaces the old ids with the new ones.
      put.push(...this.#pendingPut);
      this.#pendingPut = [];
      if (put.length > 0 || del.length > 0) await store.append(put, del);
      this.#loaded = true;
      if (this.#usageQ.length + this.#runQ.length > 0) this.#scheduleSend();
    } catch (err) {
      this.#loaded = true;
      this.#setError('STORE_ERROR', err);
      this.#warnOnce('store-load', 'could not load the durable store; starting empty', {
        error: String(err),
      });
    }
  }

  /** `lastError` of a local failure (store, configuration): no HTTP status. */
  #setError(code: string, err: unknown): void {
    this.#lastError = { code, status: 0, message: String(err), at: this.#clock.now() };
  }

  ready(): Promise<void> {
    return this.#loading;
  }

  #forget(id: number): void {
    if (this.#durable) {
      this.#pendingDel.push(id);
      this.#schedulePersist();
    }
  }

  #schedulePersist(): void {
    if (this.#persistScheduled || !this.#durable) return;
    this.#persistScheduled = true;
    // After the caller's synchronous code, never inside it.
    queueMicrotask(() => this.#writeStore());
  }

  #writeStore(): void {
    this.#persistScheduled = false;
    const store = this.#store;
    if (!store) return;
    const put = this.#pendingPut;
    const del = this.#pendingDel;
    const spill = this.#spillBuffer;
    this.#pendingPut = [];
    this.#pendingDel = [];
    this.#spillBuffer = [];
    if (put.length === 0 && del.length === 0 && spill.length === 0) return;
    this.#storeChain = this.#storeChain
      .then(async () => {
        if (spill.length > 0 && store.spill) await store.spill(spill);
        if (put.length > 0 || del.length > 0) await store.append(put, del);
      })
      .catch((err: unknown) => {
        this.#setError('STORE_ERROR', err);
        this.#warnOnce('store-write', 'durable store write failed', { error: String(err) });
      });
  }

  #refill(): void {
    const store = this.#store;
    if (this.#unspilling || this.#spilled === 0 || !store?.unspill) return;
    if (this.#spillBuffer.length > 0) {
      // Still being written: refill after the write lands.
      this.#storeChain.then(() => this.#refill());
      return;
    }
    const room = Math.floor(this.#maxRecords / 2) - this.#held();
    if (room <= 0) return;
    this.#unspilling = true;
    const unspill = store.unspill.bind(store);
    this.#storeChain = this.#storeChain
      .then(async () => {
        const records = await unspill(Math.min(room, this.#spilled));
        this.#spilled -= records.length;
        for (const r of records) {
          this.#q(r.kind).push(r);
          this.#bytes += r.bytes;
          this.#pendingPut.push(r);
        }
        if (records.length === 0) this.#spilled = 0;
        this.#schedulePersist();
      })
      .catch((err: unknown) => {
        this.#warnOnce('store-unspill', 'reading spilled records failed', {
          error: String(err),
        });
      })
      .finally(() => {
        this.#unspilling = false;
        this.#scheduleSend();
      });
  }

  // ---------------------------------------------------------------- sending

  #getTransport(): DeliveryTransport | undefined {
    if (this.#transport || this.#transportFailed) return this.#transport;
    const factory = this.#o.clientFactory;
    if (!factory) {
      this.#transportFailed = true;
      return undefined;
    }
    try {
      const client: ClientLike = factory();
      this.#transport = this.#rules(createClientTransport(client), client);
    } catch (err) {
      this.#transportFailed = true;
      this.#setError('CONFIGURATION_ERROR', err);
      this.#warnOnce('no-client', 'no Drip client (set DRIP_API_KEY); usage dropped', {
        error: err instanceof Error ? err.message : String(err),
      });
    }
    return this.#transport;
  }

  #queued(): number {
    return this.#usageQ.length + this.#runQ.length;
  }

  /** The queue of a kind. */
  #q(kind: Kind): Deque<OutboxRecord> {
    return kind === 'usage' ? this.#usageQ : this.#runQ;
  }

  /** The kind of the oldest queued record (`run` when both queues are empty). */
  #oldestKind(): Kind {
    const u = this.#usageQ.peek();
    const r = this.#runQ.peek();
    return u && (!r || u.id < r.id) ? 'usage' : 'run';
  }

  /** Drops every queued record (not the in-flight ones) for `reason`. */
  #dropQueued(reason: DropReason, error?: string): void {
    for (const r of [...this.#usageQ.drain(), ...this.#runQ.drain()]) {
      this.#bytes -= r.bytes;
      this.#forget(r.id);
      this.#drop(reason, r, error);
    }
  }

  #scheduleSend(): void {
    if (!this.#loaded) {
      this.#loading.then(() => this.#scheduleSend());
      return;
    }
    const n = this.#queued();
    if (n === 0) {
      if (this.#spilled > 0) this.#refill();
      this.#checkIdle();
      return;
    }
    const now = this.#clock.now();
    let at: number;
    if (this.#flushing > 0 || n >= this.#cfg('batchSize')) at = now;
    else {
      const u = this.#usageQ.peek();
      const r = this.#runQ.peek();
      const oldest = Math.min(
        u?.enqueuedAt ?? Number.POSITIVE_INFINITY,
        r?.enqueuedAt ?? Number.POSITIVE_INFINITY,
      );
      at = oldest + this.#cfg('flushIntervalMs');
    }
    at = Math.max(at, this.#notBefore);
    if (at <= now) {
      this.#pump();
      return;
    }
    if (this.#sendTimer !== undefined && this.#sendTimerAt <= at) return;
    if (this.#sendTimer !== undefined) this.#clock.clearTimeout(this.#sendTimer);
    this.#sendTimerAt = at;
    this.#sendTimer = this.#clock.setTimeout(() => {
      this.#sendTimer = undefined;
      this.#sendTimerAt = Number.POSITIVE_INFINITY;
      this.#scheduleSend();
    }, at - now);
    unref(this.#sendTimer);
  }

  #limit(): number {
    if (this.#state !== 'open') return 1;
    const max = Math.max(1, this.#cfg('maxInFlight'));
    // A bulk request carries hundreds of records: fewer of them at once keep a small server responsive.
    return this.#useBulk(this.#oldestKind()) ? Math.min(max, Math.max(1, this.#cfg('maxBulkInFlight'))) : max;
  }

  #pump(): void {
    if (this.#clock.now() < this.#notBefore) {
      this.#scheduleSend();
      return;
    }
    if (this.#state === 'paused') this.#state = 'probing';
    const transport = this.#getTransport();
    if (!transport) {
      this.#dropQueued('no-client');
      this.#checkIdle();
      return;
    }
    if (this.#caps === undefined && (this.#o.bulk ?? 'auto') === 'auto') {
      if (!this.#capsPromise) this.#capsPromise = this.#discover(transport);
      return;
    }
    while (this.#inFlightRequests < this.#limit() && this.#queued() > 0) {
      const batch = this.#take();
      if (batch.length === 0) continue;
      this.#inFlightRequests++;
      this.#inFlightRecords += batch.length;
      const p = this.#send(transport, batch).finally(() => {
        this.#inFlightRequests--;
        this.#inFlightRecords -= batch.length;
        this.#scheduleSend();
      });
      if (this.#o.waitUntil) {
        try {
          this.#o.waitUntil(p);
        } catch {
          // ignore
        }
      }
      if (this.#state === 'probing') break;
    }
    if (this.#queued() < this.#maxRecords / 2 && this.#spilled > 0) this.#refill();
  }

  async #discover(transport: DeliveryTransport): Promise<void> {
    const r = await transport.health({ timeoutMs: this.#cfg('timeoutMs') });
    this.#counters.requests++;
    if (isTransient(r) && r.status !== 503) {
      this.#failure(r);
    } else {
      const caps = isObject(r.body) && Array.isArray(r.body.capabilities) ? r.body.capabilities : [];
      this.#caps = { usage: caps.includes('usage-bulk'), runs: caps.includes('runs-record-bulk') };
      if (r.status === 503) this.#failure(r);
      this.#debug('capabilities', { ...this.#caps });
    }
    this.#capsPromise = undefined;
    this.#scheduleSend();
  }

  #useBulk(kind: Kind): boolean {
    const mode = this.#o.bulk ?? 'auto';
    if (mode === 'never' || this.#bulk404 >= 2) return false;
    if (mode === 'always') return true;
    return kind === 'usage' ? this.#caps?.usage === true : this.#caps?.runs === true;
  }

  /** Takes the next batch: one kind, the oldest first, bounded by count and bytes. */
  #take(): OutboxRecord[] {
    const kind = this.#oldestKind();
    const q = this.#q(kind);
    const bulk = this.#useBulk(kind) && this.#state === 'open';
    const max = bulk ? Math.min(this.#batchLimit, BULK_LIMIT[kind]) : 1;
    const out: OutboxRecord[] = [];
    let bytes = 0;
    const now = this.#clock.now();
    const maxAge = this.#cfg('maxAgeMs');
    while (out.length < max) {
      const next = q.peek();
      if (!next) break;
      if (out.length > 0 && bytes + next.bytes > this.#bulkBytes) break;
      q.shift();
      this.#bytes -= next.bytes;
      if (now - next.enqueuedAt > maxAge) {
        this.#forget(next.id);
        this.#drop('expired', next);
        continue;
      }
      bytes += next.bytes;
      out.push(next);
    }
    return out;
  }

  async #send(transport: DeliveryTransport, batch: OutboxRecord[]): Promise<void> {
    const first = batch[0];
    if (!first) return;
    const timeoutMs = this.#cfg('timeoutMs');
    // The per-item route; its bulk twin is `<route>/bulk`.
    const route = first.kind === 'usage' ? '/usage/internal' : '/runs/record';
    const bulk = batch.length > 1 || (this.#useBulk(first.kind) && this.#state === 'open');
    for (const r of batch) r.attempts++;
    this.#counters.requests++;
    if (!bulk) {
      const res = await transport.post(route, first.body, { timeoutMs });
      this.#debug('sent', { path: route, status: res.status });
      if (isTransient(res)) {
        this.#requeue([first]);
        this.#failure(res);
        return;
      }
      this.#success();
      this.#settle(first, res.status, res.body, codeOf(res), res);
      return;
    }
    const path = `${route}/bulk`;
    const payload =
      first.kind === 'usage' ? { events: batch.map((r) => r.body) } : { runs: batch.map((r) => r.body) };
    const res = await transport.post(path, payload, { timeoutMs });
    this.#debug('sent', { path, items: batch.length, status: res.status });
    if (isTransient(res)) {
      if ((res.status === 0 || res.status === 408) && batch.length > 1) {
        // No answer in time: a smaller batch is more likely to finish (and to cost less if repeated).
        this.#batchLimit = Math.max(10, Math.floor(batch.length / 2));
      }
      this.#requeue(batch);
      this.#failure(res);
      return;
    }
    const configured = Math.max(1, this.#cfg('batchSize'));
    if (this.#batchLimit < configured)
      this.#batchLimit = Math.min(configured, Math.ceil(this.#batchLimit * 1.25) + 1);
    if (res.status === 404 || res.status === 405) {
      // The server stopped advertising bulk (or never had it): re-read /health, per-item meanwhile.
      this.#bulk404++;
      this.#caps = undefined;
      this.#requeue(batch, false);
      return;
    }
    if (res.status === 413 && batch.length > 1) {
      this.#bulkBytes = Math.max(16 * 1024, Math.floor(this.#bulkBytes / 2));
      this.#requeue(batch, false);
      return;
    }
    if (res.status >= 400) {
      // An envelope the server refused as a whole: send each item alone so each gets its own verdict.
      this.#bulk404 = 2;
      this.#warnOnce('bulk-refused', `bulk route refused (${res.status}); sending per item`);
      this.#requeue(batch, false);
      return;
    }
    const results = isObject(res.body) && Array.isArray(res.body.results) ? res.body.results : [];
    const retry: OutboxRecord[] = [];
    let transient: DeliveryResponse | undefined;
    batch.forEach((record, i) => {
      const direct: unknown = results[i];
      // Results come in input order; look further only if the server numbered them differently.
      const item =
        isObject(direct) && (direct.index === i || direct.index === undefined)
          ? direct
          : results.find((x: unknown) => isObject(x) && x.index === i);
      if (!isObject(item) || typeof item.status !== 'number') {
        retry.push(record);
        return;
      }
      const err = isObject(item.error) ? item.error : undefined;
      const code = typeof err?.code === 'string' ? err.code : undefined;
      const itemRes: DeliveryResponse = { status: item.status, body: err ?? item, code };
      if (isTransient(itemRes)) {
        retry.push(record);
        transient = itemRes;
        return;
      }
      this.#settle(record, item.status, item, code, itemRes);
    });
    if (retry.length > 0) {
      this.#requeue(retry);
      this.#failure(transient ?? { status: 500, body: undefined, code: 'INCOMPLETE_BULK_ANSWER' });
    } else {
      this.#success();
    }
  }

  /** Final verdict on one record that got a non-transient answer. */
  #settle(
    record: OutboxRecord,
    status: number,
    body: unknown,
    code: string | undefined,
    res: DeliveryResponse,
  ): void {
    this.#forget(record.id);
    const duplicateRun = record.kind === 'run' && status === 409 && code === 'DUPLICATE_RUN';
    if ((status >= 200 && status < 300) || duplicateRun) {
      this.#counters.sent++;
      if (duplicateRun || (isObject(body) && body.isDuplicate === true)) this.#counters.deduplicated++;
      return;
    }
    this.#counters.deadLettered++;
    const letter: DeadLetter = {
      record,
      status,
      code,
      error: res.body ?? res.message,
      at: this.#clock.now(),
    };
    this.#dead.push(letter);
    const limit = this.#cfg('deadLetterLimit');
    if (this.#dead.length > limit) this.#dead.splice(0, this.#dead.length - limit);
    this.#lastError = {
      code: code ?? 'REJECTED',
      status,
      message: res.message ?? `HTTP ${status}`,
      at: letter.at,
    };
    this.#drop('rejected', record, res.body ?? res.message);
  }

  #requeue(records: OutboxRecord[], counted = true): void {
    if (counted) this.#counters.retried += records.length;
    const usage = records.filter((r) => r.kind === 'usage');
    const runs = records.filter((r) => r.kind === 'run');
    this.#usageQ.unshiftAll(usage);
    this.#runQ.unshiftAll(runs);
    for (const r of records) this.#bytes += r.bytes;
  }

  #success(): void {
    if (this.#failures > 0 || this.#state !== 'open') this.#debug('resumed');
    this.#failures = 0;
    this.#state = 'open';
  }

  #failure(res: DeliveryResponse): void {
    this.#failures++;
    const now = this.#clock.now();
    this.#lastError = {
      code: codeOf(res) ?? (res.status === 0 ? 'NETWORK_ERROR' : 'HTTP_ERROR'),
      status: res.status,
      message: res.message ?? `HTTP ${res.status}`,
      at: now,
    };
    const base = this.#cfg('backoffBaseMs');
    const cap = this.#cfg('backoffCapMs');
    let delay = Math.floor(this.#random() * Math.min(cap, base * 2 ** Math.min(30, this.#failures - 1)));
    if (res.retryAfterMs !== undefined) {
      delay = Math.max(delay, Math.min(res.retryAfterMs, this.#cfg('retryAfterCapMs')));
    }
    // At least 1 ms and always through a timer: an in-process transport that fails at once must not
    // turn retries into a microtask loop that starves the event loop.
    this.#notBefore = Math.max(this.#notBefore, now + Math.max(1, delay));
    if (this.#failures >= this.#cfg('pauseAfter') || this.#state === 'probing') {
      if (this.#state !== 'paused')
        this.#warnOnce('paused', 'delivery paused after repeated failures', {
          code: this.#lastError.code,
        });
      this.#state = 'paused';
    }
    this.#debug('retry scheduled', {
      delayMs: delay,
      failures: this.#failures,
      code: this.#lastError.code,
      status: res.status,
    });
  }

  // ---------------------------------------------------------------- flush / close

  #isIdle(): boolean {
    return (
      this.#queued() === 0 &&
      this.#inFlightRequests === 0 &&
      this.#buckets.size === 0 &&
      this.#spilled === 0 &&
      this.#spillBuffer.length === 0
    );
  }

  #checkIdle(): void {
    if (!this.#isIdle() || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #remaining(): number {
    return this.#queued() + this.#inFlightRecords + this.#buckets.size + this.#spilled;
  }

  async flush(timeoutMs = 10_000, keepAlive = false): Promise<FlushResult> {
    await this.#loading;
    this.#seal();
    if (this.#isIdle()) {
      await this.#storeChain;
      return { delivered: true, remaining: 0 };
    }
    this.#flushing++;
    let timer: unknown;
    try {
      await new Promise<void>((resolve) => {
        this.#idleWaiters.push(resolve);
        timer = this.#clock.setTimeout(resolve, timeoutMs);
        if (!keepAlive) unref(timer);
        this.#scheduleSend();
      });
    } finally {
      this.#flushing--;
      this.#clock.clearTimeout(timer);
    }
    await this.#storeChain;
    const remaining = this.#remaining();
    return { delivered: remaining === 0, remaining };
  }

  waitUntil(register: (promise: Promise<unknown>) => void, timeoutMs = 10_000): void {
    try {
      register(this.flush(timeoutMs));
    } catch {
      // ignore platform errors
    }
  }

  async close(timeoutMs = 10_000): Promise<FlushResult> {
    const result = await this.flush(timeoutMs, true);
    this.#closed = true;
    if (this.#sendTimer !== undefined) this.#clock.clearTimeout(this.#sendTimer);
    if (this.#windowTimer !== undefined) this.#clock.clearTimeout(this.#windowTimer);
    this.#sendTimer = undefined;
    this.#windowTimer = undefined;
    if (!result.delivered && !this.#durable) {
      this.#dropQueued('closed', 'not delivered before close() timed out');
    }
    unregisterForShutdown(this);
    this.#report.emit();
    await this.#storeChain;
    await this.#store?.close?.();
    return result;
  }

  #hook(): void {
    this.#hooked = true;
    if (this.#o.shutdownHooks === false) return;
    registerForShutdown(this, this.#cfg('shutdownTimeoutMs'));
  }

  /** Used by the shutdown hooks: flush with a timer that keeps the process alive. */
  shutdownFlush(timeoutMs: number): Promise<FlushResult> {
    return this.flush(timeoutMs, true).then((r) => {
      this.#report.emit();
      if (!r.delivered) {
        this.#warnOnce(
          'shutdown',
          `${r.remaining} record(s) not delivered at shutdown${this.#durable ? ' (kept in the durable store)' : ''}`,
        );
      }
      return r;
    });
  }

  stats(): OutboxStats {
    return {
      ...this.#counters,
      dropped: { ...this.#drops },
      inFlight: this.#inFlightRecords,
      queued: this.#queued() + this.#buckets.size,
      spilled: this.#spilled,
      bytes: this.#bytes,
      state: this.#state,
      bulk: this.#caps ? { ...this.#caps } : undefined,
      lastError: this.#lastError,
      problems: this.#report.counts(),
    };
  }

  deadLetters(): readonly DeadLetter[] {
    return this.#dead;
  }
}

/**
 * Creates a delivery outbox. Nothing starts until the first `enqueue()` (no timers, no I/O, no hooks at
 * creation beyond loading a durable store).
 *
 * @example
 * ```ts
 * import { Drip, createOutbox } from '@drip/core';
 * const outbox = createOutbox({ client: new Drip({ apiKey: process.env.DRIP_API_KEY }), aggregate: true });
 * outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'llm_tokens', quantity: 842 });
 * process.on('SIGTERM', () => void outbox.close(5_000));
 * ```
 */
export function createOutbox(options: OutboxOptions = {}): Outbox {
  return new OutboxImpl(options);
}

export type { OutboxImpl };
