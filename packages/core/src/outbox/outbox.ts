/**
 * The delivery outbox (issue 3, spec §7.1 outbox row, §10): a bounded in-memory queue with optional
 * durable store that delivers usage and run records in the background. `enqueue()` is synchronous,
 * O(1), never throws and never does I/O on the caller's tick.
 */

import { type Clock, systemClock, unrefTimer } from '../clock';
import { generateIdempotencyKey } from '../keys';
import { isRequestKey, recordBytes, runBodyOf, runProblem, usageBodyOf, usageProblem } from './admission';
import { AggregationWindow } from './aggregation';
import { codeOf, isTransient, verdictOf } from './answers';
import { BatchShape, DeliveryPace, type Kind, sendBatch } from './delivery';
import type { DripLogger } from '../transport';
import { createClientTransport } from './client-transport';
import { type CustomerResolution, type RulesTransport, withDeliveryRules } from './customers';
import { DeliveredWaiters } from './delivered-waiters';
import { Deque } from './deque';
import { DeliveryReport } from './report';
import { registerForShutdown, unregisterForShutdown } from './shutdown';
import { createSpillDir, spillPlatform } from './spill-dir';
import { StoreRetry, StoreWriter } from './store-writer';
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
  SpillStore,
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
  /**
   * Hands delivery to a platform `waitUntil`: a flush (a send starts now) by default, as a serverless
   * function that may be frozen after its response needs; with `{ flush: false }`, {@link delivered}: the
   * records go out on the outbox's own schedule, in batches, and the promise still lasts until they have
   * (for a long-running server whose shutdown waits for such promises, as Next's does for `after()`).
   */
  waitUntil(
    register: (promise: Promise<unknown>) => void,
    timeoutMs?: number,
    options?: { flush?: boolean | undefined },
  ): void;
  /**
   * Resolves once every record accepted before the call has left the outbox (delivered, refused for good,
   * or dropped and counted), or after `timeoutMs` (default 10 s). Starts no send, unlike `flush()`. With
   * aggregation or records spilled to disk it waits for the outbox to be idle.
   */
  delivered(timeoutMs?: number): Promise<void>;
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
  maxSpillBytes: 1_073_741_824, // 1 GiB
} as const;

/** Every outbox log line starts with it (added by `#warnOnce` and `#debug`). */
const PREFIX = 'drip outbox: ';
// The request meter imports these from here.
export { round6, validQuantity, validString } from './admission';

function emptyDrops(): Record<DropReason, number> {
  return { overflow: 0, expired: 0, rejected: 0, invalid: 0, closed: 0, 'no-client': 0 };
}

class OutboxImpl implements Outbox {
  readonly #options: OutboxOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #logger: DripLogger | undefined;
  readonly #store: OutboxStore | undefined;
  /** Whether accepted records go to the durable store now: it is durable and opened (or opening). */
  #durable: boolean;
  /** Why the configured durable store is not in use (it could not be opened); retried until it is. */
  readonly #storeRetry: StoreRetry;
  /** Where overflow goes: the durable store when it spills, else the overflow directory (Node). */
  readonly #spillTarget: SpillStore | undefined;
  /** Approximate bytes of the records spilled now (bounded by `maxSpillBytes`). */
  #spilledBytes = 0;
  readonly #keyFor: (prefix: string) => string;
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  readonly #overflow: 'drop-oldest' | 'drop-newest' | 'spill';
  /** Window length when the `aggregate` option is on, else `undefined`. */
  readonly #windowMs: number | undefined;
  /**
   * The open aggregation window, made on first use: with `aggregate` on, or when a store replays usage
   * an earlier process left waiting in its window (summed again here even with `aggregate` off).
   */
  #window: AggregationWindow | undefined;

  #transport: DeliveryTransport | undefined;
  /** The customer rules around `#transport` (see `customers.ts`), which also resolve external ids. */
  #customers: RulesTransport | undefined;
  #transportFailed = false;
  readonly #usageQueue = new Deque<OutboxRecord>();
  readonly #runQueue = new Deque<OutboxRecord>();
  #nextId = 1;
  #bytes = 0;
  #inFlightRecords = 0;
  #inFlightRequests = 0;
  #spilled = 0;

