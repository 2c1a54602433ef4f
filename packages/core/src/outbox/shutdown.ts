/**
 * Flush on SIGTERM, SIGINT and `beforeExit` where a Node-like `process` exists. Uses the `process`
 * global only (no `node:` import), and only once an outbox has accepted its first record.
 */

interface Flushable {
  shutdownFlush(timeoutMs: number): Promise<unknown>;
  stats(): { queued: number; inFlight: number };
}

interface ProcessLike {
  pid: number;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
  listenerCount(event: string): number;
  kill(pid: number, signal: string): unknown;
}

interface Registry {
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

function registry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  let r = g[KEY];
  if (!r) {
    r = { outboxes: new Map(), installed: false, running: undefined, exitFlushed: false };
    Object.defineProperty(globalThis, KEY, { value: r, configurable: true, writable: true });
  }
  return r;
}

function flushAll(r: Registry): Promise<void> {
  r.running ??= Promise.all([...r.outboxes].map(([o, t]) => o.shutdownFlush(t).catch(() => undefined))).then(
    () => {
      r.running = undefined;
    },
  );
  return r.running;
}

function install(p: ProcessLike, r: Registry): void {
  r.installed = true;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const onSignal = (): void => {
      p.removeListener(signal, onSignal);
      void flushAll(r).then(() => {
        // Someone else handles the signal (e.g. a graceful server close): let them decide when to exit.
        if (p.listenerCount(signal) === 0) p.kill(p.pid, signal);
      });
    };
    p.on(signal, onSignal);
  }
  p.on('beforeExit', () => {
    if (r.running || r.exitFlushed) return;
    let pending = 0;
    for (const o of r.outboxes.keys()) {
      const s = o.stats();
      pending += s.queued + s.inFlight;
    }
    if (pending === 0) return;
    // One attempt per exit: a flush that times out must not keep re-arming `beforeExit` forever. After a
    // complete flush the process may go on (new work was scheduled), so a later exit flushes again.
    r.exitFlushed = true;
    void flushAll(r).then(() => {
      let left = 0;
      for (const o of r.outboxes.keys()) {
        const s = o.stats();
        left += s.queued + s.inFlight;
      }
      if (left === 0) r.exitFlushed = false;
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
