/**
 * Input validation done before any request (spec §2.4, §2.9, §4). Every failure is a
 * `DripValidationError` 422 `VALIDATION_ERROR` whose `details` name the field; nothing is sent.
 *
 * A check is a table of field {@link Rule}s (`{ customerId: id(), meter, quantity: quantity(true) }`) run in
 * order by {@link check}; the few cross-field conditions are written out by the caller.
 */

import { type DripErrorDetail, isRecord, validationError } from './errors';

import { MAX_QUANTITY, isValidQuantity } from './limits';

/**
 * Longest meter (`usageType`) name (spec §2.4).
 *
 * @example
 * ```ts
 * 'x'.repeat(MAX_METER_LENGTH + 1); // refused by isValidMeterName
 * ```
 */
export const MAX_METER_LENGTH = 100;
/**
 * Longest customer id or external customer id, and resource id in general (spec §2.10).
 *
 * @example
 * ```ts
 * isValidCustomerId('c'.repeat(MAX_ID_LENGTH)); // true
 * ```
 */
export const MAX_ID_LENGTH = 255;
/**
 * Longest run event type (`eventType`, spec §3.6).
 *
 * @example
 * ```ts
 * isValidEventType('llm.call'); // true
 * ```
 */
export const MAX_EVENT_TYPE_LENGTH = 100;
/**
 * Longest caller-supplied idempotency key (spec §2.6).
 *
 * @example
 * ```ts
 * isValidIdempotencyKey('k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH)); // true
 * ```
 */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;
/**
 * Largest quantity the API accepts (spec §2.9).
 *
 * @example
 * ```ts
 * client.trackUsage({ customerId, meter, quantity: MAX_QUANTITY + 1 }); // VALIDATION_ERROR
 * ```
 */
export { MAX_QUANTITY };
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

/**
 * One field's check: the problem with a value (`'must be a string'`), or `undefined` when it is acceptable.
 *
 * @example
 * ```ts
 * const rule: Rule = (v) => (v === 'x' ? 'must not be x' : undefined);
 * ```
 */
export type Rule = (value: unknown) => string | undefined;

/**
 * Field rules, checked in key order.
 *
 * @example
 * ```ts
 * const rules: Rules = { customerId: id(), metadata };
 * ```
 */
export type Rules = Readonly<Record<string, Rule>>;

/**
 * A rule that accepts an absent value (`undefined`, and `null` when `nullIsAbsent`) unless `required`
 * (then `is required`), and runs `test` on a present one.
 */
function present(required: boolean, nullIsAbsent: boolean, test: Rule): Rule {
  return (v) =>
    v === undefined || (nullIsAbsent && v === null) ? (required ? 'is required' : undefined) : test(v);
}

/**
 * A string of `min`-`max` UTF-16 code units (`null` counts as absent).
 *
 * @example
 * ```ts
 * check([], { name: 'x'.repeat(300) }, { name: str(255, 1, true) }); // [{ path: 'name', ... }]
 * ```
 */
export function str(max: number, min = 0, required = false): Rule {
  return present(required, true, (v) =>
    typeof v !== 'string'
      ? 'must be a string'
      : v.length < min
        ? min === 1
          ? 'must not be empty'
          : `must be at least ${min} characters`
        : v.length > max
          ? `must be at most ${max} characters`
          : undefined,
  );
}

/**
 * A resource id: a non-empty string of at most 255 characters, not only whitespace.
 *
 * @example
 * ```ts
 * check([], { runId: '  ' }, { runId: id() }); // [{ path: 'runId', message: 'must not be empty' }]
 * ```
 */
export function id(required = true): Rule {
  return present(required, true, idProblem);
}

/**
 * A quantity: a finite number, 0 <= q <= 1e15 (`null` is not a number).
 *
 * @example
 * ```ts
 * check([], { quantity: Number.NaN }, { quantity: quantity(true) }); // 'must not be NaN'
 * ```
 */
export function quantity(required = false): Rule {
  return present(required, false, quantityProblem);
}

/**
 * An integer from `min` to `max`, when present.
 *
 * @example
 * ```ts
 * check([], { limit: 500 }, { limit: int(1, 100) }); // 'must be an integer from 1 to 100'
 * ```
 */
