/**
 * Store writing of the outbox: puts and deletes for the durable store and records to spill, gathered
 * during one synchronous stretch of the app's code and written together after it, in one chain of store
 * steps (so a write, a spill read-back and a store takeover never interleave).
 */

import { type Clock, unrefTimer } from '../clock';
import { backoffCeiling } from '../retry';
import type { OutboxRecord, OutboxStore, SpillStore } from './types';

/**
 * Where a `StoreWriter` writes and whom it tells about failures.
 *
 * @example
 * ```ts
 * const sink: StoreSink = { store: () => undefined, spillTarget: () => undefined, spillFailed: () => {}, failed: () => {} };
 * ```
 */
export interface StoreSink {
  /** The durable store while it is open, else `undefined` (read at each write). */
  store(): OutboxStore | undefined;
  /** Where overflow goes, if anywhere. */
  spillTarget(): SpillStore | undefined;
  /** Spilling these records failed: they are lost (the outbox counts and reports them). */
  spillFailed(records: OutboxRecord[], err: unknown): void;
  /** A store step failed. */
  failed(err: unknown): void;
}

/**
 * Gathers puts, deletes and spills and writes them in one chained step per microtask.
 *
 * @example
 * ```ts
 * const writer = new StoreWriter(sink);
 * writer.puts.push(record);
 * writer.schedule(true); // written after the caller's synchronous code
 * await writer.chain;
 * ```
 */
export class StoreWriter {
  /** Records to put into the durable store. */
  puts: OutboxRecord[] = [];
  /** Record ids to delete from the durable store. */
  deletes: number[] = [];
  /** Records waiting to be spilled. */
  spills: OutboxRecord[] = [];
  /** The chain of store steps; each step starts after the previous one ended. */
  chain: Promise<void> = Promise.resolve();
  /** A spill read-back is under way (one at a time). */
  readingBack = false;
  #scheduled = false;
  readonly #sink: StoreSink;

  constructor(sink: StoreSink) {
    this.#sink = sink;
  }

  /** Adds a step to the chain. */
  after(step: () => Promise<void> | void): void {
    this.chain = this.chain.then(step);
  }

  /** Writes what is pending after the caller's synchronous code (nothing to do without a target). */
  schedule(durable: boolean): void {
    if (this.#scheduled || (!durable && this.spills.length === 0)) return;
    this.#scheduled = true;
    // After the caller's synchronous code, never inside it.
    queueMicrotask(() => this.#write());
  }

  #write(): void {
    this.#scheduled = false;
    const store = this.#sink.store();
    const target = this.#sink.spillTarget();
    const put = this.puts;
    const del = this.deletes;
    const spill = this.spills;
    this.puts = [];
    this.deletes = [];
    this.spills = [];
    if (put.length === 0 && del.length === 0 && spill.length === 0) return;
    this.chain = this.chain
      .then(async () => {
        if (spill.length > 0 && target) {
          try {
            await target.spill(spill);
          } catch (err) {
            // Nowhere to put them (e.g. a file system that refuses writes): lost, so counted and reported.
            this.#sink.spillFailed(spill, err);
          }
        }
        if (store && (put.length > 0 || del.length > 0)) await store.append(put, del);
      })
      .catch((err: unknown) => this.#sink.failed(err));
  }

  /**
   * Reads up to `count()` spilled records back from `target` as the next store step (after every write
   * before it); `take` gets them, `failed` a read error, and `done` runs either way.
   */
  readBack(
    target: SpillStore,
    count: () => number,
    take: (records: OutboxRecord[]) => void,
    failed: (err: unknown) => void,
    done: () => void,
  ): void {
    this.readingBack = true;
    const unspill = target.unspill.bind(target);
    this.chain = this.chain
      .then(async () => take(await unspill(count())))
      .catch(failed)
      .finally(() => {
        this.readingBack = false;
        done();
      });
  }
}

/**
 * Takeover of a durable store that could not be opened (e.g. another live process holds its directory):
 * why it is not in use, and the next attempt to open it, with backoff, until one succeeds.
 *
 * @example
 * ```ts
 * const retry = new StoreRetry(systemClock);
 * const delay = retry.failed('in use', 100, 30_000); // 100 ms, then doubling up to 30 s
 * retry.arm(delay, () => reopen());
 * ```
 */
export class StoreRetry {
  /** Why the store is not in use, or `undefined` while it is (or was never tried). */
  problem: string | undefined;
  #attempts = 0;
  #timer: unknown;
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Opening failed for `reason`: the delay before the next attempt. */
  failed(reason: string, baseMs: number, capMs: number): number {
    this.problem = reason;
    this.#attempts++;
    return backoffCeiling(this.#attempts, baseMs, capMs);
  }

  /** Runs `attempt` after `delay` (a timer that does not hold the process open). */
  arm(delay: number, attempt: () => void): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      attempt();
    }, delay);
    unrefTimer(this.#timer);
  }

  /** The store opened. */
  opened(): void {
    this.problem = undefined;
    this.#attempts = 0;
  }

  /** No further attempt (at close). */
  cancel(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
