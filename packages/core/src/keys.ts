/**
 * Every idempotency key the SDK makes, in one module (spec §5.2, §5.5, §5.6, §5.7):
 *
 * - automatic keys `<prefix>_<instanceId>_<counter>` for client calls and outbox records, where the
 *   instance id is 16 random base32 characters created once per process and the counter is base 36,
 *   starting at 1. Both live on `globalThis[Symbol.for('drip.idempotency')]` so that the ESM and CJS
 *   copies of the package in one process share one sequence;
 * - request-metering keys `mw:<customerId>:<identity>:<meter>:<i>` and the run id `mw:<customerId>:<identity>`,
 *   deterministic from the request identity (a trusted header such as `Idempotency-Key`, so a client that
 *   retries a request bills once), and generated identities `<instanceId>.<counter>` from the same sequence;
 * - derived keys (`<externalRunId>:<index>` of `recordRun`'s step-by-step path, `<base>:flush:<n>` of a
 *   stream meter), sent as they are when safe and hashed otherwise.
 *
 * No other module builds a key; they call these functions.
 */

import { base64url, sha256 } from './sha256';

const STATE_KEY = /* @__PURE__ */ Symbol.for('drip.idempotency');
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

interface IdempotencyState {
  instanceId: string;
  counter: number;
}

/**
 * Produces one key per call for a prefix such as `track` or `evt`.
 *
 * @example
 * ```ts
 * const next: IdempotencyKeyGenerator = (prefix) => `${prefix}_${crypto.randomUUID()}`;
 * ```
 */
export type IdempotencyKeyGenerator = (prefix: string) => string;

/**
 * A fresh random instance id: 16 lowercase base32 characters from `crypto.getRandomValues`.
 *
 * @example
 * ```ts
 * createInstanceId(); // 'k3v9q2m1x8zt4fha'
 * ```
 */
export function createInstanceId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let out = '';
  for (const b of bytes) out += BASE32[b & 31];
  return out;
}

/** `<prefix>_<instanceId>_<counter base 36>` from the next counter value of `state`. */
function nextKey(state: IdempotencyState, prefix: string): string {
  state.counter += 1;
  return `${prefix}_${state.instanceId}_${state.counter.toString(36)}`;
}

function sharedState(): IdempotencyState {
  const g = globalThis as unknown as Record<symbol, IdempotencyState | undefined>;
  let state = g[STATE_KEY];
  if (!state) {
    // Created lazily on the first key, never at import.
    state = { instanceId: createInstanceId(), counter: 0 };
    Object.defineProperty(globalThis, STATE_KEY, { value: state, configurable: true, writable: true });
  }
  return state;
}

/**
 * Next key from the process-wide shared sequence.
 *
 * @example
 * ```ts
 * import { generateIdempotencyKey } from '@drip/core';
 * generateIdempotencyKey('track'); // 'track_k3v9q2m1x8zt4fha_1'
 * ```
 */
export function generateIdempotencyKey(prefix: string): string {
  return nextKey(sharedState(), prefix);
}

/**
 * The process-wide instance id (created on first use).
 *
 * @example
 * ```ts
 * getIdempotencyInstanceId(); // 'k3v9q2m1x8zt4fha'
 * ```
 */
export function getIdempotencyInstanceId(): string {
  return sharedState().instanceId;
}

/**
 * Options of {@link createIdempotencyKeyGenerator}.
 *
 * @example
 * ```ts
 * createIdempotencyKeyGenerator({ instanceId: 'test01' });
 * ```
 */
export interface IdempotencyKeyGeneratorOptions {
  /**
   * Fixes the instance id (1-32 chars of `[a-z0-9]`) so keys are reproducible; the generator then keeps
   * its own counter starting at 1. Never fix it in production deployments with several processes.
   */
  instanceId?: string | undefined;
  /** Replaces the generator entirely. */
  factory?: IdempotencyKeyGenerator | undefined;
  /**
   * `true` (default): share the process-wide sequence. `false`: a private random instance id and counter,
   * as a separate process would have (used by tests that simulate several processes).
   */
  shared?: boolean | undefined;
}

const INSTANCE_ID_RE = /^[a-z0-9]{1,32}$/;

/**
 * Builds a key generator. Validates a fixed instance id (`CONFIGURATION_ERROR` via the thrown message is the
 * client's job; here a `TypeError` is thrown).
 *
 * @example
 * ```ts
 * const next = createIdempotencyKeyGenerator({ instanceId: 'test01' });
 * next('track'); // 'track_test01_1'
 * next('track'); // 'track_test01_2'
 * ```
 */
