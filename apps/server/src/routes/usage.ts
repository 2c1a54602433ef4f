import type { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv, Deps, Queryable, Scope } from '../context';
import {
  ApiError,
  idempotencyKeySchema,
  metadataSchema,
  notFound,
  pageQuery,
  pathId,
  quantitySchema,
  readJson,
  send,
  validate,
  validateQuery,
} from '../http';
import {
  claimKeysAnd,
  fingerprint,
  inProgress,
  type KeyedItem,
  lostKeys,
  type Outcome,
  reserveKeys,
  reused,
  runIdempotent,
} from '../idempotency';
import { chargeInfoOut } from '../shapes';
import {
  canonicalJson,
  decimalText,
  formatMicros,
  multiplyMicros,
  newId,
  numberToMicros,
  sha256,
  toBig,
} from '../util';
import { fastUsageItem } from './fast-parse';
import { Emitter } from '../webhooks/emit';
import {
  blockedError,
  checkCaps,
  checkLowBalance,
  fireCapAlert,
  loadCharge,
  pausedError,
  unitPriceMicros,
  writeCharge,
} from './billing';
import { CHARGE_SELECT, chargeOut } from '../shapes';
import { customerNotFound, pagedList, resolveCustomer, Where } from './common';

/** The shared usage body of every `POST /usage*` route (spec §3.3). */
export const usageSchema = z
  .object({
    customerId: z.string().min(1).max(64).optional(),
    externalCustomerId: z.string().min(1).max(255).optional(),
    usageType: z.string().min(1).max(100).default('generic'),
    quantity: quantitySchema.default(1),
    units: z.string().max(50).optional(),
    description: z.string().max(500).optional(),
    metadata: metadataSchema.optional(),
    idempotencyKey: idempotencyKeySchema,
  })
  .refine((b) => (b.customerId === undefined) !== (b.externalCustomerId === undefined), {
    message: 'exactly one of customerId and externalCustomerId is required',
    path: ['customerId'],
  });

export type UsageBody = z.output<typeof usageSchema>;

/** Rounds the quantity half up to 6 decimals (spec §2.9) and returns [body for fingerprint, decimal text]. */
function normalise(body: UsageBody): { body: UsageBody; quantityText: string } {
  const text = decimalText(body.quantity);
  const quantity = Number(text);
  return { body: quantity === body.quantity ? body : { ...body, quantity }, quantityText: text };
}

/**
 * Fingerprint of a usage body (spec §5.1): the same fields as the generic canonical-JSON fingerprint,
 * in a fixed order (a JSON array is unambiguous), which avoids sorting keys for every item of a bulk.
 */
function usageFingerprint(routeClass: string, b: UsageBody): string {
  const parts = [
    b.customerId ?? null,
    b.externalCustomerId ?? null,
    b.usageType,
    b.quantity,
    b.units ?? null,
    b.description ?? null,
  ];
  const meta = b.metadata === undefined ? '' : canonicalJson(b.metadata);
  return `${routeClass}:${sha256(`${JSON.stringify(parts)}\u0000${meta}`)}`;
}

/** The outcome of one usage item; `id` is the usage event id of a recorded (or replayed) item. */
type ItemResult = {
  status: number;
  id?: string;
  body?: Record<string, unknown>;
  error?: ApiError;
  replayed?: boolean;
};

const usageRecorded = (
  id: string,
  b: UsageBody,
  customerId: string,
  qty: string,
  createdAt: string,
  chargeId?: string,
) => ({
  usageEventId: id,
  customerId,
  usageType: b.usageType,
  quantity: Number(qty),
  units: b.units ?? null,
  description: b.description ?? null,
  metadata: b.metadata ?? null,
  idempotencyKey: b.idempotencyKey,
  chargeId: chargeId ?? null,
  createdAt,
});

/** Response body of `/usage/internal` (201) or `/usage/internal/batch` (202) for a recorded item. */
function internalBody(
  routeClass: 'usage:internal' | 'usage:internal-batch',
  id: string,
  b: UsageBody,
  cust: { id: string; is_internal: boolean },
  isDuplicate: boolean,
): Record<string, unknown> {
  return routeClass === 'usage:internal'
    ? {
        success: true,
        usageEventId: id,
        customerId: cust.id,
        usageType: b.usageType,
        quantity: b.quantity,
        units: b.units ?? null,
        description: b.description ?? null,
        isInternal: Boolean(cust.is_internal),
        message: 'Usage recorded',
        isDuplicate,
      }
    : {
        success: true,
        usageEventId: id,
        customerId: cust.id,
        usageType: b.usageType,
        quantity: b.quantity,
        idempotencyKey: b.idempotencyKey,
        pendingEvents: 0,
        message: 'Usage recorded',
        isDuplicate,
      };
}

