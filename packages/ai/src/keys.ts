/**
 * Deterministic keys of model calls. To promote into `@drip/core`'s key module (it would also give the
 * safe-key check below a single home); until then the hashed form builds on core's public `usageKey`.
 *
 * A call's key is fixed by who pays (customer), what it ran in (the request's identity, a run named by
 * the app, or a key the app passed), the call's position there, and the meter:
 * `ai:<customer>:<requestId>:<position>:<meter>` (`air:` for a named run, `aik:` for the app's own key,
 * `airec:` for the run record of a call made outside a request). None of these prefixes is `mw`, so a
 * call's key never equals a request-metering key (`mw:<customer>:<identity>:<meter>:<i>`), whatever
 * identity header a client sends. A key that would be longer than 128 characters or hold other characters
 * is hashed instead (`mw_` + 43 characters) from a form containing `·` (U+00B7), which no request identity
 * can contain (they are printable ASCII), so hashed keys cannot be forged from a header either.
 */

import { usageKey } from '@drip/core';

/** Where a call's identity comes from. */
export type KeyScope =
  | { kind: 'request'; requestId: string }
  | { kind: 'run'; runId: string }
  | { kind: 'key'; key: string };

const PREFIX = { request: 'ai', run: 'air', key: 'aik' } as const;
/** The slot of a call's run record, in place of a meter name (`#` is never in a meter name). */
export const RUN_SLOT = '#run';
const SAFE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The key of one record of a call: its usage for `slot` = a meter, or its run record for
 * {@link RUN_SLOT}.
 *
 * @example
 * ```ts
 * callKey({ kind: 'request', requestId: 'req-1' }, 'cus_1', 0, 'llm_tokens'); // 'ai:cus_1:req-1:0:llm_tokens'
 * ```
 */
export function callKey(scope: KeyScope, customerId: string, position: number, slot: string): string {
  const id = scope.kind === 'request' ? scope.requestId : scope.kind === 'run' ? scope.runId : scope.key;
  const prefix = slot === RUN_SLOT ? 'airec' : PREFIX[scope.kind];
  const plain =
    slot === RUN_SLOT
      ? `${prefix}:${customerId}:${id}:${position}`
      : `${prefix}:${customerId}:${id}:${position}:${slot}`;
  if (SAFE.test(plain)) return plain;
  return usageKey(customerId, `${prefix}\u00b7${id}\u00b7${position}`, slot, 0);
}

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
