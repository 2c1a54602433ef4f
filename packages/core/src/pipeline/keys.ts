/** Request identities and request-metering keys (spec §5.7). */

import { getIdempotencyInstanceId } from '../idempotency';
import { base64url, sha256 } from './sha256';

const PRINTABLE = /^[\x20-\x7e]{1,128}$/;
const COUNTER = Symbol.for('drip.pipeline.requestCounter');

/**
 * A key as sent: the plain form when it is at most 128 characters of `[A-Za-z0-9._:-]`, otherwise
 * `mw_` + base64url(SHA-256 of the plain form) (46 characters).
 *
 * @example
 * ```ts
 * safeKey('mw:cus_1:req.1:api_calls:0'); // unchanged
 * safeKey('mw:user@example.com:r1:api_calls:0'); // 'mw_' + 43 characters
 * ```
 */
export function safeKey(plain: string): string {
  return isSafeKey(plain) ? plain : `mw_${base64url(sha256(plain))}`;
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
 * Key of a usage record: `mw:<customerId>:<identity>:<meter>:<i>` (hashed when needed).
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
 * `externalRunId` of a request's run: `mw:<customerId>:<identity>` (hashed when needed).
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
 * The identity of a request: a trusted header value (1-128 printable ASCII characters) when given,
 * otherwise `<instanceId>.<counter>` from a process-wide sequence shared by every copy of the package.
 *
 * @example
 * ```ts
 * requestIdentity('abc-123'); // 'abc-123'
 * requestIdentity(undefined); // 'k3v9q2m1x8zt4fha.1'
 * ```
 */
export function requestIdentity(trusted: string | undefined): string {
  if (trusted !== undefined && PRINTABLE.test(trusted)) return trusted;
  const c = counter();
  c.n += 1;
  if (instanceId === undefined) instanceId = getIdempotencyInstanceId();
  return `${instanceId}.${c.n.toString(36)}`;
}

/** The process-wide counter, looked up on `globalThis` until found (then kept: it is never replaced). */
let shared: { n: number } | undefined;
/** The process's instance id (fixed for the life of the process once created). */
let instanceId: string | undefined;

function counter(): { n: number } {
  if (shared !== undefined) return shared;
  const g = globalThis as unknown as Record<symbol, { n: number } | undefined>;
  let c = g[COUNTER];
  if (!c) {
    c = { n: 0 };
    Object.defineProperty(globalThis, COUNTER, { value: c, configurable: true, writable: true });
  }
  shared = c;
  return c;
}
