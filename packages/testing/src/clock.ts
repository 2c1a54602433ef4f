/**
 * A clock that the test controls. Structurally compatible with the `clock` option of `@drip/core`'s
 * outbox (`now`, `setTimeout`, `clearTimeout`), so timers scheduled by the code under test fire only when
 * the test calls `advance()`.
 *
 * @example
 * ```ts
 * import { createFakeClock } from '@drip/testing';
 * const clock = createFakeClock(Date.UTC(2026, 0, 1));
 * clock.setTimeout(() => console.log('fired'), 1000);
 * await clock.advance(1000); // logs "fired"
 * ```
 */
export interface FakeClock {
  /** Current time in epoch milliseconds. */
  now(): number;
  /** Schedules `fn` after `ms` of fake time. Returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): FakeTimer;
  /** Cancels a timer scheduled with `setTimeout`; unknown handles are ignored. */
  clearTimeout(handle: unknown): void;
  /** Resolves after `ms` of fake time. */
  sleep(ms: number): Promise<void>;
  /**
   * Moves time forward by `ms`, firing due timers in order. Between timers it yields to the microtask
   * queue so that promise chains started by a timer can schedule the next one.
   */
  advance(ms: number): Promise<void>;
  /** Sets the time without firing timers (use `advance` to move forward with timers). */
  set(epochMs: number): void;
  /** Number of timers not yet fired. */
  pending(): number;
}

/**
 * A timer handle of the fake clock. `unref()` exists so code written for Node timers works unchanged.
 *
 * @example
 * ```ts
 * const t = createFakeClock().setTimeout(() => {}, 10);
 * t.unref();
 * ```
 */
export interface FakeTimer {
  readonly id: number;
  unref(): FakeTimer;
  ref(): FakeTimer;
}

interface Scheduled {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

async function yieldMicrotasks(rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/**
 * Creates a fake clock starting at `startMs` (default `Date.UTC(2026, 0, 1)`).
 *
 * @example
 * ```ts
 * import { createFakeClock, createTestDrip } from '@drip/testing';
 * const clock = createFakeClock();
 * const api = createTestDrip({ clock });
 * await clock.advance(60_000);
 * ```
 */
export function createFakeClock(startMs: number = Date.UTC(2026, 0, 1)): FakeClock {
  let current = startMs;
  let nextId = 1;
  let seq = 0;
  const timers = new Map<number, Scheduled>();

  const clock: FakeClock = {
    now: () => current,
    setTimeout(fn, ms) {
      const id = nextId++;
      const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
      timers.set(id, { id, at: current + delay, seq: seq++, fn });
      const handle: FakeTimer = {
        id,
        unref: () => handle,
        ref: () => handle,
      };
      return handle;
    },
    clearTimeout(handle) {
      if (handle && typeof handle === 'object' && 'id' in handle) {
        timers.delete((handle as FakeTimer).id);
      }
    },
    sleep(ms) {
      return new Promise<void>((resolve) => {
        clock.setTimeout(resolve, ms);
      });
    },
    async advance(ms) {
      const target = current + Math.max(0, ms);
      // Bounded: a timer that keeps re-arming itself at zero delay cannot spin forever.
      for (let guard = 0; guard < 100_000; guard++) {
        await yieldMicrotasks(20);
        let due: Scheduled | undefined;
        for (const t of timers.values()) {
          if (t.at <= target && (!due || t.at < due.at || (t.at === due.at && t.seq < due.seq))) due = t;
        }
        if (!due) break;
        timers.delete(due.id);
        current = Math.max(current, due.at);
        due.fn();
      }
      current = target;
      await yieldMicrotasks(20);
    },
    set(epochMs) {
      current = epochMs;
    },
    pending: () => timers.size,
  };
  return clock;
}
