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