export function int(min: number, max: number): Rule {
  return present(false, false, (v) =>
    typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max
      ? `must be an integer from ${min} to ${max}`
      : undefined,
  );
}

/**
 * One of a fixed set of strings, when present (or `required`).
 *
 * @example
 * ```ts
 * check([], { status: 'DONE' }, { status: oneOf(['COMPLETED', 'FAILED'], true) });
 * ```
 */
export function oneOf(allowed: readonly string[], required = false): Rule {
  return present(required, true, (v) =>
    typeof v !== 'string' || !allowed.includes(v) ? `must be one of ${allowed.join(', ')}` : undefined,
  );
}

/**
 * A string matching `pattern`, when present (`required`: always).
 *
 * @example
 * ```ts
 * const hex = matches(/^[0-9a-f]+$/, 'must be hex');
 * ```
 */
export function matches(pattern: RegExp, message: string, required = false): Rule {
  return present(required, true, (v) => (typeof v !== 'string' || !pattern.test(v) ? message : undefined));
}

/**
 * A non-negative finite number (e.g. `costUnits`), when present.
 *
 * @example
 * ```ts
 * check([], { costUnits: -1 }, { costUnits: nonNegative }); // 'must not be negative'
 * ```
 */
export const nonNegative: Rule = /* @__PURE__ */ present(false, false, (v) =>
  typeof v !== 'number' || !Number.isFinite(v)
    ? 'must be a finite number'
    : v < 0
      ? 'must not be negative'
      : undefined,
);

/**
 * A boolean, when present.
 *
 * @example
 * ```ts
 * check([], { isInternal: 'yes' }, { isInternal: bool }); // 'must be a boolean'
 * ```
 */
export const bool: Rule = /* @__PURE__ */ present(false, false, (v) =>
  typeof v !== 'boolean' ? 'must be a boolean' : undefined,
);

/**
 * A meter name (see {@link METER_PATTERN}); required.
 *
 * @example
 * ```ts
 * check([], { meter: 'api calls' }, { meter }); // [{ path: 'meter', ... }]
 * ```
 */
export const meter: Rule = /* @__PURE__ */ present(true, true, meterNameProblem);

/**
 * A run event type (1-100 characters); required.
 *
 * @example
 * ```ts
 * check([], { eventType: '' }, { eventType }); // [{ path: 'eventType', message: 'must not be empty' }]
 * ```
 */
export const eventType: Rule = /* @__PURE__ */ present(true, true, eventTypeProblem);

/**
 * A caller-supplied idempotency key: 1-128 characters, when present.
 *
 * @example
 * ```ts
 * check([], { idempotencyKey: '' }, { idempotencyKey }); // 'must not be empty'
 * ```
 */
export const idempotencyKey: Rule = /* @__PURE__ */ str(MAX_IDEMPOTENCY_KEY_LENGTH, 1);

/**
 * `metadata`: a plain JSON object, not circular, no BigInt/functions/symbols, <= 16 KiB, <= 5 levels.
 *
 * @example
 * ```ts
 * check([], { metadata: { n: 1n } }, { metadata }); // 'n: must not hold a BigInt (not JSON)'
 * ```
 */
export const metadata: Rule = /* @__PURE__ */ present(false, true, metadataProblem);

/**
 * Runs `rules` on the fields of `input` in order and appends each problem to `out` (paths get `prefix`).
 *
 * @example
 * ```ts
 * const problems = check([], params, { customerId: id(), quantity: quantity(true) });
 * ```
 */
export function check(out: DripErrorDetail[], input: unknown, rules: Rules, prefix = ''): DripErrorDetail[] {
  const o = (input ?? {}) as Record<string, unknown>;
  for (const [field, rule] of Object.entries(rules)) {
    const message = rule(o[field]);
    if (message) out.push({ path: prefix + field, message });
  }
  return out;
}

/**
 * Throws a `DripValidationError` listing `problems` when there is any (nothing is sent).
 *
 * @example
 * ```ts
 * assertValid(check([], params, rules));
 * ```
 */
