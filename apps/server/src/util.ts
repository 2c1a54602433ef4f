import * as nodeCrypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// One-shot hashing (Node 20.12+) costs less than createHash().update().digest(); same digest.
const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string })
  .hash;

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
const B62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

// Random bytes are drawn in blocks: one system call per few hundred ids instead of one per id.
let pool = Buffer.alloc(0);
let poolAt = 0;
function randomByte(): number {
  if (poolAt >= pool.length) {
    pool = randomBytes(8192);
    poolAt = 0;
  }
  return pool[poolAt++] ?? 0;
}

function randomChars(alphabet: string, n: number): string {
  // Rejection sampling keeps every character uniform.
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < n) {
    const b = randomByte();
    if (b < limit) out += alphabet[b % alphabet.length];
  }
  return out;
}

/** A server id: type prefix + `_` + 24 base32 characters (spec §2.10). */
export function newId(prefix: string): string {
  return `${prefix}_${randomChars(B32, 24)}`;
}

/** A request id: `req_` + 24 base32 characters (spec §2.3). */
export function newRequestId(): string {
  return newId('req');
}

/** A new API key secret or public value: prefix + 32 base62 characters (spec §2.2). */
export function newKeyValue(prefix: 'sk_test_' | 'sk_live_' | 'pk_test_' | 'pk_live_'): string {
  return prefix + randomChars(B62, 32);
}

/** A webhook secret: `whsec_` + 64 hex characters (spec §3.8). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('hex')}`;
}

/** Lowercase hex SHA-256 of a UTF-8 string. */
export function sha256(text: string): string {
  if (oneShotHash) return oneShotHash('sha256', text, 'hex');
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Constant-time equality of two hex digests of the same length. */
export function safeEqualHex(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** JSON with object keys sorted at every level: the canonical form used for fingerprints. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  // Objects built by the server (and most parsed bodies) already list their keys in order.
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) > (keys[i] as string)) {
      keys.sort();
      break;
    }
  }
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

const MICRO = 1_000_000n;

/**
 * Parses a plain decimal string (optionally with an exponent, as `String(number)` may produce) into an
 * integer count of millionths, rounding half up (away from zero) beyond 6 decimals. Returns undefined
 * when the text is not a decimal number.
 */
export function decimalToMicros(text: string): bigint | undefined {
  const m =
    /^([+-]?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text) ??
    /^([+-]?)()\.(\d+)(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return undefined;
  const sign = m[1] === '-' ? -1n : 1n;
  let digits = (m[2] ?? '') + (m[3] ?? '');
  let scale = (m[3] ?? '').length - Number(m[4] ?? '0');
  if (Math.abs(scale) > 400) return undefined;
  if (digits === '') digits = '0';
  // value = digits * 10^-scale; we want round(value * 10^6)
  const shift = 6 - scale;
  let n = BigInt(digits);
  if (shift >= 0) {
    n *= 10n ** BigInt(shift);
  } else {
    const div = 10n ** BigInt(-shift);
    const q = n / div;
    const r = n % div;
    n = r * 2n >= div ? q + 1n : q;
  }
  scale = 0;
  return sign * n;
}

/** Micros of a finite JSON number, rounded half up to 6 decimals. */
export function numberToMicros(n: number): bigint {
  return decimalToMicros(String(n)) ?? 0n;
}

/**
 * A finite number as a decimal string with exactly 6 decimals, rounded half up (spec §2.9): the same
 * text as `formatMicros(numberToMicros(n))`, with whole numbers up to 1e15 written directly.
 */
export function decimalText(n: number): string {
  return Number.isInteger(n) && n >= 0 && n <= 1e15 ? `${n}.000000` : formatMicros(numberToMicros(n));
}

/** Formats micros as a decimal string with exactly 6 decimals (spec §2.9). */
export function formatMicros(micros: bigint): string {
  const neg = micros < 0n;
  const abs = neg ? -micros : micros;
  const whole = abs / MICRO;
  const frac = (abs % MICRO).toString().padStart(6, '0');
  return `${neg ? '-' : ''}${whole}.${frac}`;
}

/** `round_half_up(quantity × unitPrice)` in micros, both inputs in micros. */
export function multiplyMicros(quantityMicros: bigint, priceMicros: bigint): bigint {
  const prod = quantityMicros * priceMicros;
  const q = prod / MICRO;
  const r = prod % MICRO;
  return r * 2n >= MICRO ? q + 1n : q;
}

/** A database value (number, string or bigint) as a bigint. */
export function toBig(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string' && v !== '')
    return decimalToMicros(v) !== undefined ? BigInt(v.split('.')[0] ?? '0') : 0n;
  return 0n;
}

/** A numeric column (string in `pg`, string or number in PGlite) as a decimal string with 6 decimals. */
export function numericText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const micros = decimalToMicros(String(v));
  return micros === undefined ? null : formatMicros(micros);
}

/** A numeric column as a JS number (quantities in responses that the official client types as numbers). */
export function numericNumber(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  return Number(v);
}

/** ISO 8601 with milliseconds, or null. */
export function iso(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const d = v instanceof Date ? v : new Date(String(v));
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** Drops keys whose value is undefined so optional fields are omitted (spec §2.4). */
export function compact<T extends Record<string, unknown>>(obj: T): T {
  for (const k of Object.keys(obj)) if (obj[k] === undefined) delete obj[k];
  return obj;
}
