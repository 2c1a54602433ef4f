/**
 * Hand-written validators for the common shapes of the bulk routes. A bulk request carries up to 1000
 * usage items or 500 runs, and running the zod schemas item by item cost more CPU than storing them.
 *
 * Each function here accepts a subset of what its zod schema accepts and returns exactly the zod output
 * for it (same keys, same values, defaults applied), or `undefined` when the item is not in that subset:
 * an invalid item, or a valid one in a rarer form (a timestamp with an offset, say). The caller then runs
 * the zod schema, which stays the single source of error messages. Property tests hold the two together
 * (`fast-parse.test.ts`).
 */

/** Metadata and extra event fields: at most 16 KiB serialised and 5 levels deep (spec §2.4). */
const MAX_JSON_CHARS = 16 * 1024;
const MAX_JSON_DEPTH = 5;

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Nesting depth of a JSON value as `depthOf` in http.ts counts it, stopping early past `limit`. */
function depthWithin(v: unknown, limit: number): boolean {
  if (v === null || typeof v !== 'object') return true;
  if (limit <= 0) return false;
  if (Array.isArray(v)) {
    for (const c of v) if (!depthWithin(c, limit - 1)) return false;
    return true;
  }
  for (const k in v) if (!depthWithin((v as Obj)[k], limit - 1)) return false;
  return true;
}

/**
 * An upper bound of `JSON.stringify(v).length` (a string can grow six-fold when escaped; a number takes at
 * most 24 characters), or Infinity when `v` is nested deeper than `limit` (counted as `depthOf` does).
 */
function jsonBound(v: unknown, limit: number): number {
  if (typeof v === 'string') return 6 * v.length + 2;
  if (v === null || typeof v !== 'object') return 24;
  if (limit <= 0) return Number.POSITIVE_INFINITY;
  let n = 2;
  if (Array.isArray(v)) {
    for (const c of v) n += jsonBound(c, limit - 1) + 1;
    return n;
  }
  for (const k in v) n += 6 * k.length + 4 + jsonBound((v as Obj)[k], limit - 1);
  return n;
}

/** A metadata value the zod `metadataSchema` accepts unchanged, or undefined. */
function fastMetadata(v: unknown): Obj | undefined {
  if (!isObject(v)) return undefined;
  const bound = jsonBound(v, MAX_JSON_DEPTH);
  if (bound === Number.POSITIVE_INFINITY) return undefined;
  // Serialised only when the bound cannot settle the size limit on its own.
  if (bound > MAX_JSON_CHARS && JSON.stringify(v).length > MAX_JSON_CHARS) return undefined;
  return v;
}

/** Optional string field: absent (or null), or a string of `min`-`max` UTF-16 units. */
function str(v: unknown, min: number, max: number): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.length >= min && v.length <= max);
}

const present = (v: unknown) => v !== undefined && v !== null;

/** A quantity (spec §2.9) or absent. */
function qty(v: unknown): boolean {
  return (
    v === undefined || v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1e15)
  );
}

/** The output of the usage body schema (`usageSchema` in usage.ts). */
export interface FastUsage {
  customerId?: string;
  externalCustomerId?: string;
  usageType: string;
  quantity: number;
  units?: string;
  description?: string;
  metadata?: Record<string, unknown>;
  idempotencyKey: string;
}

/** A bulk usage item in the common form, as `usageSchema.parse(stripNulls(raw))` returns it, or undefined. */
export function fastUsageItem(raw: unknown): FastUsage | undefined {
  if (!isObject(raw)) return undefined;
  const {
    customerId,
    externalCustomerId,
    usageType,
    quantity,
    units,
    description,
    metadata,
    idempotencyKey,
  } = raw;
  if (typeof idempotencyKey !== 'string' || idempotencyKey.length < 1 || idempotencyKey.length > 128)
    return undefined;
  if (present(customerId) === present(externalCustomerId)) return undefined;
  if (!str(customerId, 1, 64) || !str(externalCustomerId, 1, 255)) return undefined;
  if (!str(usageType, 1, 100) || !qty(quantity) || !str(units, 0, 50) || !str(description, 0, 500))
    return undefined;
  const out: FastUsage = {
    usageType: present(usageType) ? (usageType as string) : 'generic',
    quantity: present(quantity) ? (quantity as number) : 1,
    idempotencyKey,
  };
  if (present(customerId)) out.customerId = customerId as string;
  if (present(externalCustomerId)) out.externalCustomerId = externalCustomerId as string;
  if (present(units)) out.units = units as string;
  if (present(description)) out.description = description as string;
  if (present(metadata)) {
    const m = fastMetadata(metadata);
    if (!m) return undefined;
    out.metadata = m;
  }
  return out;
}

const END_STATUSES = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT']);
const OUTCOMES = new Set(['PENDING', 'SUCCEEDED', 'FAILED', 'SKIPPED', 'RETRIED', 'TIMEOUT', 'CANCELLED']);

// UTC with milliseconds (what clients send, and what toISOString() writes); zod also accepts offsets and
// other precisions, which go through it.
const ISO_UTC_MS = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

/** Epoch ms of a timestamp in the fast form (a real calendar date), else undefined. */
export function fastIsoMs(v: string): number | undefined {
  const m = ISO_UTC_MS.exec(v);
  if (!m) return undefined;
  // zod refuses a day the month does not have (02-30); Date.parse would roll it over.
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days =
    month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return day > days ? undefined : Date.parse(v);
}

