/**
 * Input validation done before any request (spec §2.4, §2.9, §4). Every failure is a
 * `DripValidationError` 422 `VALIDATION_ERROR` whose `details` name the field; nothing is sent.
 *
 * A check is a table of field {@link Rule}s (`{ customerId: id(), meter, quantity: quantity(true) }`) run in
 * order by {@link check}; the few cross-field conditions are written out by the caller.
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
  return present(required, true, (v) =>
    typeof v !== 'string'
      ? 'must be a string'
      : v.trim().length === 0
        ? 'must not be empty'
        : v.length > 255
          ? 'must be at most 255 characters'
          : undefined,
  );
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
  return present(required, false, (v) =>
    typeof v !== 'number'
      ? 'must be a number'
      : Number.isNaN(v)
        ? 'must not be NaN'
        : !Number.isFinite(v)
          ? 'must be finite'
          : v < 0
            ? 'must not be negative'
            : v > MAX_QUANTITY
              ? 'must be at most 1e15'
              : undefined,
  );
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
export const meter: Rule = /* @__PURE__ */ present(true, true, (v) =>
  typeof v !== 'string'
    ? 'must be a string'
    : METER_PATTERN.test(v)
      ? undefined
      : 'must be 1-100 of [A-Za-z0-9_.:/-], starting with a letter or digit',
);

/**
 * A caller-supplied idempotency key: 1-128 characters, when present.
 *
 * @example
 * ```ts
 * check([], { idempotencyKey: '' }, { idempotencyKey }); // 'must not be empty'
 * ```
 */
export const idempotencyKey: Rule = /* @__PURE__ */ str(128, 1);

/**
 * `metadata`: a plain JSON object, not circular, no BigInt/functions/symbols, <= 16 KiB, <= 5 levels.
 *
 * @example
 * ```ts
 * check([], { metadata: { n: 1n } }, { metadata }); // 'n: must not hold a BigInt (not JSON)'
 * ```
 */
export const metadata: Rule = /* @__PURE__ */ present(false, true, (v) =>
  jsonObjectProblem(v, MAX_METADATA_BYTES, MAX_METADATA_DEPTH),
);

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
