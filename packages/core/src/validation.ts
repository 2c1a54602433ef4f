/**
 * Input validation done before any request (spec §2.4, §2.9, §4). Every failure is a
 * `DripValidationError` 422 `VALIDATION_ERROR` whose `details` name the field; nothing is sent.
 */

import { type DripErrorDetail, isRecord, validationError } from './errors';

/**
 * Largest quantity the API accepts (spec §2.9).
 *
 * @example
 * ```ts
 * client.trackUsage({ customerId, meter, quantity: MAX_QUANTITY + 1 }); // VALIDATION_ERROR
 * ```
 */
export const MAX_QUANTITY = 1e15;
/**
 * Largest serialised `metadata` object, in bytes of UTF-8 (spec §2.4).
 *
 * @example
 * ```ts
 * JSON.stringify(metadata).length <= MAX_METADATA_BYTES; // for ASCII metadata
 * ```
 */
export const MAX_METADATA_BYTES = 16 * 1024;
/**
 * Deepest nesting of `metadata` (spec §2.4): the object itself is level 1.
 *
 * @example
 * ```ts
 * ({ a: { b: { c: { d: 1 } } } }); // 4 levels: accepted
 * ```
 */
export const MAX_METADATA_DEPTH = 5;
/**
 * Allowed meter (`usageType`) names: 1-100 characters, starting with a letter or digit, then letters,
 * digits and `_ . : / -`. The spec only fixes the length; this client also refuses whitespace and control
 * characters, which no meter name needs and which usually mean a bug (e.g. an interpolated `undefined `).
 *
 * @example
 * ```ts
 * METER_PATTERN.test('llm_tokens'); // true; METER_PATTERN.test('api calls') === false
 * ```
 */
export const METER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$/;
/**
 * Workflow slugs (spec §3.4).
 *
 * @example
 * ```ts
 * SLUG_PATTERN.test('summarise-v2'); // true
 * ```
 */
export const SLUG_PATTERN = /^[a-z0-9_-]{1,100}$/;
const ONCHAIN_RE = /^0x[a-fA-F0-9]{40}$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Collects problems, then throws them together.
 *
 * @example
 * ```ts
 * const c = new Checker(); c.quantity('quantity', q, true); c.done(); // throws DripValidationError
 * ```
 */
export class Checker {
  readonly details: DripErrorDetail[] = [];

  add(path: string, message: string): void {
    this.details.push({ path, message });
  }

  /** Throws a `DripValidationError` when anything was collected. */
  done(): void {
    if (this.details.length > 0) throw validationError(this.details);
  }

  /** A required or optional string with length bounds (UTF-16 code units). */
  string(path: string, value: unknown, opts: { required?: boolean; min?: number; max: number }): void {
    if (value === undefined || value === null) {
      if (opts.required) this.add(path, 'is required');
      return;
    }
    if (typeof value !== 'string') {
      this.add(path, 'must be a string');
      return;
    }
    const min = opts.min ?? 0;
    if (value.length < min)
      this.add(path, min === 1 ? 'must not be empty' : `must be at least ${min} characters`);
    else if (value.length > opts.max) this.add(path, `must be at most ${opts.max} characters`);
  }

  /** A resource id: a non-empty string of at most 255 characters, not only whitespace. */
  id(path: string, value: unknown, required = true): void {
    if (value === undefined || value === null) {
      if (required) this.add(path, 'is required');
      return;
    }
    if (typeof value !== 'string') this.add(path, 'must be a string');
    else if (value.trim().length === 0) this.add(path, 'must not be empty');
    else if (value.length > 255) this.add(path, 'must be at most 255 characters');
  }

  /** A quantity: finite, 0 <= q <= 1e15. */
  quantity(path: string, value: unknown, required: boolean): void {
    if (value === undefined) {
      if (required) this.add(path, 'is required');
      return;
    }
    if (typeof value !== 'number') this.add(path, 'must be a number');
    else if (Number.isNaN(value)) this.add(path, 'must not be NaN');
    else if (!Number.isFinite(value)) this.add(path, 'must be finite');
    else if (value < 0) this.add(path, 'must not be negative');
    else if (value > MAX_QUANTITY) this.add(path, 'must be at most 1e15');
  }

