/**
 * Errors of the Drip client (spec §2.7): one base class, one subclass per status family, one factory
 * that turns an HTTP response into the right class, and a guard that works across duplicate copies
 * of this package (ESM and CJS builds loaded side by side).
 */

const BRAND = /* @__PURE__ */ Symbol.for('drip.error');

/**
 * One field-level problem reported by the server (or by local validation).
 *
 * @example
 * ```ts
 * err.details; // [{ path: 'quantity', message: 'must not be NaN' }]
 * ```
 */
export interface DripErrorDetail {
  /** Dotted path of the offending field, e.g. `events.3.quantity`. */
  path: string;
  /** What is wrong with it. */
  message: string;
}

/**
 * Base class of every error the client throws.
 *
 * @example
 * ```ts
 * import { DripError } from '@drip/core';
 * try {
 *   await client.getCustomer('cus_missing');
 * } catch (err) {
 *   if (err instanceof DripError && err.code === 'CUSTOMER_NOT_FOUND') console.log(err.requestId);
 * }
 * ```
 */
export class DripError extends Error {
  /** HTTP status, or 0 when no response exists (network, configuration), or 408 for client timeouts. */
  readonly statusCode: number;
  /** Machine-readable code, e.g. `VALIDATION_ERROR`, `CUSTOMER_NOT_FOUND`, `NETWORK_ERROR`. */
  readonly code: string;
  /** The parsed error body (or, for local errors, structured context). */
  readonly data: unknown;
  /** The server's `X-Request-Id`, when a response was received. */
  readonly requestId: string | undefined;
  /** How many HTTP attempts the call made before failing (0 when nothing was sent). */
  attempts = 0;

  constructor(
    message: string,
    statusCode: number,
    code: string,
    data?: unknown,
    requestId?: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DripError';
    this.statusCode = statusCode;
    this.code = code;
    this.data = data;
    this.requestId = requestId;
  }