/**
 * The usage rows of {@link ingestInternal}, written with the keys that claim them (`claimKeysAnd`): rows
 * `[id, customer, usageType, quantity, units, description, metadata]` of the keys won, created at $5.
 */
const INSERT_CLAIMED_USAGE = `INSERT INTO events (id, project_id, mode, kind, customer_id, event_type, idempotency_key, usage_type, quantity, units, description, metadata, created_at)
  SELECT r->>0, $1, $2, 'usage', r->>1, 'USAGE', r->>7, r->>2, (r->>3)::numeric, r->>4, r->>5, nullif(r->6, 'null'::jsonb), $5
  FROM claimed_rows`;

/** "The scope has an active webhook": usage must then be emitted in the transaction of its write. */
const ACTIVE_WEBHOOK =
  'SELECT 1 FROM webhooks WHERE project_id = $1 AND mode = $2 AND is_active AND deleted_at IS NULL LIMIT 1';

/**
 * Set-based ingest of internal usage (no price, balance or cap checks) for `/usage/internal`,
 * `/usage/internal/batch` and `/usage/internal/bulk`. All items share one transaction and a handful of
 * statements; each item is still applied or refused on its own (spec §5.1, §10). The items travel to the
 * database as one JSON document (one parameter). Response bodies are built only when `withBodies` is
 * set (the single-item routes); the bulk route needs the event id alone.
 */
