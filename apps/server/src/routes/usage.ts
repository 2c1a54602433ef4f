import { createHash } from 'node:crypto';
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
import { fingerprint, inflightKey, inProgress, type Outcome, reused, runIdempotent } from '../idempotency';
import { chargeInfoOut } from '../shapes';
import { canonicalJson, formatMicros, multiplyMicros, newId, numberToMicros, toBig } from '../util';
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
import { pagedList, resolveCustomer, Where } from './common';

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
  const quantityText = formatMicros(numberToMicros(body.quantity));
  return { body: { ...body, quantity: Number(quantityText) }, quantityText };
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
  return `${routeClass}:${createHash('sha256').update(JSON.stringify(parts)).update('\u0000').update(meta).digest('hex')}`;
}

type ItemResult = { status: number; body?: Record<string, unknown>; error?: ApiError; replayed?: boolean };

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

/**
 * Set-based ingest of internal usage (no price, balance or cap checks) for `/usage/internal`,
 * `/usage/internal/batch` and `/usage/internal/bulk`. All items share one transaction and a handful of
 * statements; each item is still applied or refused on its own (spec §5.1, §10).
 */
export async function ingestInternal(
  deps: Deps,
  scope: Scope,
  items: UsageBody[],
  routeClass: 'usage:internal' | 'usage:internal-batch',
): Promise<ItemResult[]> {
  const results: (ItemResult | undefined)[] = new Array(items.length);
  const norm = items.map(normalise);
  const fps = norm.map((n) => usageFingerprint(routeClass, n.body));
  const firstByKey = new Map<string, number>();
  const dupOf = new Map<number, number>();
  const mine: string[] = [];
  norm.forEach((n, i) => {
    const key = n.body.idempotencyKey;
    const seen = firstByKey.get(key);
    if (seen !== undefined) {
      if (fps[seen] === fps[i]) dupOf.set(i, seen);
      else
        results[i] = {
          status: 409,
          error: reused(key),
        };
      return;
    }
    firstByKey.set(key, i);
    const local = inflightKey(scope, key);
    const running = deps.inflight.get(local);
    if (running !== undefined) {
      results[i] =
        running === fps[i]
          ? {
              status: 409,
              error: inProgress(key),
            }
          : {
              status: 409,
              error: reused(key),
            };
      return;
    }
    deps.inflight.set(local, fps[i] ?? '');
    mine.push(local);
  });
  let deliveries = 0;
  // Fast path: one statement claims the keys and inserts the events, guarded by "no active webhook"
  // (a single statement is atomic, so no explicit transaction). With webhooks the events must be
  // emitted in the same transaction, so the work runs again on the transactional path.
  const work = async (tx: Queryable, fast: boolean): Promise<'slow' | undefined> => {
    const todo = norm.map((_, i) => i).filter((i) => results[i] === undefined && !dupOf.has(i));
    if (todo.length === 0) return undefined;
    const ids = [
      ...new Set(todo.map((i) => norm[i]?.body.customerId).filter((v): v is string => v !== undefined)),
    ];
    const exts = [
      ...new Set(
        todo.map((i) => norm[i]?.body.externalCustomerId).filter((v): v is string => v !== undefined),
      ),
    ];
    const custs = await tx.query<{ id: string; external_customer_id: string | null; is_internal: boolean }>(
      `SELECT id, external_customer_id, is_internal FROM customers
         WHERE project_id = $1 AND mode = $2 AND (id = ANY($3::text[]) OR external_customer_id = ANY($4::text[]))`,
      [scope.projectId, scope.mode, ids, exts],
    );
    const byId = new Map(custs.map((r) => [r.id, r]));
    const byExt = new Map(
      custs.filter((r) => r.external_customer_id !== null).map((r) => [r.external_customer_id, r]),
    );
    const now = new Date().toISOString();
    const claim: {
      i: number;
      id: string;
      cust: { id: string; is_internal: boolean };
      body: Record<string, unknown>;
    }[] = [];
    for (const i of todo) {
      const n = norm[i];
      if (!n) continue;
      const cust =
        n.body.customerId !== undefined
          ? byId.get(n.body.customerId)
          : byExt.get(n.body.externalCustomerId ?? '');
      if (!cust) {
        results[i] = { status: 404, error: notFound('CUSTOMER_NOT_FOUND', 'Customer') };
        continue;
      }
      const id = newId('use');
      const b = n.body;
      const body =
        routeClass === 'usage:internal'
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
              isDuplicate: false,
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
              isDuplicate: false,
            };
      claim.push({ i, id, cust, body });
    }
    if (claim.length === 0) return undefined;
    claim.sort((a, b) =>
      (norm[a.i]?.body.idempotencyKey ?? '') < (norm[b.i]?.body.idempotencyKey ?? '') ? -1 : 1,
    );
    const status = routeClass === 'usage:internal' ? 201 : 202;
    const keysOf = claim.map((x) => norm[x.i]?.body.idempotencyKey);
    const eventCols = () => {
      const col = <T>(f: (x: (typeof claim)[number], n: { body: UsageBody; quantityText: string }) => T) =>
        claim.map((x) => f(x, norm[x.i] as { body: UsageBody; quantityText: string }));
      return [
        col((x) => x.id),
        col((x) => x.cust.id),
        col((_, n) => n.body.usageType),
        col((_, n) => n.quantityText),
        col((_, n) => n.body.units ?? null),
        col((_, n) => n.body.description ?? null),
        col((_, n) => (n.body.metadata ? JSON.stringify(n.body.metadata) : null)),
      ];
    };
    let claimedKeys: string[];
    if (fast) {
      const [r] = await tx.query<{ has_hooks: boolean; claimed: string[] | null }>(
        `WITH hooks AS (SELECT 1 FROM webhooks WHERE project_id = $1 AND mode = $2 AND is_active AND deleted_at IS NULL LIMIT 1),
           t AS (SELECT * FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
                 AS t(k, f, id, c, u, q, un, d, m)),
           claimed AS (
             INSERT INTO idempotency_keys (project_id, mode, key, route_class, fingerprint, status_code, response)
             SELECT $1, $2, t.k, $3, t.f, $4, jsonb_build_object('usageEventId', t.id) FROM t
             WHERE NOT EXISTS (SELECT 1 FROM hooks)
             ON CONFLICT DO NOTHING RETURNING key),
           ins AS (
             INSERT INTO events (id, project_id, mode, kind, customer_id, event_type, idempotency_key, usage_type, quantity, units, description, metadata, created_at)
             SELECT t.id, $1, $2, 'usage', t.c, 'USAGE', t.k, t.u, t.q::numeric, t.un, t.d, t.m::jsonb, $14
             FROM t WHERE t.k IN (SELECT key FROM claimed) RETURNING 1)
           SELECT EXISTS (SELECT 1 FROM hooks) AS has_hooks, (SELECT array_agg(key) FROM claimed) AS claimed, (SELECT count(*) FROM ins) AS n`,
        [
          scope.projectId,
          scope.mode,
          routeClass,
          status,
          keysOf,
          claim.map((x) => fps[x.i]),
          ...eventCols(),
          now,
        ],
      );
      if (r?.has_hooks) return 'slow';
      claimedKeys = r?.claimed ?? [];
    } else {
      const claimed = await tx.query<{ key: string }>(
        `INSERT INTO idempotency_keys (project_id, mode, key, route_class, fingerprint, status_code, response)
           SELECT $1, $2, t.k, $3, t.f, $4, jsonb_build_object('usageEventId', t.id) FROM unnest($5::text[], $6::text[], $7::text[]) AS t(k, f, id)
           ON CONFLICT DO NOTHING RETURNING key`,
        // Only the event id is stored: a replay has the same fingerprint, so the rest of the body is this one.
        [
          scope.projectId,
          scope.mode,
          routeClass,
          status,
          keysOf,
          claim.map((x) => fps[x.i]),
          claim.map((x) => x.id),
        ],
      );
      claimedKeys = claimed.map((r) => r.key);
    }
    const won = new Set(claimedKeys);
    const lost = claim.filter((x) => !won.has(norm[x.i]?.body.idempotencyKey ?? ''));
    if (lost.length > 0) {
      const stored = await tx.query<{
        key: string;
        fingerprint: string;
        status_code: number | null;
        response: Record<string, unknown> | null;
      }>(
        'SELECT key, fingerprint, status_code, response FROM idempotency_keys WHERE project_id = $1 AND mode = $2 AND key = ANY($3::text[])',
        [scope.projectId, scope.mode, lost.map((x) => norm[x.i]?.body.idempotencyKey)],
      );
      const byKey = new Map(stored.map((s) => [s.key, s]));
      for (const x of lost) {
        const key = norm[x.i]?.body.idempotencyKey ?? '';
        const s = byKey.get(key);
        if (!s || s.status_code === null || !s.response) {
          results[x.i] = {
            status: 409,
            error: inProgress(key),
          };
        } else if (s.fingerprint !== fps[x.i]) {
          results[x.i] = {
            status: 409,
            error: reused(key),
          };
        } else {
          results[x.i] = {
            status: Number(s.status_code),
            body: { ...x.body, usageEventId: s.response.usageEventId, isDuplicate: true },
            replayed: true,
          };
        }
      }
    }
    const fresh = claim.filter((x) => won.has(norm[x.i]?.body.idempotencyKey ?? ''));
    if (fresh.length === 0) return undefined;
    if (fast) {
      for (const x of fresh) results[x.i] = { status, body: x.body };
      return undefined;
    }
    const cols = eventCols();
    const freshIds = new Set(fresh.map((x) => x.id));
    const keep = claim.map((x) => freshIds.has(x.id));
    const pick = (arr: unknown[]) => arr.filter((_, j) => keep[j]);
    await tx.query(
      `INSERT INTO events (id, project_id, mode, kind, customer_id, event_type, idempotency_key, usage_type, quantity, units, description, metadata, created_at)
         SELECT t.id, $1, $2, 'usage', t.c, 'USAGE', t.k, t.u, t.q::numeric, t.un, t.d, t.m::jsonb, $3
         FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) AS t(id, c, k, u, q, un, d, m)`,
      [
        scope.projectId,
        scope.mode,
        now,
        pick(cols[0] ?? []),
        pick(cols[1] ?? []),
        pick(keysOf),
        ...cols.slice(2).map(pick),
      ],
    );
    const em = new Emitter(tx, scope);
    for (const x of fresh) {
      const n = norm[x.i];
      if (!n) continue;
      results[x.i] = { status, body: x.body };
      await em.emit('usage.recorded', usageRecorded(x.id, n.body, x.cust.id, n.quantityText, now));
    }
    deliveries = em.deliveries;
    return undefined;
  };
  try {
    if ((await work(deps.db, true)) === 'slow') {
      for (let i = 0; i < results.length; i++) if (results[i]?.status === 404) results[i] = undefined;
      await deps.db.transaction((tx) => work(tx, false));
    }
  } finally {
    for (const k of mine) deps.inflight.delete(k);
  }
  if (deliveries > 0) deps.wake();
  for (const [i, first] of dupOf) {
    const r = results[first];
    results[i] = r?.body ? { status: r.status, body: { ...r.body, isDuplicate: true }, replayed: true } : r;
  }
  return results.map(
    (r) => r ?? { status: 500, error: new ApiError(500, 'INTERNAL_ERROR', 'Item not processed') },
  );
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
    events.forEach((raw, index) => {
      const item = stripNulls(raw);
      const res = usageSchema.safeParse(item);
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
    });
    const out = valid.length > 0 ? await ingestInternal(deps, c.get('auth'), valid, 'usage:internal') : [];
    out.forEach((r, j) => {
      const index = at[j] ?? 0;
      results[index] = r.error
        ? { index, status: r.status, error: { code: r.error.code, error: r.error.message } }
        : { index, status: r.status, usageEventId: r.body?.usageEventId, isDuplicate: Boolean(r.replayed) };
    });
    return send(c, 200, { results });
  });
}

/** Drops `null` values at the top level of an item (null is treated like absent, spec §2.4). */
export function stripNulls(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null));
}