  /** A JSON view for logs; never includes the API key. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      statusCode: this.statusCode,
      code: this.code,
      requestId: this.requestId,
      data: this.data,
    };
  }
}
Object.defineProperty(DripError.prototype, BRAND, { value: true, enumerable: false });

/**
 * Input rejected locally (422 `VALIDATION_ERROR`) or by the server (400/422).
 *
 * @example
 * ```ts
 * try { await client.trackUsage({ customerId: 'c', meter: 'api', quantity: Number.NaN }); }
 * catch (err) { if (err instanceof DripValidationError) console.log(err.details[0]?.path); } // 'quantity'
 * ```
 */
export class DripValidationError extends DripError {
  /** One entry per offending field. */
  readonly details: DripErrorDetail[];
  constructor(
    message: string,
    statusCode: number,
    code: string,
    details: DripErrorDetail[],
    data?: unknown,
    requestId?: string,
    cause?: unknown,
  ) {
    super(message, statusCode, code, data ?? { details }, requestId, cause);
    this.name = 'DripValidationError';
    this.details = details;
  }
}

/**
 * 401: missing, unknown or revoked key.
 *
 * @example
 * ```ts
 * if (err instanceof DripAuthenticationError) rotateKey();
 * ```
 */
export class DripAuthenticationError extends DripError {
  constructor(message: string, code: string, data?: unknown, requestId?: string, cause?: unknown) {
    super(message, 401, code, data, requestId, cause);
    this.name = 'DripAuthenticationError';
  }
}

/**
 * 402: the customer's balance does not cover the charge. `payment` is the server's object, unmodified.
 *
 * @example
 * ```ts
 * if (err instanceof DripPaymentRequiredError) console.log(err.payment);
 * ```
 */
export class DripPaymentRequiredError extends DripError {
  /** The server's `payment` object as sent (never invented by the client). */
  readonly payment: unknown;
  constructor(message: string, code: string, data?: unknown, requestId?: string, cause?: unknown) {
    super(message, 402, code, data, requestId, cause);
    this.name = 'DripPaymentRequiredError';
    this.payment = isRecord(data) ? data.payment : undefined;
  }
}

/**
 * 403: forbidden, including `PUBLIC_KEY_NOT_ALLOWED` raised locally for secret-only calls with a `pk_` key.
 *
 * @example
 * ```ts
 * if (err instanceof DripPermissionError && err.code === 'PUBLIC_KEY_NOT_ALLOWED') useSecretKey();
 * ```
 */
export class DripPermissionError extends DripError {
  constructor(message: string, code: string, data?: unknown, requestId?: string, cause?: unknown) {
    super(message, 403, code, data, requestId, cause);
    this.name = 'DripPermissionError';
  }
}

/**
 * 404: resource (or route) not found.
 *
 * @example
 * ```ts
 * if (err instanceof DripNotFoundError) return null;
 * ```
 */
export class DripNotFoundError extends DripError {
  constructor(message: string, code: string, data?: unknown, requestId?: string, cause?: unknown) {
    super(message, 404, code, data, requestId, cause);
    this.name = 'DripNotFoundError';
  }
}

/**
 * 409: conflict. `existingId` comes from `existingCustomerId` / `existingRunId` / `existingWorkflowId`.
 *
 * @example
 * ```ts
 * if (err instanceof DripConflictError && err.existingId) return client.getCustomer(err.existingId);
 * ```
 */
export class DripConflictError extends DripError {
  /** Id of the resource that already exists, when the server names it. */
  readonly existingId: string | undefined;
  constructor(message: string, code: string, data?: unknown, requestId?: string, cause?: unknown) {
    super(message, 409, code, data, requestId, cause);
    this.name = 'DripConflictError';
    this.existingId = isRecord(data)
      ? firstString(data.existingCustomerId, data.existingRunId, data.existingWorkflowId)
      : undefined;
  }
}

/**
 * 409 `IDEMPOTENCY_KEY_REUSED` (same key, different request) or `IDEMPOTENCY_KEY_IN_PROGRESS` (retried).
 *
 * @example
 * ```ts
 * if (err instanceof DripIdempotencyError && err.code === 'IDEMPOTENCY_KEY_REUSED') alert('key reused');
 * ```
 */
export class DripIdempotencyError extends DripConflictError {
  constructor(message: string, code: string, data?: unknown, requestId?: string, cause?: unknown) {
    super(message, code, data, requestId, cause);
    this.name = 'DripIdempotencyError';
  }
}

/**
 * 429: rate limited. `retryAfterMs` from `Retry-After` (or the body's `retryAfter`).
 *
 * @example
 * ```ts
 * if (err instanceof DripRateLimitError) console.log(err.retryAfterMs);
 * ```
 */
export class DripRateLimitError extends DripError {
  /** How long the server asked to wait, in ms, when it said. */
  readonly retryAfterMs: number | undefined;
  constructor(
    message: string,
    code: string,
    data?: unknown,
    requestId?: string,
    cause?: unknown,
    retryAfterMs?: number,
  ) {
    super(message, 429, code, data, requestId, cause);
    this.name = 'DripRateLimitError';
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * 5xx from the server.
 *
 * @example
 * ```ts
 * if (err instanceof DripServerError) console.log(err.statusCode); // 500, 503, ...
 * ```
 */
export class DripServerError extends DripError {
  constructor(
    message: string,
    statusCode: number,
    code: string,
    data?: unknown,
    requestId?: string,
    cause?: unknown,
  ) {
    super(message, statusCode, code, data, requestId, cause);
    this.name = 'DripServerError';
  }
}

/**
 * 408: one attempt timed out (`TIMEOUT`, retried) or the whole call ran out of time (`DEADLINE_EXCEEDED`).
 *
 * @example
 * ```ts
 * if (err instanceof DripTimeoutError && err.code === 'DEADLINE_EXCEEDED') giveUp();
 * ```
 */
export class DripTimeoutError extends DripError {
  constructor(message: string, code: string, data?: unknown, requestId?: string, cause?: unknown) {
    super(message, 408, code, data, requestId, cause);
    this.name = 'DripTimeoutError';
  }
}

/**
 * statusCode 0: no response (`NETWORK_ERROR`) or the caller aborted (`ABORTED`).
 *
 * @example
 * ```ts
 * if (err instanceof DripNetworkError && err.code === 'ABORTED') return;
 * ```
 */
export class DripNetworkError extends DripError {
  constructor(message: string, code: string, data?: unknown, cause?: unknown) {
    super(message, 0, code, data, undefined, cause);
    this.name = 'DripNetworkError';
  }
}

/**
 * Whether a value is a `DripError`, also when it comes from another copy of this package
 * (brand `Symbol.for('drip.error')`), where `instanceof` would be false.
 *
 * @example
 * ```ts
 * import { isDripError } from '@drip/core';
 * if (isDripError(err) && err.statusCode === 429) backOff();
 * ```
 */
export function isDripError(value: unknown): value is DripError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/**
 * What {@link createDripError} needs to build an error.
 *
 * @example
 * ```ts
 * createDripError({ statusCode: 429, code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retryAfterMs: 1000 });
 * ```
 */
export interface DripErrorInit {
  statusCode: number;
  code: string;
  message: string;
  data?: unknown;
  requestId?: string | undefined;
  cause?: unknown;
  details?: DripErrorDetail[];
  retryAfterMs?: number | undefined;
}

/**
 * The one factory: picks the class from status and code.
 *
 * @example
 * ```ts
 * const err = createDripError({ statusCode: 404, code: 'RUN_NOT_FOUND', message: 'Run not found' });
 * err instanceof DripNotFoundError; // true
 * ```
 */
export function createDripError(init: DripErrorInit): DripError {
  const { statusCode: s, code, message, data, requestId, cause } = init;
  if (s === 400 || s === 422) {
    return new DripValidationError(message, s, code, init.details ?? detailsOf(data), data, requestId, cause);
  }
  if (s === 401) return new DripAuthenticationError(message, code, data, requestId, cause);
  if (s === 402) return new DripPaymentRequiredError(message, code, data, requestId, cause);
  if (s === 403) return new DripPermissionError(message, code, data, requestId, cause);
  if (s === 404) return new DripNotFoundError(message, code, data, requestId, cause);
  if (s === 408) return new DripTimeoutError(message, code, data, requestId, cause);
  if (s === 409) {
    return code.startsWith('IDEMPOTENCY_KEY_')
      ? new DripIdempotencyError(message, code, data, requestId, cause)
      : new DripConflictError(message, code, data, requestId, cause);
  }
  if (s === 429) return new DripRateLimitError(message, code, data, requestId, cause, init.retryAfterMs);
  if (s >= 500) return new DripServerError(message, s, code, data, requestId, cause);
  if (s === 0 && (code === 'NETWORK_ERROR' || code === 'ABORTED')) {
    return new DripNetworkError(message, code, data, cause);
  }
  return new DripError(message, s, code, data, requestId, cause);
}

const DEFAULT_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  402: 'PAYMENT_REQUIRED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'TIMEOUT',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  422: 'VALIDATION_ERROR',
  429: 'RATE_LIMIT_EXCEEDED',
  500: 'INTERNAL_ERROR',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * Builds the error for a non-2xx response from its status and raw body text. A body that is not JSON
 * becomes `INVALID_RESPONSE` with the HTTP status kept and `data.body` holding up to 2 KiB of the text.
 *
 * @example
 * ```ts
 * const err = errorFromResponse(503, '<html>busy</html>', 'req_1');
 * err.code; // 'INVALID_RESPONSE'; err.statusCode === 503
 * ```
 */
export function errorFromResponse(
  statusCode: number,
  bodyText: string,
  requestId?: string,
  retryAfterMs?: number,
): DripError {
  let parsed: unknown;
  try {
    parsed = bodyText.length > 0 ? JSON.parse(bodyText) : undefined;
  } catch {
    // Not JSON: handled below with the other non-object bodies.
  }
  if (!isRecord(parsed)) {
    return createDripError({
      statusCode,
      code: 'INVALID_RESPONSE',
      message: `HTTP ${statusCode} with a non-JSON body`,
      data: { body: bodyText.slice(0, 2048) },
      requestId,
      retryAfterMs,
    });
  }
  const message =
    firstString(parsed.message, parsed.error) ??
    (isRecord(parsed.error) ? firstString(parsed.error.message) : undefined) ??
    `HTTP ${statusCode}`;
  const code = firstString(parsed.code) ?? DEFAULT_CODES[statusCode] ?? `HTTP_${statusCode}`;
  const bodyRetry = typeof parsed.retryAfter === 'number' ? parsed.retryAfter * 1000 : undefined;
  return createDripError({
    statusCode,
    code,
    message,
    data: parsed,
    requestId,
    retryAfterMs: retryAfterMs ?? bodyRetry,
  });
}

function detailsOf(data: unknown): DripErrorDetail[] {
  if (!isRecord(data) || !Array.isArray(data.details)) return [];
  const out: DripErrorDetail[] = [];
  for (const d of data.details) {
    if (isRecord(d)) out.push({ path: String(d.path ?? ''), message: String(d.message ?? '') });
  }
  return out;
}

/**
 * @internal
 *
 * @example
 * ```ts
 * isRecord({ a: 1 }); // true; isRecord([1]) === false
 * ```
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstString(...values: unknown[]): string | undefined {
  for (const v of values) if (typeof v === 'string' && v.length > 0) return v;
  return undefined;
}

/**
 * A local `VALIDATION_ERROR` (422) naming the fields. Nothing was sent.
 *
 * @example
 * ```ts
 * throw validationError([{ path: 'quantity', message: 'must be a finite number' }]);
 * ```
 */
export function validationError(details: DripErrorDetail[]): DripValidationError {
  const first = details[0];
  const message = first ? `Invalid ${first.path}: ${first.message}` : 'Invalid input';
  return new DripValidationError(message, 422, 'VALIDATION_ERROR', details);
}

/**
 * A local `CONFIGURATION_ERROR` (statusCode 0): bad or missing key or base URL.
 *
 * @example
 * ```ts
 * throw configurationError('DRIP_API_KEY is not set');
 * ```
 */
export function configurationError(message: string): DripError {
  return new DripError(message, 0, 'CONFIGURATION_ERROR');
}