export async function ingestInternal(
  deps: Deps,
  scope: Scope,
  items: UsageBody[],
  routeClass: 'usage:internal' | 'usage:internal-batch',
  withBodies = true,
): Promise<ItemResult[]> {
  const count = items.length;
  const results: (ItemResult | undefined)[] = new Array(count);
  const bodies: UsageBody[] = new Array(count);
  const qtys: string[] = new Array(count);
  const fps: string[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const n = normalise(items[i] as UsageBody);
    bodies[i] = n.body;
    qtys[i] = n.quantityText;
    fps[i] = usageFingerprint(routeClass, n.body);
  }
  const firstByKey = new Map<string, number>();
  const dupOf = new Map<number, number>();
  const toReserve: (KeyedItem | undefined)[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const key = (bodies[i] as UsageBody).idempotencyKey;
    const seen = firstByKey.get(key);
    if (seen !== undefined) {
      if (fps[seen] === fps[i]) dupOf.set(i, seen);
      else results[i] = { status: 409, error: reused(key) };
      continue;
    }
    firstByKey.set(key, i);
    toReserve[i] = { key, fp: fps[i] as string };
  }
  const reservation = reserveKeys(deps, scope, toReserve);
  for (const [i, error] of reservation.refused) results[i] = { status: 409, error };
  const status = routeClass === 'usage:internal' ? 201 : 202;
  const custOf: ({ id: string; is_internal: boolean } | undefined)[] = new Array(count);
  const ids: string[] = new Array(count);
  let deliveries = 0;
  // Fast path: one statement claims the keys and inserts the events, guarded by "no active webhook"
  // (a single statement is atomic, so no explicit transaction). With webhooks the same statement runs
  // unguarded in a transaction, followed by the emits.
  const work = async (tx: Queryable, fast: boolean): Promise<'slow' | undefined> => {
    const todo: number[] = [];
    const custIds = new Set<string>();
    const exts = new Set<string>();
    for (let i = 0; i < count; i++) {
      if (results[i] !== undefined || dupOf.has(i)) continue;
      todo.push(i);
      const b = bodies[i] as UsageBody;
      if (b.customerId !== undefined) custIds.add(b.customerId);
      else if (b.externalCustomerId !== undefined) exts.add(b.externalCustomerId);
    }
    if (todo.length === 0) return undefined;
    const custs = await tx.query<{ id: string; external_customer_id: string | null; is_internal: boolean }>(
      `SELECT id, external_customer_id, is_internal FROM customers
         WHERE project_id = $1 AND mode = $2 AND (id = ANY($3::text[]) OR external_customer_id = ANY($4::text[]))`,
      [scope.projectId, scope.mode, [...custIds], [...exts]],
    );
    const byId = new Map(custs.map((r) => [r.id, r]));
    const byExt = new Map(
      custs.filter((r) => r.external_customer_id !== null).map((r) => [r.external_customer_id, r]),
    );
    const now = new Date().toISOString();
    const claim: number[] = [];
    for (const i of todo) {
      const b = bodies[i] as UsageBody;
      const cust =
        b.customerId !== undefined ? byId.get(b.customerId) : byExt.get(b.externalCustomerId ?? '');
      if (!cust) {
        results[i] = { status: 404, error: customerNotFound(b) };
        continue;
      }
      custOf[i] = cust;
      ids[i] = newId('use');
      claim.push(i);
    }
    if (claim.length === 0) return undefined;
    const keyOf = (i: number) => (bodies[i] as UsageBody).idempotencyKey;
    // Keys and events in one statement. Only the event id is stored with the key: a replay has the same
    // fingerprint, so the rest of the body is this one. The fast path claims nothing when the scope has
    // an active webhook: the events must then be emitted in the same transaction, so the work runs again
    // on the transactional path.
    const r = await claimKeysAnd(
      tx,
      scope,
      claim.map((i) => {
        const b = bodies[i] as UsageBody;
        return {
          key: b.idempotencyKey,
          fp: fps[i] as string,
          stored: { status, json: `{"usageEventId":"${ids[i]}"}` },
          row: [
            ids[i],
            (custOf[i] as { id: string }).id,
            b.usageType,
            qtys[i],
            b.units ?? null,
            b.description ?? null,
            b.metadata ?? null,
            b.idempotencyKey,
          ],
        };
      }),
      { sql: INSERT_CLAIMED_USAGE, params: [now], unless: fast ? ACTIVE_WEBHOOK : undefined },
    );
    if (r.blocked) return 'slow';
    const won = r.won;
    const lost = won.size === claim.length ? [] : claim.filter((i) => !won.has(keyOf(i)));
    if (lost.length > 0) {
      const verdicts = await lostKeys(
        tx,
        scope,
        lost.map((i) => ({ key: keyOf(i), fp: fps[i] as string })),
      );
      for (const i of lost) {
        const v = verdicts.get(keyOf(i));
        results[i] =
          v?.kind === 'replay'
            ? { status: v.status, id: String(v.response.usageEventId), replayed: true }
            : { status: 409, error: v?.error ?? inProgress(keyOf(i)) };
      }
    }
    const fresh = lost.length === 0 ? claim : claim.filter((i) => won.has(keyOf(i)));
    if (fresh.length === 0) return undefined;
    for (const i of fresh) results[i] = { status, id: ids[i] as string };
    if (fast) return undefined;
    const em = new Emitter(tx, scope);
    for (const i of fresh) {
      await em.emit(
        'usage.recorded',
        usageRecorded(
          ids[i] as string,
          bodies[i] as UsageBody,
          (custOf[i] as { id: string }).id,
          qtys[i] as string,
          now,
        ),
      );
    }
    deliveries = em.deliveries;
    return undefined;
  };
  try {
    if ((await work(deps.db, true)) === 'slow') {
      for (let i = 0; i < count; i++)
        if (results[i]?.status === 404 || results[i]?.id !== undefined) results[i] = undefined;
      await deps.db.transaction((tx) => work(tx, false));
    }
  } finally {
    reservation.release();
  }
  if (deliveries > 0) deps.wake();
  for (const [i, first] of dupOf) {
    const r = results[first];
    results[i] = r?.id !== undefined ? { status: r.status, id: r.id, replayed: true } : r;
  }
  const out: ItemResult[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const r = results[i];
    if (!r) {
      out[i] = { status: 500, error: new ApiError(500, 'INTERNAL_ERROR', 'Item not processed') };
      continue;
    }
    if (withBodies && r.id !== undefined) {
      const cust = custOf[i] ?? custOf[dupOf.get(i) ?? -1];
      const b = bodies[i] as UsageBody;
      r.body = internalBody(
        routeClass,
        r.id,
        b,
        cust ?? { id: b.customerId ?? '', is_internal: false },
        Boolean(r.replayed),
      );
    }
    out[i] = r;
  }
  return out;
}

