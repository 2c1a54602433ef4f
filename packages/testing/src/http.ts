/**
 * The in-memory API's answers: an HTTP status, a JSON body and headers, and the error and validation
 * answers every route shares (spec §2.7).
 */

/** One answer of a route, turned into a `Response` by the handler. */
export class HttpAnswer {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** An error answer `{ error, code, ...extra }`. */
export function error(
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): HttpAnswer {
  return new HttpAnswer(status, { error: message, code, ...extra });
}

/** A 422 `VALIDATION_ERROR` answer naming the field. */
export function validation(path: string, message: string): HttpAnswer {
  return error(422, 'VALIDATION_ERROR', `Validation failed: ${path} ${message}`, {
    details: [{ path, message }],
  });
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The quantity of a body (default 1), rounded to 6 decimals, or the 422 answer. */
export function checkQuantity(q: unknown, path = 'quantity'): HttpAnswer | number {
  if (q === undefined || q === null) return 1;
  if (typeof q !== 'number' || !Number.isFinite(q) || q < 0 || q > 1e15) {
    return validation(path, 'must be a finite number between 0 and 1e15');
  }
  return round6(q);
}

/** `null` when the string field is acceptable, else its 422 answer. */
export function checkString(
  v: unknown,
  path: string,
  min: number,
  max: number,
  required: boolean,
): HttpAnswer | null {
  if (v === undefined || v === null) return required ? validation(path, 'is required') : null;
  if (typeof v !== 'string' || v.length < min || v.length > max) {
    return validation(path, `must be a string of ${min}-${max} characters`);
  }
  return null;
}

/** Rounds a quantity to the 6 decimals the API keeps. */
export function round6(q: number): number {
  return Math.round(q * 1e6) / 1e6;
}
