/**
 * Deterministic keys of model calls. To promote into `@drip/core`'s key module; until then it builds on
 * core's public `usageKey` (which hashes any key that is not safe to send as it is).
 *
 * A call's key is fixed by who pays (customer), the identity of what it ran in (the request's identity,
 * a run named by the app, or a key the app passed), and the call's position there. The identity part
 * always contains `·` (U+00B7), which no request identity can contain (they are printable ASCII), so a
 * call's key never equals a request-metering key (`mw:<customer>:<identity>:<meter>:<i>`), whatever
 * identity header a client sends.
 */

import { usageKey } from '@drip/core';

const SEP = '\u00b7';

/** Where a call's identity comes from. */
export type KeyScope =
  | { kind: 'request'; requestId: string }
  | { kind: 'run'; runId: string }
  | { kind: 'key'; key: string };

/**
 * The identity part of a call's keys: `<requestId>·ai·<position>`, `<runId>·run·<position>` or
 * `<key>·key`.
 *
 * @example
 * ```ts
 * callIdentity({ kind: 'request', requestId: 'req-1' }, 2); // 'req-1·ai·2'
 * ```
 */
export function callIdentity(scope: KeyScope, position: number): string {
  if (scope.kind === 'request') return `${scope.requestId}${SEP}ai${SEP}${position}`;
  if (scope.kind === 'run') return `${scope.runId}${SEP}run${SEP}${position}`;
  return `${scope.key}${SEP}key`;
}

/**
 * Key of a call's usage record for one meter.
 *
 * @example
 * ```ts
 * callUsageKey('cus_1', 'req-1·ai·0', 'llm_tokens'); // 'mw_' + 43 characters
 * ```
 */
export function callUsageKey(customerId: string, identity: string, meter: string): string {
  return usageKey(customerId, identity, meter, 0);
}

/**
 * `externalRunId` (and idempotency key) of the run recorded for a call made outside a request. `#run` is
 * not a valid meter name, so it never equals a usage key.
 *
 * @example
 * ```ts
 * callRunKey('cus_1', 'job-7·run·0');
 * ```
 */
export function callRunKey(customerId: string, identity: string): string {
  return usageKey(customerId, identity, '#run', 0);
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