/** The output of `recordSchema` (runs.ts) before its events are parsed. */
export interface FastRecord {
  customerId: string;
  workflow: string;
  events: unknown[];
  status: 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMEOUT';
  errorMessage?: string;
  errorCode?: string;
  externalRunId?: string;
  correlationId?: string;
  metadata?: Record<string, unknown>;
  idempotencyKey?: string;
  startedAt?: string;
  endedAt?: string;
}

/**
 * A `/runs/record` body in the common form, as `recordSchema.parse(stripNulls(raw))` returns it (the
 * `events` array itself is not copied; its items are parsed by {@link fastEventItem}), or undefined.
 * `now` is the request time for the "at most 5 minutes in the future" rule.
 */
export function fastRecordBody(raw: unknown, now: number): FastRecord | undefined {
  if (!isObject(raw)) return undefined;
  const {
    customerId,
    workflow,
    events,
    status,
    errorMessage,
    errorCode,
    externalRunId,
    correlationId,
    metadata,
    idempotencyKey,
    startedAt,
    endedAt,
  } = raw;
  if (typeof customerId !== 'string' || customerId.length < 1 || customerId.length > 64) return undefined;
  if (typeof workflow !== 'string' || workflow.length < 1 || workflow.length > 100) return undefined;
  if (typeof status !== 'string' || !END_STATUSES.has(status)) return undefined;
  if (present(events) && (!Array.isArray(events) || events.length > 100)) return undefined;
  if (!str(errorMessage, 0, 2000) || !str(errorCode, 0, 100) || !str(externalRunId, 1, 255)) return undefined;
  if (!str(correlationId, 0, 255) || !str(idempotencyKey, 1, 128)) return undefined;
  if (
    (present(startedAt) && typeof startedAt !== 'string') ||
    (present(endedAt) && typeof endedAt !== 'string')
  )
    return undefined;
  const s = present(startedAt) ? fastIsoMs(startedAt as string) : undefined;
  const e = present(endedAt) ? fastIsoMs(endedAt as string) : undefined;
  if ((present(startedAt) && s === undefined) || (present(endedAt) && e === undefined)) return undefined;
  const limit = now + 5 * 60_000;
  if (s !== undefined && e !== undefined && s > e) return undefined;
  if ((s ?? 0) > limit || (e ?? 0) > limit) return undefined;
  const out: FastRecord = {
    customerId,
    workflow,
    events: present(events) ? (events as unknown[]) : [],
    status: status as FastRecord['status'],
  };
  if (present(errorMessage)) out.errorMessage = errorMessage as string;
  if (present(errorCode)) out.errorCode = errorCode as string;
  if (present(externalRunId)) out.externalRunId = externalRunId as string;
  if (present(correlationId)) out.correlationId = correlationId as string;
  if (present(metadata)) {
    const m = fastMetadata(metadata);
    if (!m) return undefined;
    out.metadata = m;
  }
  if (present(idempotencyKey)) out.idempotencyKey = idempotencyKey as string;
  if (present(startedAt)) out.startedAt = startedAt as string;
  if (present(endedAt)) out.endedAt = endedAt as string;
  return out;
}

/** Named fields of a run event with their string limits ([min, max]); others are checked below. */
const EVENT_STRINGS: Record<string, readonly [number, number]> = {
  runId: [1, 64],
  customerId: [1, 64],
  workflowId: [1, 100],
  eventType: [1, 100],
  units: [0, 50],
  description: [0, 500],
  costCurrency: [0, 10],
  correlationId: [0, 255],
  parentEventId: [1, 64],
  spanId: [0, 64],
  actionName: [0, 255],
  explanation: [0, 2000],
  idempotencyKey: [1, 128],
};

/** The output of `eventItemSchema` (runs.ts): named fields checked, extra fields kept. */
export type FastEvent = Record<string, unknown> & { eventType: string; quantity: number };

/**
 * A run event item in the common form, as `eventItemSchema.parse(stripNulls(raw))` returns it (extra
 * fields kept, `quantity` defaulted), or undefined. `named` says which keys are named fields.
 */
export function fastEventItem(raw: unknown, named: ReadonlySet<string>): FastEvent | undefined {
  if (!isObject(raw) || typeof raw.eventType !== 'string') return undefined;
  const out: Obj = {};
  let extra: Obj | undefined;
  for (const k in raw) {
    const v = raw[k];
    if (v === null || v === undefined) continue;
    if (named.has(k)) {
      const lim = EVENT_STRINGS[k];
      if (lim !== undefined) {
        if (typeof v !== 'string' || v.length < lim[0] || v.length > lim[1]) return undefined;
      } else if (k === 'quantity' || k === 'costUnits') {
        if (!qty(v)) return undefined;
      } else if (k === 'outcome') {
        if (typeof v !== 'string' || !OUTCOMES.has(v)) return undefined;
      } else if (k === 'metadata') {
        if (!fastMetadata(v)) return undefined;
      } else return undefined;
    } else {
      extra ??= {};
      extra[k] = v;
    }
    out[k] = v;
  }
  if (out.quantity === undefined) out.quantity = 1;
  if (extra !== undefined) {
    const text = JSON.stringify(extra);
    if (text.length > MAX_JSON_CHARS || !depthWithin(extra, MAX_JSON_DEPTH)) return undefined;
  }
  return out as FastEvent;
}