export function assertValid(problems: DripErrorDetail[]): void {
  if (problems.length > 0) throw validationError(problems);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!isRecord(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const NOT_JSON: Record<string, string> = { bigint: 'a BigInt', function: 'a function', symbol: 'a symbol' };

/** `[path below value, message]` of the first non-JSON value, or `undefined`. */
function jsonProblem(
  value: unknown,
  seen: Set<object>,
  depth: number,
  maxDepth: number,
): [string, string] | undefined {
  const type = typeof value;
  if (type === 'number') return Number.isFinite(value) ? undefined : ['', 'must not hold NaN or Infinity'];
  if (NOT_JSON[type]) return ['', `must not hold ${NOT_JSON[type]} (not JSON)`];
  if (type !== 'object' || value === null) return undefined;
  const obj = value as object;
  if (seen.has(obj)) return ['', 'must not be circular'];
  if (depth > maxDepth) return ['', `must be at most ${maxDepth} levels deep`];
  if (!Array.isArray(obj) && !isPlainObject(obj)) {
    return obj instanceof Date ? undefined : ['', 'must hold only JSON values'];
  }
  seen.add(obj);
  let found: [string, string] | undefined;
  for (const [k, v] of Object.entries(obj)) {
    const p = jsonProblem(v, seen, depth + 1, maxDepth);
    if (p) {
      found = [p[0] ? `${k}.${p[0]}` : k, p[1]];
      break;
    }
  }
  // Shared (not circular) references may appear again elsewhere.
  seen.delete(obj);
  return found;
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
  if (p) return p[0] ? `${p[0]}: ${p[1]}` : p[1];
  const json = JSON.stringify(value);
  // A UTF-16 code unit is at most 3 UTF-8 bytes: only short strings skip the exact count.
  if (json.length * 3 > maxBytes) {
    const size = new TextEncoder().encode(json).length;
    if (size > maxBytes) return `must be at most ${maxBytes} bytes as JSON (got ${size})`;
  }
  return undefined;
}

// ------------------------------------------------------------------ single-value validators
//
// The one definition of each value rule, for every caller: the client's field rules above are built on
// them, and the request-metering pipeline and the outbox call them on values an app hands over, so a
// value the client refuses is refused everywhere (e.g. `req.drip.usage('api calls')`).

/** Throws the `VALIDATION_ERROR` for `problem` at `path`, if any. */
function assertNoProblem(problem: string | undefined, path: string): void {
  if (problem !== undefined) throw validationError([{ path, message: problem }]);
}

/**
 * Why a value is not a meter name (see {@link METER_PATTERN}), or `undefined` when it is one.
 *
 * @example
 * ```ts
 * meterNameProblem('api calls'); // 'must be 1-100 of [A-Za-z0-9_.:/-], starting with a letter or digit'
 * ```
 */
export function meterNameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  // The request path checks the same one or two meter names on every request (twice: when the usage is
  // added and when the outbox admits it): the last valid name is remembered, the pattern runs on a new one.
  if (value === lastValidMeter) return undefined;
  if (!METER_PATTERN.test(value)) {
    return `must be 1-${MAX_METER_LENGTH} of [A-Za-z0-9_.:/-], starting with a letter or digit`;
  }
  lastValidMeter = value;
  return undefined;
}
let lastValidMeter: string | undefined;

/**
 * Whether a value is an acceptable meter name.
 *
 * @example
 * ```ts
 * isValidMeterName('llm_tokens'); // true
 * isValidMeterName('api calls'); // false
 * ```
 */
export function isValidMeterName(value: unknown): value is string {
  return meterNameProblem(value) === undefined;
}

/**
 * Throws a `DripValidationError` (`VALIDATION_ERROR`, detail at `path`) unless `value` is a meter name.
 *
 * @example
 * ```ts
 * assertMeterName('api calls'); // throws: Invalid meter: must be 1-100 of [A-Za-z0-9_.:/-], ...
 * ```
 */
export function assertMeterName(value: unknown, path = 'meter'): asserts value is string {
  assertNoProblem(meterNameProblem(value), path);
}

/**
 * Why a value is not a quantity (a finite number, 0 <= q <= {@link MAX_QUANTITY}), or `undefined`.
 *
 * @example
 * ```ts
 * quantityProblem(-1); // 'must not be negative'
 * ```
 */
export function quantityProblem(value: unknown): string | undefined {
  if (typeof value !== 'number') return 'must be a number';
  if (Number.isNaN(value)) return 'must not be NaN';
  if (!Number.isFinite(value)) return 'must be finite';
  if (value < 0) return 'must not be negative';
  return value > MAX_QUANTITY ? 'must be at most 1e15' : undefined;
}

/**
 * Whether a value is an acceptable quantity.
 *
 * @example
 * ```ts
 * isValidQuantity(842); // true
 * isValidQuantity(Number.NaN); // false
 * ```
 */
export { isValidQuantity };

/**
 * Throws a `DripValidationError` (`VALIDATION_ERROR`, detail at `path`) unless `value` is a quantity.
 *
 * @example
 * ```ts
 * assertQuantity(Infinity); // throws: Invalid quantity: must be finite
 * ```
 */
export function assertQuantity(value: unknown, path = 'quantity'): asserts value is number {
  assertNoProblem(quantityProblem(value), path);
}

/**
 * Why a value is not an id (a string of 1-255 characters, not only whitespace), or `undefined`.
 *
 * @example
 * ```ts
 * idProblem('  '); // 'must not be empty'
 * ```
 */
export function idProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.trim().length === 0) return 'must not be empty';
  return value.length > MAX_ID_LENGTH ? `must be at most ${MAX_ID_LENGTH} characters` : undefined;
}

