import type { Duplex } from 'node:stream';
import type { Context } from 'hono';
import { z } from 'zod';

/** One entry of the `details[]` list of a 400/422 envelope. */
export interface ErrorDetail {
  path: string;
  message: string;
}

/** An error the server answers with the spec §2.7 envelope. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetail[] | undefined;
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;
  constructor(
    status: number,
    code: string,
    message: string,
    opts: { details?: ErrorDetail[]; extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = opts.details;
    this.extra = opts.extra;
    this.headers = opts.headers;
  }

  /** The JSON body of the error envelope. */
  body(): Record<string, unknown> {
    return {
      error: this.message,
      code: this.code,
      ...(this.details ? { details: this.details } : {}),
      ...(this.extra ?? {}),
    };
  }
}

export const notFound = (code: string, what: string) => new ApiError(404, code, `${what} not found`);

/**
 * The client closed its connection before the request body was complete (nginx's 499). Nobody receives
 * the answer; the status marks the request log line as the client's abort rather than a server error.
 *
 * @example
 * ```ts
 * if (err instanceof ApiError && err.status === CLIENT_CLOSED) log.info('request aborted by the client');
 * ```
 */
export const CLIENT_CLOSED = 499;
const clientClosed = () =>
  new ApiError(
    CLIENT_CLOSED,
    'CLIENT_CLOSED_REQUEST',
    'The client closed the connection before the body arrived',
  );

/** Body size limit (spec §2.4). */
export const MAX_BODY_BYTES = 1024 * 1024;
const MAX_BODY_DEPTH = 32;
// Text PostgreSQL cannot store faithfully: a lone surrogate would silently become U+FFFD.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A JSON response with the spec's content type. */
export function send(
  _c: Context,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

/** A response whose JSON body the route wrote itself (same headers as {@link send}). */
export function sendText(_c: Context, status: number, json: string): Response {
  return new Response(json, { status, headers: { 'content-type': 'application/json; charset=utf-8' } });
}

async function readLimited(c: Context): Promise<string> {
  const declared = Number(c.req.header('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', 'Request body exceeds 1 MiB');
  const stream = c.req.raw.body;
  if (!stream) return '';
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let step: ReadableStreamReadResult<Uint8Array>;
    try {
      step = await reader.read();
    } catch {
      // The body stream fails only when the connection closes before the declared body arrived.
      throw clientClosed();
    }
    const { done, value } = step;
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw new ApiError(413, 'PAYLOAD_TOO_LARGE', 'Request body exceeds 1 MiB');
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8').decode(Buffer.concat(chunks));
}

// Native check of well-formed UTF-16 (Node 20+); the regular expression is the fallback.
const isWellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (s) => (s as string & { isWellFormed(): boolean }).isWellFormed()
    : (s) => !LONE_SURROGATE.test(s);

/** Whether a string can be stored as PostgreSQL text: no NUL, no lone surrogate. */
function storableText(s: string): boolean {
  return s.indexOf('\u0000') === -1 && isWellFormed(s);
}

/**
 * The common case of {@link checkTree} without building a path per value: true when nothing in the tree
 * needs reporting. Bulk bodies hold thousands of values, and almost all of them are fine.
 */
function treeIsClean(value: unknown, depth: number): boolean {
  if (depth > MAX_BODY_DEPTH) return false;
  if (typeof value === 'string') return storableText(value);
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!treeIsClean(value[i], depth + 1)) return false;
    return true;
  }
  for (const k in value) {
    if (!storableText(k)) return false;
    if (!treeIsClean((value as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}

/** Walks a parsed body: refuses NUL characters (PostgreSQL text cannot hold them) and deep nesting. */
function checkTree(value: unknown, path: string, depth: number): ErrorDetail | undefined {
  if (depth > MAX_BODY_DEPTH) return { path, message: `nested deeper than ${MAX_BODY_DEPTH} levels` };
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return { path, message: 'must not contain NUL characters' };
    return LONE_SURROGATE.test(value)
      ? { path, message: 'must be well-formed UTF-16 (lone surrogate)' }
      : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const d = checkTree(value[i], path ? `${path}.${i}` : String(i), depth + 1);
      if (d) return d;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = path ? `${path}.${k}` : k;
      if (k.includes('\u0000') || LONE_SURROGATE.test(k))
        return { path: p, message: 'key must be well-formed text without NUL' };
      const d = checkTree(v, p, depth + 1);
      if (d) return d;
    }
  }
  return undefined;
}

/**
 * Reads the JSON body: empty → `{}` (the official client posts empty bodies with a JSON content type);
 * malformed → 400 INVALID_JSON; not an object → 422; over 1 MiB → 413. Top-level `null` values are
 * dropped (spec §2.4: null is treated like absent) unless listed in `keepNull`.
 */
export async function readJson(
  c: Context,
  keepNull: readonly string[] = [],
): Promise<Record<string, unknown>> {
  const text = await readLimited(c);
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'INVALID_JSON', 'Request body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ApiError(422, 'VALIDATION_ERROR', 'Request body must be a JSON object', {
      details: [{ path: '', message: 'expected an object' }],
    });
  }
  const bad = treeIsClean(parsed, 0) ? undefined : checkTree(parsed, '', 0);
  if (bad) throw new ApiError(422, 'VALIDATION_ERROR', 'Invalid request body', { details: [bad] });
  const obj = parsed as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (obj[k] === null && !keepNull.includes(k)) delete obj[k];
  return obj;
}