/** The charging path of `POST /usage` (sync) and `POST /usage/async` (spec §3.3). */
async function chargeUsage(
  tx: Queryable,
  deps: Deps,
  scope: Scope,
  raw: UsageBody,
  isAsync: boolean,
): Promise<Outcome> {
  const { body: b, quantityText } = normalise(raw);
  const cust = await resolveCustomer(tx, scope, b, true);
  if (cust.status === 'PAUSED') throw pausedError();
  const em = new Emitter(tx, scope);
  const customerId = String(cust.id);
  const usageId = newId('use');
  const now = new Date().toISOString();
  const insertUsage = async () =>
    tx.query(
      `INSERT INTO events (id, project_id, mode, kind, customer_id, event_type, idempotency_key, usage_type, quantity, units, description, metadata, created_at)
       VALUES ($1, $2, $3, 'usage', $4, 'USAGE', $5, $6, $7::numeric, $8, $9, $10::jsonb, $11)`,
      [
        usageId,
        scope.projectId,
        scope.mode,
        customerId,
        b.idempotencyKey,
        b.usageType,
        quantityText,
        b.units ?? null,
        b.description ?? null,
        b.metadata ? JSON.stringify(b.metadata) : null,
        now,
      ],
    );
  const wake = () => deps.wake();
  if (cust.is_internal) {
    await insertUsage();
    await em.emit('usage.recorded', usageRecorded(usageId, b, customerId, quantityText, now));
    const body = {
      success: true,
      usageEventId: usageId,
      isDuplicate: false,
      charge: null,
      mode: 'internal',
      autoPromoted: true,
      reason: 'INTERNAL_CUSTOMER',
    };
    return {
      status: isAsync ? 202 : 201,
      body: isAsync ? { ...body, message: 'Usage recorded (internal customer, not charged)' } : body,
      after: wake,
    };
  }
  const price = unitPriceMicros(deps, scope, b.usageType);
  if (price === undefined)
    throw notFound('PRICING_PLAN_NOT_FOUND', `Pricing plan for usage type "${b.usageType}"`);
  const amount = multiplyMicros(numberToMicros(b.quantity), price);
  const caps = await checkCaps(tx, customerId, amount);
  if (caps.blocked) throw blockedError();
  const available = toBig(cust.balance_micros) - toBig(cust.pending_micros);
  if (!isAsync && available < amount) {
    throw new ApiError(402, 'PAYMENT_REQUIRED', 'Insufficient balance', {
      extra: {
        payment: {
          amount: formatMicros(amount),
          currency: 'USDC',
          description: `${b.quantity} ${b.usageType}`,
          usageId: null,
        },
        checkout_url: null,
      },
    });
  }
  await insertUsage();
  const chargeId = await writeCharge(
    tx,
    scope,
    customerId,
    usageId,
    amount,
    isAsync ? 'PENDING' : 'CONFIRMED',
  );
  await tx.query('UPDATE events SET charge_id = $2 WHERE id = $1', [usageId, chargeId]);
  await em.emit('usage.recorded', usageRecorded(usageId, b, customerId, quantityText, now, chargeId));
  for (const a of caps.alerts) await fireCapAlert(tx, em, a.cap, a.level, a.used);
  const charge = await loadCharge(tx, chargeId);
  if (!isAsync && charge) await em.emit('charge.succeeded', chargeOut(charge));
  await checkLowBalance(tx, deps, em, customerId);
  const info = charge ? chargeInfoOut(charge) : null;
  if (isAsync) {
    return {
      status: 202,
      body: {
        success: true,
        usageEventId: usageId,
        isDuplicate: false,
        charge: info ? { ...info, estimatedConfirmationTime: null } : null,
        message: 'Usage recorded; charge settling',
      },
      after: wake,
    };
  }
  return {
    status: 201,
    body: { success: true, usageEventId: usageId, isDuplicate: false, charge: info },
    after: wake,
  };
}

function replayHeaders(o: { replayed?: boolean }): Record<string, string> {
  return o.replayed ? { 'Idempotent-Replayed': 'true' } : {};
}

const bulkSchema = z.object({ events: z.array(z.unknown()).min(1).max(1000) });

