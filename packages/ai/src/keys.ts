/**
 * Call positions of model calls. The keys built from them live in `@drip/core`'s key module
 * (`modelCallKey`), with every other idempotency key of the SDK.
 */

interface Positions {
  byRequest: WeakMap<object, { n: number }>;
  byRun: Map<string, number>;
}

const POSITIONS = Symbol.for('drip.ai.positions');
const MAX_RUNS = 10_000;
let positions: Positions | undefined;

/**
 * The process-wide position counters, shared by every wrapper and every copy of this package: two
 * metered models called in one request must count one sequence, or their keys would collide.
 */
function shared(): Positions {
  if (positions !== undefined) return positions;
  const g = globalThis as unknown as Record<symbol, Positions | undefined>;
  let p = g[POSITIONS];
  if (!p) {
    p = { byRequest: new WeakMap(), byRun: new Map() };
    Object.defineProperty(globalThis, POSITIONS, { value: p, configurable: true, writable: true });
  }
  positions = p;
  return p;
}

/**
 * The next call position within a request (its context object) or a named run, 0 first. Runs are
 * counted for the life of the process, the most recent 10 000 of them.
 *
 * @example
 * ```ts
 * nextPosition('job-7'); // 0, then 1, ...
 * ```
 */
export function nextPosition(scope: object | string): number {
  const p = shared();
  if (typeof scope !== 'string') {
    let slot = p.byRequest.get(scope);
    if (slot === undefined) {
      slot = { n: 0 };
      p.byRequest.set(scope, slot);
    }
    return slot.n++;
  }
  const n = p.byRun.get(scope) ?? 0;
  p.byRun.delete(scope);
  if (p.byRun.size >= MAX_RUNS) {
    const oldest = p.byRun.keys().next().value;
    if (oldest !== undefined) p.byRun.delete(oldest);
  }
  p.byRun.set(scope, n + 1);
  return n;
}
