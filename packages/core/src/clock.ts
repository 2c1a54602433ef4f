/** Time source and timers, injectable so tests can drive retries and timeouts with a fake clock. */

/**
 * What the client needs from time. The default uses `Date.now`, `setTimeout` and `clearTimeout`.
 *
 * @example
 * ```ts
 * const clock: Clock = { now: () => 0, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout };
 * ```
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Schedules `fn` after `ms`; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a handle from `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/**
 * The real clock.
 *
 * @example
 * ```ts
 * systemClock.now(); // Date.now()
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const h = setTimeout(fn, ms) as unknown as { unref?: () => void };
    return h;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Lets a timer handle not hold the process open, where the runtime supports it (Node's `unref`); a no-op
 * elsewhere (a fake clock's handle, Workers).
 *
 * @example
 * ```ts
 * unrefTimer(clock.setTimeout(tick, 1_000));
 * ```
 */
export function unrefTimer(handle: unknown): void {
  const h = handle as { unref?: () => void } | null | undefined;
  if (h && typeof h.unref === 'function') h.unref();
}

/**
 * Sleeps on a clock; rejects with the signal's reason if it aborts first.
 *
 * @example
 * ```ts
 * await sleep(systemClock, 250);
 * ```
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