export function registerUsage(api: Hono<AppEnv>, deps: Deps): void {
  for (const [path, isAsync] of [
    ['/usage', false],
    ['/usage/async', true],
  ] as const) {
    api.post(path, async (c) => {
      const auth = c.get('auth');
      const body = validate(usageSchema, await readJson(c));
      const fp = fingerprint(isAsync ? 'usage:async' : 'usage:sync', normalise(body).body);
      const out = await runIdempotent(deps, auth, body.idempotencyKey, fp, (tx) =>
        chargeUsage(tx, deps, auth, body, isAsync),
      );
      return send(c, out.status, out.body, replayHeaders(out));
    });
  }

  for (const [path, cls] of [
    ['/usage/internal', 'usage:internal'],
    ['/usage/internal/batch', 'usage:internal-batch'],
  ] as const) {
    api.post(path, async (c) => {
      const body = validate(usageSchema, await readJson(c));
      const [r] = await ingestInternal(deps, c.get('auth'), [body], cls);
      if (!r) throw new ApiError(500, 'INTERNAL_ERROR', 'No result');
      if (r.error) throw r.error;
      return send(c, r.status, r.body ?? {}, replayHeaders(r));
    });
  }

  api.get('/charges', async (c) => {
    const auth = c.get('auth');
    const q = validateQuery(
      z.object({
        ...pageQuery(100),
        customerId: z.string().max(64).optional(),
        status: z
          .enum(['PENDING', 'PENDING_SETTLEMENT', 'CONFIRMED', 'FAILED', 'REFUNDED', 'REFUND_PENDING'])
          .optional(),
      }),
      c,
    );
    const where = new Where(auth, 'ch')
      .add('ch.customer_id = ?', q.customerId)
      .add('ch.status = ?', q.status);
    const { rows, count } = await pagedList(
      deps.db,
      CHARGE_SELECT.slice(0, CHARGE_SELECT.indexOf(' FROM charges')),
      CHARGE_SELECT.slice(CHARGE_SELECT.indexOf('FROM charges')),
      where,
      'ch.created_at DESC, ch.id DESC',
      q.limit,
      q.offset,
    );
    return send(c, 200, { data: rows.map(chargeOut), count, hasMore: q.offset + rows.length < count });
  });

  api.get('/charges/:id', async (c) => {
    const auth = c.get('auth');
    const id = pathId(c, 'id', 'CHARGE_NOT_FOUND', 'Charge');
    const [row] = await deps.db.query(
      `${CHARGE_SELECT} WHERE ch.id = $1 AND ch.project_id = $2 AND ch.mode = $3`,
      [id, auth.projectId, auth.mode],
    );
    if (!row) throw notFound('CHARGE_NOT_FOUND', 'Charge');
    return send(c, 200, chargeOut(row));
  });

  api.post('/usage/internal/bulk', async (c) => {
    const { events } = validate(bulkSchema, await readJson(c));
    const valid: UsageBody[] = [];
    const at: number[] = [];
    const results: Record<string, unknown>[] = new Array(events.length);
    for (let index = 0; index < events.length; index++) {
      const raw = events[index];
      // The hand-written check takes the common shape; anything else gets zod and its messages.
      const fast = fastUsageItem(raw);
      if (fast) {
        valid.push(fast);
        at.push(index);
        continue;
      }
      const res = usageSchema.safeParse(stripNulls(raw));
      if (res.success) {
        valid.push(res.data);
        at.push(index);
      } else {
        results[index] = {
          index,
          status: 422,
          error: {
            code: 'VALIDATION_ERROR',
            error: 'Invalid item',
            details: res.error.issues
              .slice(0, 10)
              .map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
          },
        };
      }
    }
    const out =
      valid.length > 0 ? await ingestInternal(deps, c.get('auth'), valid, 'usage:internal', false) : [];
    for (let j = 0; j < out.length; j++) {
      const r = out[j] as (typeof out)[number];
      const index = at[j] ?? 0;
      results[index] = r.error
        ? { index, status: r.status, error: { code: r.error.code, error: r.error.message, ...r.error.extra } }
        : { index, status: r.status, usageEventId: r.id, isDuplicate: Boolean(r.replayed) };
    }
    return send(c, 200, { results });
  });
}

/** Drops `null` values at the top level of an item (null is treated like absent, spec §2.4). */
export function stripNulls(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null));
}
