/**
 * The open aggregation window of the outbox: usage summed per group (customer, meter, units, description,
 * metadata) until the window is sealed. Which usage may join it, and how a sealed aggregate is keyed and
 * stored, is the outbox's rule (see `#aggregate` in `outbox.ts`); this holds the open aggregates and the
 * window's timer.
 */

import { type Clock, unrefTimer } from '../clock';
import { aggregateGroupOf, round6 } from './admission';
import type { OutboxRecord, OutboxUsageBody } from './types';

/** One open aggregate: its record (key made at sealing) and the ids of its stored members (durable store). */
export interface OpenAggregate {
  record: OutboxRecord & { kind: 'usage' };
  memberIds: number[] | undefined;
}

/** The aggregates of the open window, and the timer that seals it. */
export class AggregationWindow {
  readonly #open = new Map<string, OpenAggregate>();
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #onDue: () => void;
  #timer: unknown;

  constructor(clock: Clock, windowMs: number, onDue: () => void) {
    this.#clock = clock;
    this.#windowMs = windowMs;
    this.#onDue = onDue;
  }

  /** Open aggregates (each one record waiting). */
  get size(): number {
    return this.#open.size;
  }

  /** Adds `body` to the open aggregate of its group; `undefined` when the group has none yet. */
  join(body: OutboxUsageBody, memberId: number | undefined): OpenAggregate | undefined {
    const open = this.#open.get(aggregateGroupOf(body));
    if (!open) return undefined;
    open.record.body.quantity = round6(open.record.body.quantity + body.quantity);
    if (memberId !== undefined) open.memberIds?.push(memberId);
    return open;
  }

  /** Opens the aggregate of `record`'s group and arms the window's timer. */
  open(record: OutboxRecord & { kind: 'usage' }, memberId: number | undefined): void {
    this.#open.set(aggregateGroupOf(record.body), {
      record,
      memberIds: memberId === undefined ? undefined : [memberId],
    });
    if (this.#timer === undefined) {
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        this.#onDue();
      }, this.#windowMs);
      unrefTimer(this.#timer);
    }
  }

  /** Closes the window: returns its aggregates (in opening order) and forgets them. */
  take(): OpenAggregate[] {
    this.stop();
    const all = [...this.#open.values()];
    this.#open.clear();
    return all;
  }

  /** Disarms the timer (the aggregates stay). */
  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