function issuesToDetails(error: z.ZodError): ErrorDetail[] {
  return error.issues.slice(0, 50).map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

/** Validates a body with a zod schema; violations become 422 VALIDATION_ERROR with `details[]`. */
export function validate<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const res = schema.safeParse(body);
  if (!res.success) {
    throw new ApiError(422, 'VALIDATION_ERROR', 'Invalid request body', {
      details: issuesToDetails(res.error),
    });
  }
  return res.data;
}

/**
 * Refuses a query string no route can use: malformed percent-encoding (bytes that are not UTF-8), NUL
 * characters or lone surrogates in a name or value. Checked once for every API request, whatever names
 * the route reads, so such text never reaches the database (which would answer with its own error text).
 * Throws 400 INVALID_PARAMETER.
 *
 * @example
 * ```ts
 * checkQueryText('http://localhost/v1/customers?limit=10'); // fine
 * checkQueryText('http://localhost/v1/customers?externalCustomerId=%00'); // throws 400 INVALID_PARAMETER
 * ```
 */
export function checkQueryText(url: string): void {
  const q = url.indexOf('?');
  if (q === -1) return;
  const end = url.indexOf('#', q);
  const query = url.slice(q + 1, end === -1 ? undefined : end);
  if (query === '') return;
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    for (const raw of eq === -1 ? [name] : [name, part.slice(eq + 1)]) {
      let text: string;
      try {
        text = decodeURIComponent(raw.replaceAll('+', ' '));
      } catch {
        throw badParameter(name, 'must be percent-encoded UTF-8');
      }
      if (!storableText(text)) throw badParameter(name, 'must not contain NUL characters or lone surrogates');
    }
  }
}

function badParameter(name: string, message: string): ApiError {
  // The name is echoed only when it is plain text, so the envelope never carries the bad bytes back.
  const path = /^[A-Za-z0-9_.[\]-]{1,64}$/.test(name) ? name : '';
  return new ApiError(400, 'INVALID_PARAMETER', 'Invalid query parameter', { details: [{ path, message }] });
}

/** Validates query parameters; violations become 400 INVALID_PARAMETER with `details[]`. */
export function validateQuery<S extends z.ZodType>(schema: S, c: Context): z.output<S> {
  const res = schema.safeParse(c.req.query());
  if (!res.success) {
    throw new ApiError(400, 'INVALID_PARAMETER', 'Invalid query parameter', {
      details: issuesToDetails(res.error),
    });
  }
  return res.data;
}

/** `limit`/`offset` query fields with a route default for `limit` (spec §2.8). */
export function pageQuery(defaultLimit: number, maxLimit = 100) {
  return {
    limit: z.coerce.number().int().min(1).max(maxLimit).default(defaultLimit),
    offset: z.coerce.number().int().min(0).max(1_000_000_000).default(0),
  };
}

/** A boolean query parameter (`true`/`false`). */
export const queryBool = z.enum(['true', 'false']).transform((v) => v === 'true');

/** An ISO date query parameter. */
export const queryDate = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date')
  .transform((s) => new Date(s));

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A path id: decoded by the router. Anything that cannot be an id (over 64 characters, slashes, dots,
 * control characters) cannot name a stored resource, so it is answered with the route's 404.
 */
export function pathId(c: Context, name: string, code: string, what: string): string {
  const v = c.req.param(name) ?? '';
  if (!ID_RE.test(v)) throw notFound(code, what);
  return v;
}

// ---------- shared field schemas ----------

/** A metadata object: at most 16 KiB serialised and 5 levels deep (spec §2.4). */
export const metadataSchema = z.record(z.string(), z.unknown()).superRefine((v, ctx) => {
  if (JSON.stringify(v).length > 16 * 1024)
    ctx.addIssue({ code: 'custom', message: 'metadata exceeds 16 KiB' });
  if (depthOf(v) > 5) ctx.addIssue({ code: 'custom', message: 'metadata is nested deeper than 5 levels' });
});

/** Nesting depth of a JSON value (an empty object counts 1). */
export function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const children = Array.isArray(v) ? v : Object.values(v);
  let max = 0;
  for (const c of children) max = Math.max(max, depthOf(c));
  return 1 + max;
}

/** A quantity (spec §2.9): finite, 0 ≤ q ≤ 1e15. */
export const quantitySchema = z.number().min(0).max(1e15);

export const idempotencyKeySchema = z.string().min(1).max(128);

const CLIENT_ERRORS: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    'REQUEST_HEADERS_TOO_LARGE',
    'Request line and headers exceed 16 KiB',
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [
    408,
    'Request Timeout',
    'REQUEST_TIMEOUT',
    'The request took too long to arrive',
  ],
};

/**
 * Answers what Node's HTTP parser refuses before any route runs (a request line or headers over 16 KiB,
 * malformed HTTP, a request that never completes) with the spec §2.7 JSON envelope instead of Node's bare
 * status line. Attach it as the server's `clientError` listener. A connection the client already closed
 * (reset, aborted) is simply dropped: there is no one to answer.
 *
 * @example
 * ```ts
 * server.on('clientError', answerClientError);
 * ```
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] = CLIENT_ERRORS[err.code ?? ''] ?? [
    400,
    'Bad Request',
    'BAD_REQUEST',
    'Malformed HTTP request',
  ];
  const body = JSON.stringify({ error: message, code });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
