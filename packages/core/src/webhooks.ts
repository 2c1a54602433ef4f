/**
 * Webhook signatures (spec §8): `X-Drip-Signature: t=<epoch s>,v1=<hex>[,v1=<hex>]`, HMAC-SHA256 keyed
 * by the secret string as issued (including `whsec_`) over `<t>.<raw body>`. Web Crypto only, so it runs
 * on Node, Bun, Deno, edge runtimes and browsers.
 */

import { DripError, isRecord, validationError } from './errors';

const encoder = /* @__PURE__ */ new TextEncoder();

/**
 * A raw webhook body as received: text or bytes. Never re-serialise parsed JSON.
 *
 * @example
 * ```ts
 * await verifyWebhookSignature(await request.text(), header, secret);
 * ```
 */
export type WebhookPayload = string | Uint8Array | ArrayBuffer;

function toBytes(payload: WebhookPayload): Uint8Array {
  if (typeof payload === 'string') return encoder.encode(payload);
  if (payload instanceof Uint8Array) return payload;
  return new Uint8Array(payload);
}

/** `<t>.<raw body>`, the signed message of the `t=...,v1=...` form. */
function withTimestamp(t: string | number, body: Uint8Array): Uint8Array {
  const prefix = encoder.encode(`${t}.`);
  const message = new Uint8Array(prefix.length + body.length);
  message.set(prefix);
  message.set(body, prefix.length);
  return message;
}

