/**
 * Promises of `outbox.delivered()`: each waits until every record accepted before it was made has left
 * the outbox (delivered, refused for good, or dropped and counted), or until its timeout. They never start
 * a send: the records go out on the outbox's own schedule. Internal to the outbox.
 */

import { type Clock, unrefTimer } from '../clock';

interface Waiter {
  /** The highest record id accepted when the waiter was made. */
  readonly upTo: number;
  readonly deadline: number;
  readonly resolve: () => void;
}

export class DeliveredWaiters {
  /** In the order they were made: ascending `upTo`, and (one timeout each) nearly ascending deadlines. */
  #waiters: Waiter[] = [];
  #timer: unknown;
  #timerAt = Number.POSITIVE_INFINITY;
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get size(): number {
    return this.#waiters.length;
  }

  add(upTo: number, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const deadline = this.#clock.now() + timeoutMs;
      this.#waiters.push({ upTo, deadline, resolve });
      if (deadline < this.#timerAt) this.#arm(deadline);
    });
  }

  /** Resolves the waiters whose records have all left: every record still held has an id above theirs. */
  settle(lowestHeldId: number): void {
    let n = 0;
    while (n < this.#waiters.length && (this.#waiters[n] as Waiter).upTo < lowestHeldId) n++;
    if (n > 0) this.#release(this.#waiters.splice(0, n));
  }

  /** Resolves every waiter (the outbox is idle, or closed). */
  releaseAll(): void {
    if (this.#waiters.length > 0) this.#release(this.#waiters.splice(0));
  }

  #release(done: Waiter[]): void {
    for (const w of done) w.resolve();
    if (this.#waiters.length === 0) this.#disarm();
  }

  #arm(at: number): void {
    this.#disarm();
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#expire(), Math.max(0, at - this.#clock.now()));
    unrefTimer(this.#timer);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  /** Resolves the waiters whose time is up, then waits for the next deadline. */
  #expire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    const left: Waiter[] = [];
    const due: Waiter[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const w of this.#waiters) {
      if (w.deadline <= now) due.push(w);
      else {
        left.push(w);
        if (w.deadline < next) next = w.deadline;
      }
    }
    this.#waiters = left;
    for (const w of due) w.resolve();
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
  }
}
