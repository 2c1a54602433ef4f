/**
 * Flush on SIGTERM, SIGINT and `beforeExit` where a Node-like `process` exists. Uses the `process`
 * global only (no `node:` import), and only once an outbox has accepted its first record, or a request
 * meter has begun its first request (`registerMeterForShutdown`): a signal that comes while a request is
 * in flight, before anything was queued, then waits for the request to end (bounded by the shutdown
 * timeout) and delivers its records, where without a listener the process would have died with them.
 *
 * Re-raising rule: after the flush, core re-raises the signal (so the default action, exit, happens)
 * only when the app had no listener of its own for that signal at the moment the signal arrived and has
 * not added one since. An app that handles the signal, even with `process.once` (whose listener is gone
 * by the time the flush ends), decides itself when to exit. Core's listener is prepended so it sees the
 * app's listeners before they run; a `once` listener the app prepended after core is caught by the
 * `removeListener` event it fires during the same signal dispatch.
 */

interface Flushable {
  /** `signal`: the flush of a signal (requests still running may end); else the one of `beforeExit`. */
  shutdownFlush(timeoutMs: number, signal?: boolean): Promise<unknown>;
  stats(): { queued: number; inFlight: number };
}

interface ProcessLike {
  pid: number;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  prependListener?(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
  listenerCount(event: string): number;
  kill(pid: number, signal: string): unknown;
}

/**
 * @internal The outboxes flushed on shutdown, shared by every copy of the package (one set of process
 * listeners).
 *
 * @example
 * ```ts
 * const r: Registry = createRegistry();
 * ```
 */
export interface Registry {
  outboxes: Map<Flushable, number>;
  installed: boolean;
  running: Promise<void> | undefined;
  exitFlushed: boolean;
}

const KEY = Symbol.for('drip.outbox.shutdown');

function proc(): ProcessLike | undefined {
  const p = (globalThis as { process?: Partial<ProcessLike> }).process;
  if (
    !p ||
    typeof p.on !== 'function' ||
    typeof p.kill !== 'function' ||
    typeof p.listenerCount !== 'function'
  ) {
    return undefined;
  }
  return p as ProcessLike;
}

/**
 * @internal A fresh, empty registry (tests install hooks on a fake process with it).
 *
 * @example
 * ```ts
 * install(fakeProcess, createRegistry());
 * ```
 */
export function createRegistry(): Registry {
  return { outboxes: new Map(), installed: false, running: undefined, exitFlushed: false };
}

function registry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  let r = g[KEY];
  if (!r) {
    r = createRegistry();
    Object.defineProperty(globalThis, KEY, { value: r, configurable: true, writable: true });
  }
  return r;
}

function flushAll(r: Registry, signal: boolean): Promise<void> {
  r.running ??= Promise.all(
    [...r.outboxes].map(([o, t]) => o.shutdownFlush(t, signal).catch(() => undefined)),
  ).then(() => {
    r.running = undefined;
  });
  return r.running;
}

/** Records queued or in flight in the outboxes of `r`. */
function pending(r: Registry): number {
  let n = 0;
  for (const o of r.outboxes.keys()) {
    const s = o.stats();
    n += s.queued + s.inFlight;
  }
  return n;
}

/**
 * @internal Installs the SIGTERM/SIGINT/beforeExit listeners on `p` for the outboxes of `r` (see the
 * re-raising rule at the top of this file).
 *
 * @example
 * ```ts
 * install(process, createRegistry());
 * ```
 */
export function install(p: ProcessLike, r: Registry): void {
  r.installed = true;
  // Signals whose listener was removed in the current dispatch (a `once` listener that already ran).
  const removedNow = new Set<string>();
  p.on('removeListener', (...args: unknown[]) => {
    const event = args[0];
    if ((event === 'SIGTERM' || event === 'SIGINT') && !removedNow.has(event)) {
      removedNow.add(event);
      queueMicrotask(() => removedNow.delete(event));
    }
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const onSignal = (): void => {
      // Before removing ours: any other listener now, or one that ran and went away in this dispatch,
      // means the app handles the signal itself.
      const appHandles = p.listenerCount(signal) > 1 || removedNow.has(signal);
      p.removeListener(signal, onSignal);
      void flushAll(r, true).then(() => {
        if (!appHandles && p.listenerCount(signal) === 0) p.kill(p.pid, signal);
      });
    };
    if (typeof p.prependListener === 'function') p.prependListener(signal, onSignal);
    else p.on(signal, onSignal);
  }
  p.on('beforeExit', () => {
    if (r.running || r.exitFlushed || pending(r) === 0) return;
    // One attempt per exit: a flush that times out must not keep re-arming `beforeExit` forever. After a
    // complete flush the process may go on (new work was scheduled), so a later exit flushes again.
    r.exitFlushed = true;
    void flushAll(r, false).then(() => {
      if (pending(r) === 0) r.exitFlushed = false;
    });
  });
}

/** Registers an outbox for the shutdown flush (installs the process listeners on first use). */
export function registerForShutdown(outbox: Flushable, timeoutMs: number): void {
  const p = proc();
  if (!p) return;
  const r = registry();
  r.outboxes.set(outbox, timeoutMs);
  if (!r.installed) install(p, r);
}

/** Removes an outbox from the shutdown flush (after `close()`). */
export function unregisterForShutdown(outbox: Flushable): void {
  registry().outboxes.delete(outbox);
}

/**
 * @internal What a request meter registers for the shutdown flush (see the top of this file).
 *
 * @example
 * ```ts
 * const hook = meterShutdownHook(() => open, () => outbox, 5_000);
 * hook.register(); // at the first request
 * ```
 */
export interface MeterShutdownHook {
  /** Registers the meter (installs the process listeners on first use); idempotent. */
  register(): void;
  /** Removes it (after the meter's `close()`). */
  unregister(): void;
}

/**
 * @internal The shutdown hook of a request meter: on a signal, waits (polling, with timers that keep the
 * process alive) until `open()` requests have ended or `timeoutMs` passed, then flushes the meter's
 * outbox. On `beforeExit` nothing can still end, so it flushes at once.
 *
 * @example
 * ```ts
 * const hook = meterShutdownHook(() => state.open, () => outbox, 5_000);
 * ```
 */
export function meterShutdownHook(
  open: () => number,
  outbox: () => (Partial<Flushable> & { flush(timeoutMs?: number): Promise<unknown> }) | undefined,
  timeoutMs: number,
): MeterShutdownHook {
  const empty = { queued: 0, inFlight: 0 };
  const flushable: Flushable = {
    stats: () => outbox()?.stats?.() ?? empty,
    async shutdownFlush(t: number, signal?: boolean): Promise<unknown> {
      const until = Date.now() + t;
      while (signal === true && open() > 0 && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const o = outbox();
      if (!o) return undefined;
      // The records of requests that ended just now still get at least half the time to go out.
      const left = Math.max(until - Date.now(), t / 2);
      return typeof o.shutdownFlush === 'function' ? o.shutdownFlush(left) : o.flush(left);
    },
  };
  let registered = false;
  return {
    register() {
      if (registered) return;
      registered = true;
      registerForShutdown(flushable, timeoutMs);
    },
    unregister() {
      unregisterForShutdown(flushable);
    },
  };
}