async function hmacHex(secret: string, message: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto.subtle;
  const key = await subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  let hex = '';
  const signature = await subtle.sign('HMAC', key, message as Uint8Array<ArrayBuffer>);
  for (const b of new Uint8Array(signature)) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/**
 * Whether `body` starts with `<digits>.`, i.e. has the shape of a timestamped signed message `<t>.<body>`.
 * The bare form signs the body alone, so for such a body its HMAC equals the `v1` of a `t=<digits>`
 * signature over the rest: accepting it would let anyone replay a captured timestamped `v1` as a bare
 * signature, with no time limit. No Drip event body (a JSON object) has this shape.
 */
function looksTimestamped(body: Uint8Array): boolean {
  let i = 0;
  while (i < body.length && (body[i] as number) >= 0x30 && (body[i] as number) <= 0x39) i++;
  return i > 0 && body[i] === 0x2e;
}

/** Default allowed clock difference, seconds (spec §8.2). */
const DEFAULT_TOLERANCE_SEC = 300;

/**
 * The options of a verification, checked: a tolerance or clock that is not a finite number (or a negative
 * tolerance) would switch the replay window off (`x > NaN` is never true), so it is a caller's bug and
 * throws instead of quietly accepting old signatures.
 */
function verifyOptions(tolerance: number | VerifyWebhookOptions | undefined): {
  toleranceSec: number;
  now: number;
} {
  const opts: VerifyWebhookOptions =
    typeof tolerance === 'number' || typeof tolerance !== 'object' || tolerance === null
      ? { toleranceSec: tolerance as number | undefined }
      : tolerance;
  const toleranceSec = opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  if (typeof toleranceSec !== 'number' || !Number.isFinite(toleranceSec) || toleranceSec < 0) {
    throw validationError([
      {
        path: 'toleranceSec',
        message: `must be a finite number of seconds >= 0 (got ${String(toleranceSec)})`,
      },
    ]);
  }
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw validationError([
      { path: 'now', message: `must be a finite epoch time in seconds (got ${String(now)})` },
    ]);
  }
  return { toleranceSec, now };
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Signs a payload: returns `t=<timestamp>,v1=<hex>`. Pass several secrets to get one `v1` per secret
 * (newest first), as the server does during a rotation grace period.
 *
 * @example
 * ```ts
 * import { generateWebhookSignature } from '@drip/core';
 * const header = await generateWebhookSignature('{"id":"whe_1"}', 'whsec_abc', 1767225600);
 * // 't=1767225600,v1=5f2b...'
 * ```
 */
export async function generateWebhookSignature(
  payload: WebhookPayload,
  secret: string | readonly string[],
  timestamp: number = Math.floor(Date.now() / 1000),
): Promise<string> {
  const t = Math.floor(timestamp);
  const message = withTimestamp(t, toBytes(payload));
  let header = `t=${t}`;
  for (const s of typeof secret === 'string' ? [secret] : secret)
    header += `,v1=${await hmacHex(s, message)}`;
  return header;
}

/**
 * Options of {@link verifyWebhookSignature}.
 *
 * @example
 * ```ts
 * await verifyWebhookSignature(body, header, secret, { toleranceSec: 600 });
 * ```
 */
export interface VerifyWebhookOptions {
  /**
   * Allowed clock difference in seconds, both directions (default 300). A negative or non-finite value
   * throws a `VALIDATION_ERROR`: it cannot switch the replay window off.
   */
  toleranceSec?: number;
  /** Current time in epoch seconds (default now); for tests. */
  now?: number;
}

/**
 * Verifies a signature header against the raw body. Accepts several `v1` values and several secrets
 * (rotation), and the bare 64-hex form (HMAC of the body alone; no replay protection), except for a body
 * shaped `<digits>.<rest>`, whose bare HMAC would be a timestamped signature's `v1`: a timestamped
 * signature is only ever valid with its `t=` and within the tolerance. Any parse, tolerance or crypto
 * failure is `false`; only invalid options (a negative or non-finite tolerance, a non-finite `now`) throw a
 * `DripError` `VALIDATION_ERROR`.
 *
 * @example
 * ```ts
 * const ok = await verifyWebhookSignature(rawBody, req.headers['x-drip-signature'], [newSecret, oldSecret]);
 * ```
 */
export async function verifyWebhookSignature(
  payload: WebhookPayload,
  header: string | null | undefined,
  secret: string | readonly string[],
  tolerance?: number | VerifyWebhookOptions,
): Promise<boolean> {
  const { toleranceSec, now } = verifyOptions(tolerance);
  try {
    if (typeof header !== 'string' || header.trim() === '') return false;
    const secrets = (typeof secret === 'string' ? [secret] : [...secret]).filter(
      (s) => typeof s === 'string' && s.length > 0,
    );
    const body = toBytes(payload);
    let t: string | undefined;
    const v1: string[] = [];
    for (const part of header.split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const name = part.slice(0, eq).trim();
      const value = part.slice(eq + 1).trim();
      if (name === 't' && t === undefined) t = value;
      else if (name === 'v1') v1.push(value.toLowerCase());
    }
    let message = body;
    let candidates = v1;
    if (t === undefined && v1.length === 0) {
      // The bare form: 64 hex characters, the HMAC of the body alone.
      const bare = header.trim().toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(bare) || looksTimestamped(body)) return false;
      candidates = [bare];
    } else {
      if (t === undefined || !/^\d+$/.test(t) || v1.length === 0) return false;
      if (!(Math.abs(now - Number(t)) <= toleranceSec)) return false;
      message = withTimestamp(t, body);
    }
    let match = false;
    for (const s of secrets) {
      const expected = await hmacHex(s, message);
      for (const candidate of candidates) if (constantTimeEqual(expected, candidate)) match = true;
    }
    return match;
  } catch {
    return false;
  }
}

/**
 * Event types the local server emits, with their `data` shapes (spec §8.5).
 *
 * @example
 * ```ts
 * type Failed = DripWebhookEventMap['charge.failed']; // Charge with failureReason
 * ```
 */
export interface DripWebhookEventMap {
  'customer.created': Record<string, unknown> & { id: string };
  'usage.recorded': {
    usageEventId: string;
    customerId: string;
    usageType: string;
    quantity: number | string;
    units?: string | null;
    description?: string | null;
    metadata?: Record<string, unknown> | null;
    idempotencyKey: string;
    chargeId?: string | null;
    createdAt: string;
  };
  'charge.succeeded': Record<string, unknown> & { id: string; status: string };
  'charge.failed': Record<string, unknown> & { id: string; status: string; failureReason?: string | null };
  'customer.balance.low': {
    customerId: string;
    balanceUsdc: string;
    availableUsdc: string;
    thresholdUsdc: string;
  };
  'customer.spending.warning': SpendingAlertData & {
    level: 50 | 80 | 95;
    severity: 'low' | 'medium' | 'high';
  };
  'customer.spending.blocked': SpendingAlertData & { level: 100; severity: 'critical' };
  'customer.spending.exceeded': SpendingAlertData & { level: 100; severity: 'critical' };
  'api_key.created': { id: string; name: string; mode: 'test' | 'live'; publicKey: string };
  'webhook.endpoint.unhealthy': { webhookId: string; url: string; consecutiveFailures: number };
  'run.completed': RunEndedData;
  'run.failed': RunEndedData & { errorMessage?: string | null; errorCode?: string | null };
  'webhook.test': { webhookId: string; message: string };
}

