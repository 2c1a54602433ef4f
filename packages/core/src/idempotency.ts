/**
 * Automatic idempotency keys (spec §5.2): `<prefix>_<instanceId>_<counter>`, where the instance id is
 * 16 random base32 characters created once per process and the counter is base 36, starting at 1.
 * Both live on `globalThis[Symbol.for('drip.idempotency')]` so that the ESM and CJS copies of the
 * package in one process share one sequence.
 */

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