  /** A non-negative finite number (e.g. `costUnits`). */
  nonNegative(path: string, value: unknown): void {
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isFinite(value)) this.add(path, 'must be a finite number');
    else if (value < 0) this.add(path, 'must not be negative');
  }

  /** A meter name (see {@link METER_PATTERN}). */
  meter(path: string, value: unknown): void {
    if (value === undefined || value === null) this.add(path, 'is required');
    else if (typeof value !== 'string') this.add(path, 'must be a string');
    else if (!METER_PATTERN.test(value)) {
      this.add(path, 'must be 1-100 of [A-Za-z0-9_.:/-], starting with a letter or digit');
    }
  }

  /** A caller-supplied idempotency key: 1-128 characters. */
  idempotencyKey(path: string, value: unknown): void {
    this.string(path, value, { min: 1, max: 128 });
  }

  /** A boolean, when present. */
  boolean(path: string, value: unknown): void {
    if (value !== undefined && typeof value !== 'boolean') this.add(path, 'must be a boolean');
  }

  /** One of a fixed set of strings, when present (or required). */
  oneOf(path: string, value: unknown, allowed: readonly string[], required = false): void {
    if (value === undefined || value === null) {
      if (required) this.add(path, 'is required');
      return;
    }
    if (typeof value !== 'string' || !allowed.includes(value))
      this.add(path, `must be one of ${allowed.join(', ')}`);
  }

  /** An integer in a range, when present. */
  int(path: string, value: unknown, min: number, max: number): void {
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.add(path, `must be an integer from ${min} to ${max}`);
    }
  }

  /** `metadata`: a plain JSON object, not circular, no BigInt/functions/symbols, <= 16 KiB, <= 5 levels. */
  metadata(path: string, value: unknown): void {
    if (value === undefined || value === null) return;
    const problem = jsonObjectProblem(value, MAX_METADATA_BYTES, MAX_METADATA_DEPTH);
    if (problem) this.add(path, problem);
  }

  /** Extra fields of a run event: the same JSON rules as metadata, checked on the whole item. */
  jsonValue(path: string, value: unknown): void {
    const problem = jsonProblem(value, new Set(), 1, 64);
    if (problem) this.add(problem.path ? `${path}.${problem.path}` : path, problem.message);
  }

  onchainAddress(path: string, value: unknown): void {
    if (value === undefined || value === null) return;
    if (typeof value !== 'string' || !ONCHAIN_RE.test(value))
      this.add(path, 'must match ^0x[a-fA-F0-9]{40}$');
  }

  email(path: string, value: unknown): void {
    if (value === undefined || value === null) return;
    if (typeof value !== 'string' || value.length > 320 || !EMAIL_RE.test(value)) {
      this.add(path, 'must be an email address (320 characters at most)');
    }
  }

  slug(path: string, value: unknown): void {
    if (typeof value !== 'string' || !SLUG_PATTERN.test(value)) {
      this.add(path, 'must be 1-100 characters of [a-z0-9_-]');
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!isRecord(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function jsonProblem(
  value: unknown,
  seen: Set<object>,
  depth: number,
  maxDepth: number,
): { path: string; message: string } | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : { path: '', message: 'must not hold NaN or Infinity' };
    case 'bigint':
      return { path: '', message: 'must not hold a BigInt (not JSON)' };
    case 'function':
      return { path: '', message: 'must not hold a function (not JSON)' };
    case 'symbol':
      return { path: '', message: 'must not hold a symbol (not JSON)' };
    case 'undefined':
      return undefined;
    default:
      break;
  }
  if (value === null) return undefined;
  const obj = value as object;
  if (seen.has(obj)) return { path: '', message: 'must not be circular' };
  if (depth > maxDepth) return { path: '', message: `must be at most ${maxDepth} levels deep` };
  if (!Array.isArray(obj) && !isPlainObject(obj)) {
    if (obj instanceof Date) return undefined;
    return { path: '', message: 'must hold only JSON values' };
  }
  seen.add(obj);
  const entries = Array.isArray(obj) ? obj.map((v, i) => [String(i), v] as const) : Object.entries(obj);
  for (const [k, v] of entries) {
    const p = jsonProblem(v, seen, depth + 1, maxDepth);
    if (p) {
      seen.delete(obj);
      return { path: p.path ? `${k}.${p.path}` : k, message: p.message };
    }
  }
  seen.delete(obj);
  return undefined;
}

/**
 * Why a value is not an acceptable JSON object of at most `maxBytes` and `maxDepth` levels, or `undefined`.
 *
 * @example
 * ```ts
 * jsonObjectProblem({ a: 1n }, 16384, 5); // 'a: must not hold a BigInt (not JSON)'
 * ```
 */
export function jsonObjectProblem(value: unknown, maxBytes: number, maxDepth: number): string | undefined {
  if (!isPlainObject(value)) return 'must be a JSON object';
  const p = jsonProblem(value, new Set(), 1, maxDepth);
  if (p) return p.path ? `${p.path}: ${p.message}` : p.message;
  const json = JSON.stringify(value);
  // A UTF-16 code unit is at most 3 UTF-8 bytes: only short strings skip the exact count.
  if (json.length * 3 > maxBytes) {
    const size = new TextEncoder().encode(json).length;
    if (size > maxBytes) return `must be at most ${maxBytes} bytes as JSON (got ${size})`;
  }
  return undefined;
}