/**
 * `data` of the spending-cap alerts.
 *
 * @example
 * ```ts
 * if (isWebhookEventType(event, 'customer.spending.warning')) console.log(event.data.level);
 * ```
 */
export interface SpendingAlertData {
  customerId: string;
  capId: string;
  capType: string;
  limitValue: string;
  currentUsage: string;
}

/**
 * `data` of `run.completed` / `run.failed`.
 *
 * @example
 * ```ts
 * if (isWebhookEventType(event, 'run.failed')) console.log(event.data.errorCode);
 * ```
 */
export interface RunEndedData {
  runId: string;
  customerId: string;
  workflowId: string;
  workflowName: string;
  status: string;
  durationMs?: number | null;
  eventCount: number;
  totalCostUnits?: string | null;
}

/**
 * A known webhook event, typed by `type`.
 *
 * @example
 * ```ts
 * const e: KnownDripWebhookEvent = { id: 'whe_1', type: 'webhook.test', createdAt, data: { webhookId, message } };
 * ```
 */
export type KnownDripWebhookEvent = {
  [K in keyof DripWebhookEventMap]: { id: string; type: K; createdAt: string; data: DripWebhookEventMap[K] };
}[keyof DripWebhookEventMap];

/**
 * A webhook event: one of the known types (narrow on `type`) or an unknown type kept as is.
 *
 * @example
 * ```ts
 * if (event.type === 'charge.failed') console.log(event.data.failureReason);
 * ```
 */
export type DripWebhookEvent =
  | KnownDripWebhookEvent
  | { id: string; type: string & {}; createdAt: string; data: unknown };

/**
 * Verifies the signature, then parses the body into a typed event. Throws `DripError` 400
 * `INVALID_SIGNATURE` when the signature does not match, 400 `INVALID_PAYLOAD` when the body is not an
 * event, or 422 `VALIDATION_ERROR` for a negative or non-finite tolerance.
 *
 * @example
 * ```ts
 * const event = await constructWebhookEvent(rawBody, signatureHeader, process.env.DRIP_WEBHOOK_SECRET!);
 * if (event.type === 'usage.recorded') console.log(event.data.quantity);
 * ```
 */
export async function constructWebhookEvent(
  payload: WebhookPayload,
  header: string | null | undefined,
  secret: string | readonly string[],
  tolerance?: number | VerifyWebhookOptions,
): Promise<DripWebhookEvent> {
  if (!(await verifyWebhookSignature(payload, header, secret, tolerance))) {
    throw new DripError('Webhook signature verification failed', 400, 'INVALID_SIGNATURE');
  }
  const text = typeof payload === 'string' ? payload : new TextDecoder().decode(toBytes(payload));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new DripError('Webhook body is not JSON', 400, 'INVALID_PAYLOAD', undefined, undefined, cause);
  }
  if (!isRecord(parsed) || typeof parsed.type !== 'string' || typeof parsed.id !== 'string') {
    throw new DripError('Webhook body is not a Drip event', 400, 'INVALID_PAYLOAD');
  }
  return parsed as DripWebhookEvent;
}

/**
 * Narrows an event to one known type (plain `event.type === '...'` cannot narrow `data`, because the
 * union keeps unknown types open).
 *
 * @example
 * ```ts
 * if (isWebhookEventType(event, 'charge.failed')) console.log(event.data.failureReason);
 * ```
 */
export function isWebhookEventType<K extends keyof DripWebhookEventMap>(
  event: DripWebhookEvent,
  type: K,
): event is Extract<KnownDripWebhookEvent, { type: K }> {
  return event.type === type;
}