export function createIdempotencyKeyGenerator(
  options: IdempotencyKeyGeneratorOptions = {},
): IdempotencyKeyGenerator {
  if (options.factory) return options.factory;
  if (options.instanceId !== undefined) {
    if (!INSTANCE_ID_RE.test(options.instanceId)) {
      throw new TypeError('idempotencyInstanceId must be 1-32 characters of [a-z0-9]');
    }
    const state: IdempotencyState = { instanceId: options.instanceId, counter: 0 };
    return (prefix) => nextKey(state, prefix);
  }
  if (options.shared === false) {
    let state: IdempotencyState | undefined;
    return (prefix) => {
      state ??= { instanceId: createInstanceId(), counter: 0 };
      return nextKey(state, prefix);
    };
  }
  return generateIdempotencyKey;
}

// ---------------------------------------------------------------- derived keys (spec §5.5, §5.6, §5.7)

const PRINTABLE = /^[\x20-\x7e]{1,128}$/;

/**
 * A derived key as sent: the plain form when it is at most 128 characters of `[A-Za-z0-9._:-]`, otherwise
 * `<prefix>_` + base64url(SHA-256 of the plain form) (43 characters after the prefix). Synchronous, so it
 * can run where a request ends.
 *
 * @example
 * ```ts
 * safeKey('mw:cus_1:req.1:api_calls:0'); // unchanged
 * safeKey('mw:user@example.com:r1:api_calls:0'); // 'mw_' + 43 characters
 * safeKey('run_1:0', 'rec'); // unchanged; a long or unusual one gives 'rec_' + 43 characters
 * ```
 */
export function safeKey(plain: string, prefix = 'mw'): string {
  return isSafeKey(plain) ? plain : `${prefix}_${base64url(sha256(plain))}`;
}

/**
 * Whether a key may be sent as it is: `^[A-Za-z0-9._:-]{1,128}$`, checked without a regex (this runs on
 * the hot path).
 *
 * @example
 * ```ts
 * isSafeKey('mw:cus_1:req.1'); // true
 * isSafeKey('mw:user@example.com:r1'); // false
 * ```
 */
export function isSafeKey(s: string): boolean {
  const n = s.length;
  if (n < 1 || n > 128) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 97 && c <= 122) ||
      (c >= 65 && c <= 90) ||
      (c >= 48 && c <= 58) ||
      c === 46 ||
      c === 95 ||
      c === 45;
    if (!ok) return false;
  }
  return true;
}

/**
 * Key of a usage record of a metered request: `mw:<customerId>:<identity>:<meter>:<i>` (hashed when
 * needed), where `i` counts that meter's records within the request.
 *
 * @example
 * ```ts
 * usageKey('cus_1', 'k3v9q2m1x8zt4fha.1', 'api_calls', 0); // 'mw:cus_1:k3v9q2m1x8zt4fha.1:api_calls:0'
 * ```
 */
export function usageKey(customerId: string, identity: string, meter: string, index: number): string {
  return safeKey(`mw:${customerId}:${identity}:${meter}:${index}`);
}

/**
 * {@link usageKey} from a request's key base `mw:<customerId>:<identity>` whose safety is already known
 * (the request meter checks the base once per request, then only the meter name per record).
 *
 * @example
 * ```ts
 * const base = 'mw:cus_1:req.1';
 * usageKeyFromBase(base, isSafeKey(base), 'api_calls', 0); // 'mw:cus_1:req.1:api_calls:0'
 * ```
 */
export function usageKeyFromBase(base: string, baseSafe: boolean, meter: string, index: number): string {
  const plain = `${base}:${meter}:${index}`;
  return baseSafe && plain.length <= 128 && isSafeKey(meter) ? plain : safeKey(plain);
}

/**
 * `externalRunId` (and idempotency key) of a metered request's run: `mw:<customerId>:<identity>` (hashed
 * when needed).
 *
 * @example
 * ```ts
 * runExternalId('cus_1', 'req-42'); // 'mw:cus_1:req-42'
 * ```
 */
export function runExternalId(customerId: string, identity: string): string {
  return safeKey(`mw:${customerId}:${identity}`);
}