  readonly #counters: Omit<
    OutboxStats,
    | 'inFlight'
    | 'queued'
    | 'spilled'
    | 'store'
    | 'bytes'
    | 'state'
    | 'bulk'
    | 'lastError'
    | 'dropped'
    | 'problems'
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
  readonly #deadLetterList: DeadLetter[] = [];

  /** Bulk routes, batch size and bytes (`delivery.ts`). */
  readonly #shape: BatchShape;
  #bulkRoutesProbe: Promise<void> | undefined;
  /** Backoff and pause between sends (`delivery.ts`). */
  readonly #pace = new DeliveryPace();
  #sendTimer: unknown;
  #sendTimerAt = Number.POSITIVE_INFINITY;
  #flushesWaiting = 0;
  #closed = false;
  #idleWaiters: Array<() => void> = [];
  /** `delivered()` promises, and the batches in flight whose records they may wait for. */
  readonly #deliveredWaiters: DeliveredWaiters;
  readonly #inFlightBatches = new Set<OutboxRecord[]>();
  readonly #warned = new Set<string>();
  /** Counted, rate-limited lines for every drop and dead letter (`report.ts`). */
  readonly #report: DeliveryReport;

  /** Puts, deletes and spills, written together after the caller's code (`store-writer.ts`). */
  readonly #writer = new StoreWriter({
    store: () => (this.#durable ? this.#store : undefined),
    spillTarget: () => this.#spillTarget,
    spillFailed: (records, err) => {
      this.#spilled -= records.length;
      for (const r of records) {
        this.#spilledBytes -= r.bytes;
        this.#drop('overflow', r, err);
      }
    },
    failed: (err) => {
      this.#setError('STORE_ERROR', err);
      this.#warnOnce('store-write', 'durable store write failed', { error: String(err) });
    },
  });
  #loaded = false;
  readonly #loading: Promise<void>;
  #hooked = false;

  constructor(options: OutboxOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#storeRetry = new StoreRetry(this.#clock);
    this.#deliveredWaiters = new DeliveredWaiters(this.#clock);
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger;
    this.#store = options.store;
    this.#durable = options.store?.durable === true;
    this.#keyFor = options.idempotencyKey ?? generateIdempotencyKey;
    this.#maxRecords = Math.max(1, this.#option('maxRecords'));
    this.#maxBytes = Math.max(1024, this.#option('maxBytes'));
    this.#shape = new BatchShape(
      options.bulk ?? 'auto',
      this.#option('batchSize'),
      this.#option('maxBatchBytes'),
    );
    const store = options.store;
    const storeSpills = this.#durable && store?.spill && store.unspill && store.spilledCount;
    let target: SpillStore | undefined;
    if (storeSpills) target = store as SpillStore;
    else if (options.overflow === undefined || options.overflow === 'spill') {
      const platform = spillPlatform();
      if (platform) target = createSpillDir(platform);
    }
    this.#spillTarget = target;
    let overflow = options.overflow ?? (target ? 'spill' : 'drop-oldest');
    if (overflow === 'spill' && !target) {
      this.#warnOnce(
        'spill',
        "overflow 'spill' needs a durable store with spill support or a file system; using 'drop-oldest'",
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
    this.#writer.chain = this.#loading;
  }

  /** The transport with the customer and charge rules of `customers.ts` around it. */
  #rules(transport: DeliveryTransport, client: ClientLike | undefined): DeliveryTransport {
    this.#report.bind(client);
    const o = this.#options;
    this.#customers = withDeliveryRules(transport, client, {
      customers: o.customers,
      charge: o.charge,
      observer: this.#report,
      now: () => this.#clock.now(),
    });
    return this.#customers;
  }

  /**
   * @internal The Drip id of the app's own customer id, through the same directory (cache, single
   * flight, provisioning rule) delivery uses: the request meter's gate asks it.
   */
  resolveCustomer(externalId: string, timeoutMs: number): Promise<CustomerResolution> {
    const customers = this.#getTransport() ? this.#customers : undefined;
    if (!customers) {
      const message = 'no Drip client (set DRIP_API_KEY)';
      return Promise.resolve({
        refused: { status: 0, body: undefined, code: 'CONFIGURATION_ERROR', message },
      });
    }
    return customers.resolveCustomer(externalId, timeoutMs);
  }

  /** A numeric option, or its default when left out. */
  #option(key: keyof typeof DEFAULTS & keyof OutboxOptions): number {
    return this.#options[key] ?? DEFAULTS[key];
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
    const problem = usageProblem(input);
    if (problem !== undefined) {
      this.#drop('invalid', undefined, problem);
      return false;
    }
    const body = usageBodyOf(input);
    this.#counters.enqueued++;
    // Only records whose key no retry can reproduce are merged (see `#aggregate`).
    if (this.#windowMs !== undefined && (body.idempotencyKey === '' || input.localKey === true)) {
      return this.#aggregate(body);
    }
    if (body.idempotencyKey === '') body.idempotencyKey = this.#keyFor('mw');
    const record = this.#makeRecord('usage', body);
    if (isRequestKey(input)) record.requestKey = true;
    return this.#admit(record);
  }

  #enqueueRun(input: OutboxInput & { type: 'run' }): boolean {
    const problem = runProblem(input);
    if (problem !== undefined) {
      this.#drop('invalid', undefined, problem);
      return false;
    }
    const body = runBodyOf(input, this.#keyFor);
    this.#counters.enqueued++;
    const record = this.#makeRecord('run', body);
    if (isRequestKey(input)) record.requestKey = true;
    return this.#admit(record);
  }

  #makeRecord(kind: 'usage', body: OutboxUsageBody): OutboxRecord & { kind: 'usage' };
  #makeRecord(kind: 'run', body: OutboxRunBody): OutboxRecord & { kind: 'run' };
  #makeRecord(kind: Kind, body: OutboxUsageBody | OutboxRunBody): OutboxRecord {
    // Approximate JSON size: the memory bound's currency, computed once here without serialising.
    const bytes = recordBytes(kind, body);
    return {
      id: this.#nextId++,
      kind,
      body,
      enqueuedAt: this.#clock.now(),
      attempts: 0,
      bytes,
    } as OutboxRecord;
  }

  /** Aggregates of the open window (each one record waiting). */
  #openAggregates(): number {
    return this.#window?.size ?? 0;
  }

  #heldRecords(): number {
    return this.#usageQueue.length + this.#runQueue.length + this.#openAggregates() + this.#inFlightRecords;
  }

  #fits(bytes: number): boolean {
    return this.#heldRecords() < this.#maxRecords && this.#bytes + bytes <= this.#maxBytes;
  }

  /** Makes room for `bytes` under the overflow policy; false when the new record must be dropped. */
  #makeRoom(bytes: number): boolean {
    if (this.#fits(bytes)) return true;
    if (this.#overflow !== 'drop-oldest') return false;
    for (let guard = 0; guard < 1_000_000 && !this.#fits(bytes); guard++) {
      const victim = this.#queueOf(this.#oldestKind()).shift();
      if (!victim) return false; // only aggregates and in-flight records are held
      this.#bytes -= victim.bytes;
      this.#forget(victim.id);
      this.#drop('overflow', victim);
    }
    return this.#fits(bytes);
  }

  /** Whether overflow can go to disk now (a durable target only once its store is open). */
  #canSpill(): boolean {
    const target = this.#spillTarget;
    return this.#overflow === 'spill' && target !== undefined && (!target.durable || this.#durable);
  }

  #admit(record: OutboxRecord): boolean {
    if (this.#spilled > 0 || this.#writer.spills.length > 0 || !this.#fits(record.bytes)) {
      if (this.#canSpill()) {
        if (this.#spilledBytes + record.bytes > this.#option('maxSpillBytes')) {
          // Past the disk bound: the newest is dropped (the spilled ones keep their order).
          this.#drop('overflow', record, 'the spill bound (maxSpillBytes) is reached');
          return false;
        }
        this.#writer.spills.push(record);
        this.#spilled++;
        this.#spilledBytes += record.bytes;
        this.#schedulePersist();
        return true;
      }
      if (!this.#makeRoom(record.bytes)) {
        this.#drop('overflow', record);
        return false;
      }
    }
    this.#queueOf(record.kind).push(record);
    this.#bytes += record.bytes;
    if (this.#durable) {
      this.#writer.puts.push(record);
      this.#schedulePersist();
    }
    this.#afterAdmit();
    return true;
  }

  /**
   * `scheduleSend()` after a record was queued, skipped when it could not change anything (the hot path
   * then reads no clock): the capability probe is still out (its end reschedules), every delivery slot is
   * busy (each finishing send reschedules), or a send timer is armed and the queue is below a batch (a
   * newer record never moves the due time earlier).
   */
  #afterAdmit(): void {
    if (this.#loaded && this.#flushesWaiting === 0 && this.#pace.state === 'open') {
      if (this.#bulkRoutesProbe !== undefined) return;
      if (this.#inFlightRequests > 0 && this.#inFlightRequests >= this.#limit()) return;
      if (this.#sendTimer !== undefined && this.#queued() < this.#option('batchSize')) return;
    }
    this.#scheduleSend();
  }

  /**
   * Adds one usage call to the open window's aggregate for its customer, meter, units, description and
   * metadata. The rule that keeps aggregation from billing twice: only calls whose key no retry can
   * reproduce come here (no key, or a key marked `localKey`); a call carrying a key derived from the
   * request (an `Idempotency-Key` header) is sent as its own record under that key, so the API applies a
   * retried request once whichever window, batch or process it lands in. An aggregate's own key is made
   * when its window is sealed and is persisted, with the removal of its members, in one store step
   * before its first send, so a replayed aggregate keeps its key and an unsealed member is never part of
   * a sent aggregate.
   */
  #aggregate(body: OutboxUsageBody): boolean {
    this.#window ??= new AggregationWindow(this.#clock, this.#windowMs ?? DEFAULTS.windowMs, () =>
      this.#seal(),
    );
    const window = this.#window;
    const member = this.#durable ? this.#makeRecord('usage', { ...body }) : undefined;
    if (member) member.aggregating = true;
    const joined = window.join(body, member?.id);
    if (joined) {
      this.#counters.aggregated++;
      // A member is stored only while its aggregate tracks members (it was opened with the store open).
      if (member && joined.memberIds) {
        this.#writer.puts.push(member);
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
    window.open(record, member?.id);
    if (member) {
      this.#writer.puts.push(member);
      this.#schedulePersist();
    }
    return true;
  }

  /** Seals the open window: each aggregate gets its key now, before its first send (spec §5.7). */
  #seal(): void {
    if (!this.#window || this.#window.size === 0) return;
    for (const { record, memberIds } of this.#window.take()) {
      record.body.idempotencyKey = this.#keyFor('mw');
      record.id = this.#nextId++;
      this.#usageQueue.push(record);
      if (this.#durable) {
        // The aggregate in, its members out: one store step, before the first send.
        this.#writer.puts.push(record);
        if (memberIds) for (const m of memberIds) this.#writer.deletes.push(m);
      }
    }
    this.#schedulePersist();
    this.#scheduleSend();
  }

  // ---------------------------------------------------------------- accounting

  #drop(reason: DropReason, record: OutboxRecord | undefined, error?: unknown): void {
    this.#drops[reason]++;
    this.#report.drop(reason, record, error);
    const hook = this.#options.onDrop;
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
    if (!this.#options.debug) return;
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
    const records = await this.#loadRecords(store);
    if (records !== undefined) await this.#adopt(store, records);
  }

  /**
   * Reads what the store holds, for the first load and for each retry after a failed open: undefined
   * when it cannot be read, after running on memory and arming the next retry (`#storeFailed`).
   */
  async #loadRecords(store: OutboxStore): Promise<OutboxRecord[] | undefined> {
    try {
      return await store.load();
    } catch (err) {
      this.#storeFailed(err);
      return undefined;
    }
  }

  /**
   * The durable store could not be opened (e.g. another live process holds its directory): run on
   * memory, say so at error level and in `stats().store`, and try again with backoff until it opens.
   */
  #storeFailed(err: unknown): void {
    this.#durable = false;
    this.#loaded = true;
    this.#writer.puts = [];
    this.#writer.deletes = [];
    const reason = err instanceof Error ? err.message : String(err);
    this.#setError('STORE_ERROR', err);
    const delay = this.#storeRetry.failed(
      reason,
      this.#option('backoffBaseMs'),
      this.#option('backoffCapMs'),
    );
    try {
      this.#logger?.error?.(
        `${PREFIX}cannot open the durable store; records are kept in memory only until it opens (retrying in ${delay} ms): ${reason}`,
        { error: reason },
      );
    } catch {
      // ignore logger failures
    }
    if (this.#closed) return;
    this.#storeRetry.arm(delay, () => this.#writer.after(() => this.#reopen()));
  }

  async #reopen(): Promise<void> {
    const store = this.#store;
    if (!store || this.#closed) return;
    const records = await this.#loadRecords(store);
    if (records === undefined) return;
    this.#durable = true;
    this.#storeRetry.opened();
    this.#logger?.info?.(`${PREFIX}durable store opened`);
    // What this process accepted meanwhile goes in with what an earlier process left.
    this.#writer.puts.push(...this.#usageQueue.toArray(), ...this.#runQueue.toArray());
    await this.#adopt(store, records);
  }

  /** Takes over the records a store held (new ids), persisting them and anything pending in one step. */
  async #adopt(store: OutboxStore, records: OutboxRecord[]): Promise<void> {
    try {
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
        this.#queueOf(r.kind).push(r);
        this.#bytes += r.bytes;
        this.#counters.replayed++;
      }
      this.#spilled += store.spilledCount?.() ?? 0;
      for (const body of again) {
        this.#counters.replayed++;
        this.#aggregate(body);
      }
      // Re-keyed ids (and re-opened aggregates): one atomic step replaces the old ids with the new ones.
      put.push(...this.#writer.puts);
      this.#writer.puts = [];
      if (put.length > 0 || del.length > 0) await store.append(put, del);
      this.#loaded = true;
      if (this.#usageQueue.length + this.#runQueue.length > 0) this.#scheduleSend();
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
      this.#writer.deletes.push(id);
      this.#schedulePersist();
    }
  }

  #schedulePersist(): void {
    this.#writer.schedule(this.#durable);
  }

  /** Reads spilled records back into the queues once there is room (`store-writer.ts`). */
  #refill(): void {
    const target = this.#spillTarget;
    if (this.#writer.readingBack || this.#spilled === 0 || !target) return;
    if (this.#writer.spills.length > 0) {
      // Still being written: refill after the write lands.
      this.#writer.chain.then(() => this.#refill());
      return;
    }
    const room = Math.floor(this.#maxRecords / 2) - this.#heldRecords();
    if (room <= 0) return;
    this.#writer.readBack(
      target,
      () => Math.min(room, this.#spilled),
      (records) => {
        this.#spilled -= records.length;
        for (const r of records) {
          this.#queueOf(r.kind).push(r);
          this.#bytes += r.bytes;
          this.#spilledBytes -= r.bytes;
          if (this.#durable) this.#writer.puts.push(r);
        }
        if (records.length === 0 || this.#spilled === 0) {
          this.#spilled = 0;
          this.#spilledBytes = 0;
        }
        this.#schedulePersist();
      },
      (err) => this.#warnOnce('store-unspill', 'reading spilled records failed', { error: String(err) }),
      () => this.#scheduleSend(),
    );
  }

  // ---------------------------------------------------------------- sending

  #getTransport(): DeliveryTransport | undefined {
    if (this.#transport || this.#transportFailed) return this.#transport;
    const factory = this.#options.clientFactory;
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
    return this.#usageQueue.length + this.#runQueue.length;
  }

  /** The queue of a kind. */
  #queueOf(kind: Kind): Deque<OutboxRecord> {
    return kind === 'usage' ? this.#usageQueue : this.#runQueue;
  }

  /** The kind of the oldest queued record (`run` when both queues are empty). */
  #oldestKind(): Kind {
    const u = this.#usageQueue.peek();
    const r = this.#runQueue.peek();
    return u && (!r || u.id < r.id) ? 'usage' : 'run';
  }

  /** Drops every queued record (not the in-flight ones) for `reason`. */
  #dropQueued(reason: DropReason, error?: string): void {
    for (const r of [...this.#usageQueue.drain(), ...this.#runQueue.drain()]) {
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
    if (this.#flushesWaiting > 0 || n >= this.#option('batchSize')) at = now;
    else {
      const u = this.#usageQueue.peek();
      const r = this.#runQueue.peek();
      const oldest = Math.min(
        u?.enqueuedAt ?? Number.POSITIVE_INFINITY,
        r?.enqueuedAt ?? Number.POSITIVE_INFINITY,
      );
      at = oldest + this.#option('flushIntervalMs');
    }
    at = Math.max(at, this.#pace.notBefore);
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
    unrefTimer(this.#sendTimer);
  }

  #limit(): number {
    if (this.#pace.state !== 'open') return 1;
    const max = Math.max(1, this.#option('maxInFlight'));
    // A bulk request carries hundreds of records: fewer of them at once keep a small server responsive.
    return this.#shape.useBulk(this.#oldestKind())
      ? Math.min(max, Math.max(1, this.#option('maxBulkInFlight')))
      : max;
  }

  #pump(): void {
    if (this.#clock.now() < this.#pace.notBefore) {
      this.#scheduleSend();
      return;
    }
    if (this.#pace.state === 'paused') this.#pace.state = 'probing';
    const transport = this.#getTransport();
    if (!transport) {
      this.#dropQueued('no-client');
      this.#checkIdle();
      return;
    }
    if (this.#shape.needsDiscovery()) {
      if (!this.#bulkRoutesProbe) this.#bulkRoutesProbe = this.#discover(transport);
      return;
    }
    while (this.#inFlightRequests < this.#limit() && this.#queued() > 0) {
      const batch = this.#take();
      if (batch.length === 0) continue;
      this.#inFlightRequests++;
      this.#inFlightRecords += batch.length;
      this.#inFlightBatches.add(batch);
      const p = this.#send(transport, batch).finally(() => {
        this.#inFlightRequests--;
        this.#inFlightRecords -= batch.length;
        this.#inFlightBatches.delete(batch);
        this.#settleDelivered();
        this.#scheduleSend();
      });
      if (this.#options.waitUntil) {
        try {
          this.#options.waitUntil(p);
        } catch {
          // ignore
        }
      }
      if (this.#pace.state === 'probing') break;
    }
    if (this.#queued() < this.#maxRecords / 2 && this.#spilled > 0) this.#refill();
  }

  async #discover(transport: DeliveryTransport): Promise<void> {
    const r = await transport.health({ timeoutMs: this.#option('timeoutMs') });
    this.#counters.requests++;
    if (isTransient(r) && r.status !== 503) {
      this.#failure(r);
    } else {
      this.#shape.discovered(r.body);
      if (r.status === 503) this.#failure(r);
      this.#debug('capabilities', { ...this.#shape.routes });
    }
    this.#bulkRoutesProbe = undefined;
    this.#scheduleSend();
  }

  /** Takes the next batch: one kind, the oldest first, bounded by count and bytes. */
  #take(): OutboxRecord[] {
    const kind = this.#oldestKind();
    const q = this.#queueOf(kind);
    const max = this.#shape.maxItems(kind, this.#pace.state === 'open');
    const out: OutboxRecord[] = [];
    let bytes = 0;
    const now = this.#clock.now();
    const maxAge = this.#option('maxAgeMs');
    while (out.length < max) {
      const next = q.peek();
      if (!next) break;
      if (out.length > 0 && bytes + next.bytes > this.#shape.maxBytes) break;
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

  /** Sends one batch (`delivery.ts`) and applies what its answer means. */
  async #send(transport: DeliveryTransport, batch: OutboxRecord[]): Promise<void> {
    if (batch.length === 0) return;
    for (const r of batch) r.attempts++;
    this.#counters.requests++;
    const outcome = await sendBatch(transport, batch, {
      shape: this.#shape,
      open: this.#pace.state === 'open',
      timeoutMs: this.#option('timeoutMs'),
      debug: (message, context) => this.#debug(message, context),
    });
    switch (outcome.kind) {
      case 'transient':
        this.#requeue(outcome.records);
        this.#failure(outcome.res);
        return;
      case 'resend':
        if (outcome.warn !== undefined) this.#warnOnce('bulk-refused', outcome.warn);
        this.#requeue(outcome.records, false);
        return;
      case 'answered':
        // As before the split: a per-item answer marks delivery working before its verdict is applied.
        if (outcome.perItem) this.#success();
        for (const [record, res] of outcome.settled) this.#settle(record, res);
        if (outcome.retry.length > 0) {
          this.#requeue(outcome.retry);
          if (outcome.res) this.#failure(outcome.res);
        } else if (!outcome.perItem) {
          this.#success();
        }
        return;
    }
  }

  /** Final verdict on one record that got a non-transient answer. */
  #settle(record: OutboxRecord, res: DeliveryResponse): void {
    this.#forget(record.id);
    const verdict = verdictOf(record, res);
    if (verdict !== 'rejected') {
      this.#counters.sent++;
      if (verdict === 'duplicate') this.#counters.deduplicated++;
      return;
    }
    const { status } = res;
    const code = codeOf(res);
    this.#counters.deadLettered++;
    const letter: DeadLetter = {
      record,
      status,
      code,
      error: res.body ?? res.message,
      at: this.#clock.now(),
    };
    this.#deadLetterList.push(letter);
    const limit = this.#option('deadLetterLimit');
    if (this.#deadLetterList.length > limit)
      this.#deadLetterList.splice(0, this.#deadLetterList.length - limit);
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
    this.#usageQueue.unshiftAll(usage);
    this.#runQueue.unshiftAll(runs);
    for (const r of records) this.#bytes += r.bytes;
  }

  #success(): void {
    if (this.#pace.succeeded()) this.#debug('resumed');
  }

  #failure(res: DeliveryResponse): void {
    const now = this.#clock.now();
    this.#lastError = {
      code: codeOf(res) ?? (res.status === 0 ? 'NETWORK_ERROR' : 'HTTP_ERROR'),
      status: res.status,
      message: res.message ?? `HTTP ${res.status}`,
      at: now,
    };
    const delay = this.#pace.delayAfterFailure(res, {
      baseMs: this.#option('backoffBaseMs'),
      capMs: this.#option('backoffCapMs'),
      retryAfterCapMs: this.#option('retryAfterCapMs'),
      random: this.#random,
    });
    if (this.#pace.hold(now, delay, this.#option('pauseAfter'))) {
      this.#warnOnce('paused', 'delivery paused after repeated failures', { code: this.#lastError.code });
    }
    this.#debug('retry scheduled', {
      delayMs: delay,
      failures: this.#pace.failuresInARow,
      code: this.#lastError.code,
      status: res.status,
    });
  }

  // ---------------------------------------------------------------- flush / close

  #isIdle(): boolean {
    return (
      this.#queued() === 0 &&
      this.#inFlightRequests === 0 &&
      this.#openAggregates() === 0 &&
      this.#spilled === 0 &&
      this.#writer.spills.length === 0
    );
  }

  /** Reads back every spilled record of a non-durable target and drops it (each counted and reported). */
  async #dropSpilled(target: SpillStore, reason: DropReason): Promise<void> {
    try {
      for (;;) {
        const records = await target.unspill(1_000);
        if (records.length === 0) break;
        for (const r of records) this.#drop(reason, r, 'not delivered before close() timed out');
      }
    } catch (err) {
      this.#warnOnce('store-unspill', 'reading spilled records failed', { error: String(err) });
    }
    this.#spilled = 0;
    this.#spilledBytes = 0;
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    this.#deliveredWaiters.releaseAll();
    if (this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #remaining(): number {
    return this.#queued() + this.#inFlightRecords + this.#openAggregates() + this.#spilled;
  }

  async flush(timeoutMs = 10_000, keepAlive = false): Promise<FlushResult> {
    await this.#loading;
    this.#seal();
    if (this.#isIdle()) {
      await this.#writer.chain;
      return { delivered: true, remaining: 0 };
    }
    this.#flushesWaiting++;
    let timer: unknown;
    try {
      await new Promise<void>((resolve) => {
        this.#idleWaiters.push(resolve);
        timer = this.#clock.setTimeout(resolve, timeoutMs);
        if (!keepAlive) unrefTimer(timer);
        this.#scheduleSend();
      });
    } finally {
      this.#flushesWaiting--;
      this.#clock.clearTimeout(timer);
    }
    await this.#writer.chain;
    const remaining = this.#remaining();
    return { delivered: remaining === 0, remaining };
  }

  waitUntil(
    register: (promise: Promise<unknown>) => void,
    timeoutMs = 10_000,
    options?: { flush?: boolean | undefined },
  ): void {
    try {
      register(options?.flush === false ? this.delivered(timeoutMs) : this.flush(timeoutMs));
    } catch {
      // ignore platform errors
    }
  }

  delivered(timeoutMs = 10_000): Promise<void> {
    if (!this.#loaded) return this.#loading.then(() => this.delivered(timeoutMs));
    // Closed: nothing will be sent any more (what a durable store kept goes out after the restart).
    if (this.#closed || this.#isIdle()) return Promise.resolve();
    return this.#deliveredWaiters.add(this.#nextId - 1, timeoutMs);
  }

  /**
   * Resolves the `delivered()` promises whose records have all left: every record still held (queued or
   * in flight) has a later id. Ids follow acceptance, but aggregates get theirs when sealed and spilled
   * records theirs when read back, so with either in play only an idle outbox (or the timeout) resolves.
   */
  #settleDelivered(): void {
    const waiters = this.#deliveredWaiters;
    if (waiters.size === 0) return;
    // An idle outbox releases every waiter in `#checkIdle()`, which the send's `#scheduleSend()` reaches.
    if (this.#window !== undefined || this.#spilled > 0 || this.#writer.spills.length > 0) return;
    let lowest = Number.POSITIVE_INFINITY;
    const visit = (r: OutboxRecord): void => {
      if (r.id < lowest) lowest = r.id;
    };
    this.#usageQueue.forEach(visit);
    this.#runQueue.forEach(visit);
    for (const batch of this.#inFlightBatches) for (const r of batch) visit(r);
    waiters.settle(lowest);
  }

  async close(timeoutMs = 10_000): Promise<FlushResult> {
    const result = await this.flush(timeoutMs, true);
    this.#closed = true;
    if (this.#sendTimer !== undefined) this.#clock.clearTimeout(this.#sendTimer);
    this.#window?.stop();
    this.#sendTimer = undefined;
    this.#storeRetry.cancel();
    if (!result.delivered && !this.#durable) {
      this.#dropQueued('closed', 'not delivered before close() timed out');
    }
    await this.#writer.chain;
    const target = this.#spillTarget;
    if (target && !target.durable) {
      if (this.#spilled > 0) await this.#dropSpilled(target, 'closed');
      await target.close?.();
    }
    unregisterForShutdown(this);
    this.#deliveredWaiters.releaseAll();
    // Every waiting failure line now, the drops of this close() included: the process may end next.
    this.#report.emit();
    await this.#store?.close?.();
    return result;
  }

  #hook(): void {
    this.#hooked = true;
    if (this.#options.shutdownHooks === false) return;
    registerForShutdown(this, this.#option('shutdownTimeoutMs'));
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
      queued: this.#queued() + this.#openAggregates(),
      spilled: this.#spilled,
      store:
        this.#storeRetry.problem === undefined
          ? { durable: this.#durable }
          : { durable: false, reason: this.#storeRetry.problem },
      bytes: this.#bytes,
      state: this.#pace.state,
      bulk: this.#shape.routes ? { ...this.#shape.routes } : undefined,
      lastError: this.#lastError,
      problems: this.#report.counts(),
    };
  }

  deadLetters(): readonly DeadLetter[] {
    return this.#deadLetterList;
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