/**
 * Whether a value is an acceptable customer id (Drip's or the app's own).
 *
 * @example
 * ```ts
 * isValidCustomerId('cus_1'); // true
 * ```
 */
export function isValidCustomerId(value: unknown): value is string {
  return idProblem(value) === undefined;
}

/**
 * Throws a `DripValidationError` unless `value` is an acceptable customer id.
 *
 * @example
 * ```ts
 * assertCustomerId(''); // throws: Invalid customerId: must not be empty
 * ```
 */
export function assertCustomerId(value: unknown, path = 'customerId'): asserts value is string {
  assertNoProblem(idProblem(value), path);
}

/**
 * Why a value is not a run event type (1-100 characters), or `undefined`.
 *
 * @example
 * ```ts
 * eventTypeProblem(''); // 'must not be empty'
 * ```
 */
export function eventTypeProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length === 0) return 'must not be empty';
  return value.length > MAX_EVENT_TYPE_LENGTH
    ? `must be at most ${MAX_EVENT_TYPE_LENGTH} characters`
    : undefined;
}

/**
 * Whether a value is an acceptable run event type.
 *
 * @example
 * ```ts
 * isValidEventType('tool.call'); // true
 * ```
 */
export function isValidEventType(value: unknown): value is string {
  return eventTypeProblem(value) === undefined;
}

/**
 * Throws a `DripValidationError` unless `value` is an acceptable run event type.
 *
 * @example
 * ```ts
 * assertEventType(''); // throws: Invalid eventType: must not be empty
 * ```
 */
export function assertEventType(value: unknown, path = 'eventType'): asserts value is string {
  assertNoProblem(eventTypeProblem(value), path);
}

/**
 * Whether a value is an acceptable caller-supplied idempotency key (1-128 characters).
 *
 * @example
 * ```ts
 * isValidIdempotencyKey(''); // false
 * ```
 */
export function isValidIdempotencyKey(value: unknown): value is string {
  return idempotencyKey(value) === undefined && typeof value === 'string';
}

/**
 * Why a value is not acceptable `metadata` (a plain JSON object of at most {@link MAX_METADATA_BYTES} and
 * {@link MAX_METADATA_DEPTH} levels), or `undefined`.
 *
 * @example
 * ```ts
 * metadataProblem({ n: 1n }); // 'n: must not hold a BigInt (not JSON)'
 * ```
 */
export function metadataProblem(value: unknown): string | undefined {
  return jsonObjectProblem(value, MAX_METADATA_BYTES, MAX_METADATA_DEPTH);
}

/**
 * Whether a value is acceptable `metadata`.
 *
 * @example
 * ```ts
 * isValidMetadata({ plan: 'pro' }); // true
 * ```
 */
export function isValidMetadata(value: unknown): value is Record<string, unknown> {
  return metadataProblem(value) === undefined;
}

/**
 * Throws a `DripValidationError` unless `value` is acceptable `metadata`.
 *
 * @example
 * ```ts
 * assertMetadata([]); // throws: Invalid metadata: must be a JSON object
 * ```
 */
export function assertMetadata(value: unknown, path = 'metadata'): asserts value is Record<string, unknown> {
  assertNoProblem(metadataProblem(value), path);
}