/**
 * The identity of a request: a trusted header value (1-128 printable ASCII characters) when given, so a
 * client that retries a request gets the same keys; otherwise `<instanceId>.<counter>` from the
 * process-wide sequence of {@link generateIdempotencyKey} (one counter for every key of the process).
 *
 * @example
 * ```ts
 * requestIdentity('abc-123'); // 'abc-123'
 * requestIdentity(undefined); // 'k3v9q2m1x8zt4fha.1'
 * ```
 */
export function requestIdentity(trusted: string | undefined): string {
  if (trusted !== undefined && PRINTABLE.test(trusted)) return trusted;
  const state = sharedState();
  state.counter += 1;
  return `${state.instanceId}.${state.counter.toString(36)}`;
}

/**
 * Key of a run event sent by `recordRun`'s step-by-step path: `<externalRunId>:<index>`, hashed to
 * `rec_...` when needed (spec §5.5), so a retried `recordRun` resends the same keys.
 *
 * @example
 * ```ts
 * runEventKey('run_1', 0); // 'run_1:0'
 * ```
 */
export function runEventKey(externalRunId: string, index: number): string {
  return safeKey(`${externalRunId}:${index}`, 'rec');
}

/**
 * Key of a stream meter's flush `n` when the caller gave a base key (at most 100 characters):
 * `<base>:flush:<n>` (spec §5.6). Without a base the meter takes an automatic `stream` key instead.
 *
 * @example
 * ```ts
 * streamFlushKey('job-7', 2); // 'job-7:flush:2'
 * ```
 */
export function streamFlushKey(base: string, n: number): string {
  return `${base}:flush:${n}`;
}

// ---------------------------------------------------------------- model-call keys (@drip/ai)

/**
 * What a model call's key is fixed by, besides customer, position and meter: the request it ran in (its
 * identity), a run the app named, or a key the app passed for that one call.
 *
 * @example
 * ```ts
 * const scope: ModelCallKeyScope = { kind: 'run', runId: 'nightly-digest' };
 * ```
 */
export type ModelCallKeyScope =
  | { kind: 'request'; requestId: string }
  | { kind: 'run'; runId: string }
  | { kind: 'key'; key: string };

/**
 * The slot of a model call's run record (a call made outside a request), passed to
 * {@link modelCallKey} in place of a meter name; `#` is never in a meter name.
 *
 * @example
 * ```ts
 * modelCallKey({ kind: 'run', runId: 'job-7' }, 'cus_1', 2, MODEL_CALL_RUN_SLOT); // 'airec:cus_1:job-7:2'
 * ```
 */
export const MODEL_CALL_RUN_SLOT = '#run';

const MODEL_CALL_PREFIX = { request: 'ai', run: 'air', key: 'aik' } as const;

/**
 * Key of one record of a model call (`@drip/ai`): its usage on the meter `slot`, or its run record for
 * {@link MODEL_CALL_RUN_SLOT}. Deterministic from who pays, the scope, the call's position there and the
 * meter: `ai:<customerId>:<requestId>:<position>:<meter>` (`air:` for a named run, `aik:` for the app's
 * own key, `airec:<customerId>:<id>:<position>` for a run record), so an SDK retry of a call and a
 * client retrying the whole request bill once. None of these prefixes is `mw`, so a call's key never
 * equals a request-metering key ({@link usageKey}) whatever identity header a client sends. A key that
 * would not be safe ({@link isSafeKey}) is hashed to `mw_` + 43 characters from a form containing `·`
 * (U+00B7), which no request identity can hold (they are printable ASCII), so hashed keys cannot be
 * forged from a header either.
 *
 * @example
 * ```ts
 * modelCallKey({ kind: 'request', requestId: 'req-1' }, 'cus_1', 0, 'llm_tokens'); // 'ai:cus_1:req-1:0:llm_tokens'
 * ```
 */
export function modelCallKey(
  scope: ModelCallKeyScope,
  customerId: string,
  position: number,
  slot: string,
): string {
  const id = scope.kind === 'request' ? scope.requestId : scope.kind === 'run' ? scope.runId : scope.key;
  const prefix = slot === MODEL_CALL_RUN_SLOT ? 'airec' : MODEL_CALL_PREFIX[scope.kind];
  const plain =
    slot === MODEL_CALL_RUN_SLOT
      ? `${prefix}:${customerId}:${id}:${position}`
      : `${prefix}:${customerId}:${id}:${position}:${slot}`;
  if (isSafeKey(plain)) return plain;
  return usageKey(customerId, `${prefix}\u00b7${id}\u00b7${position}`, slot, 0);
}
