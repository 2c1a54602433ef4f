import type { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv, Deps, Scope } from '../context';
import { sqlState } from '../db/driver';
import {
  ApiError,
  idempotencyKeySchema,
  metadataSchema,
  notFound,
  pageQuery,
  pathId,
  queryBool,
  readJson,
  send,
  validate,
  validateQuery,
} from '../http';
import { fingerprint, runIdempotent } from '../idempotency';
import { balanceOut, customerOut } from '../shapes';
import { decimalToMicros, newId, toBig } from '../util';
import { Emitter } from '../webhooks/emit';
import { capOut, checkLowBalance, periodStart, spentSince } from './billing';
import { getCustomer, pagedList, validationError, Where } from './common';

const createSchema = z
  .object({
    externalCustomerId: z.string().min(1).max(255).optional(),
    onchainAddress: z
      .string()
      .regex(/^0x[a-fA-F0-9]{40}$/, 'must be 0x followed by 40 hex characters')
      .optional(),
    email: z.email().max(320).optional(),
    name: z.string().min(1).max(255).optional(),
    isInternal: z.boolean().optional(),
    metadata: metadataSchema.optional(),
  })
  .refine((b) => b.externalCustomerId !== undefined || b.onchainAddress !== undefined, {
    message: 'externalCustomerId or onchainAddress is required',
    path: ['externalCustomerId'],
  });

const listQuery = z.object({
  ...pageQuery(100),
  status: z.enum(['ACTIVE', 'LOW_BALANCE', 'PAUSED']).optional(),
  isInternal: queryBool.optional(),
  onchainAddress: z.string().max(64).optional(),
  externalCustomerId: z.string().max(255).optional(),
});

const adjustSchema = z.object({
  amountUsdc: z.string().regex(/^-?\d{1,12}(\.\d{1,6})?$/, 'a signed decimal with at most 6 decimals'),
  reason: z.string().max(255).default(''),
  idempotencyKey: idempotencyKeySchema,
});

const capSchema = z.object({
  capType: z.enum(['DAILY_CHARGE_LIMIT', 'MONTHLY_CHARGE_LIMIT', 'SINGLE_CHARGE_LIMIT']),
  limitValue: z.union([z.number(), z.string().max(40)]),
  autoBlock: z.boolean().default(true),
});

const entitlementSchema = z.object({
  customerId: z.string().min(1).max(64),
  featureKey: z.string().min(1).max(100),
  quantity: z.number().min(0).max(1e15).default(1),
});

/** Parses a money input (number or decimal string): > 0, at most 1e9, at most 6 decimals. */
function moneyInput(v: number | string, path: string): bigint {
  const text = typeof v === 'number' ? String(v) : v;
  if (!/^\d+(\.\d{1,6})?$/.test(text))
    throw validationError(path, 'must be a positive amount with at most 6 decimals');
  const m = decimalToMicros(text);
  if (m === undefined || m <= 0n || m > 1_000_000_000_000_000n)
    throw validationError(path, 'must be > 0 and at most 1e9');
  return m;
}

export function registerCustomers(api: Hono<AppEnv>, deps: Deps): void {
  const { db } = deps;

  api.post('/customers', async (c) => {
    const auth = c.get('auth');
    const body = validate(createSchema, await readJson(c));
    const initial = auth.mode === 'test' ? (decimalToMicros(deps.settings.initialTestBalance) ?? 0n) : 0n;
    const id = newId('cus');
    try {
      const em = { n: 0 };
      const row = await db.transaction(async (tx) => {
        const [r] = await tx.query(
          `INSERT INTO customers (id, project_id, mode, external_customer_id, onchain_address, email, name, is_internal, metadata, balance_micros)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10) RETURNING *`,
          [
            id,
            auth.projectId,
            auth.mode,
            body.externalCustomerId ?? null,
            body.onchainAddress ?? null,
            body.email ?? null,
            body.name ?? null,
            body.isInternal ?? false,
            body.metadata ? JSON.stringify(body.metadata) : null,
            initial.toString(),
          ],
        );
        if (initial > 0n) {
          await tx.query(
            'INSERT INTO balance_ledger (id, project_id, mode, customer_id, amount_micros, reason) VALUES ($1, $2, $3, $4, $5, $6)',
            [newId('led'), auth.projectId, auth.mode, id, initial.toString(), 'initial test balance'],
          );
        }
        const emitter = new Emitter(tx, auth);
        await emitter.emit('customer.created', customerOut(r ?? {}));
        em.n = emitter.deliveries;
        return r ?? {};
      });
      if (em.n > 0) deps.wake();
      deps.wrote(1);
      return send(c, 201, {
        ...customerOut(row),
        provisioningStatus: 'skipped',
        fundingRequired: false,
        _warnings: [],
      });
    } catch (err) {
      if (sqlState(err) !== '23505') throw err;
      const [existing] = await db.query<{ id: string }>(
        `SELECT id FROM customers WHERE project_id = $1 AND mode = $2
         AND (external_customer_id = $3 OR lower(onchain_address) = lower($4)) LIMIT 1`,
        [auth.projectId, auth.mode, body.externalCustomerId ?? null, body.onchainAddress ?? null],
      );
      throw new ApiError(
        409,
        'DUPLICATE_CUSTOMER',
        'A customer with this externalCustomerId or onchainAddress already exists',
        {
          extra: { existingCustomerId: existing?.id ?? null },
        },
      );
    }
  });

  api.get('/customers', async (c) => {
    const auth = c.get('auth');
    const q = validateQuery(listQuery, c);
    const where = new Where(auth)
      .add('status = ?', q.status)
      .add('is_internal = ?', q.isInternal)
      .add('lower(onchain_address) = lower(?)', q.onchainAddress)
      .add('external_customer_id = ?', q.externalCustomerId);
    const { rows, count } = await pagedList(
      db,
      'SELECT *',
      'FROM customers',
      where,
      'created_at DESC, id DESC',
      q.limit,
      q.offset,
    );
    return send(c, 200, { data: rows.map(customerOut), count, hasMore: q.offset + rows.length < count });
  });

  api.get('/customers/:id', async (c) => {
    const id = pathId(c, 'id', 'CUSTOMER_NOT_FOUND', 'Customer');
    return send(c, 200, customerOut(await getCustomer(db, c.get('auth'), id)));
  });

  api.get('/customers/:id/balance', async (c) => {
    const id = pathId(c, 'id', 'CUSTOMER_NOT_FOUND', 'Customer');
    return send(c, 200, balanceOut(await getCustomer(db, c.get('auth'), id)));
  });

  api.post('/customers/:id/balance/adjustments', async (c) => {
    const auth = c.get('auth');
    const id = pathId(c, 'id', 'CUSTOMER_NOT_FOUND', 'Customer');
    if (auth.mode !== 'test')
      throw new ApiError(403, 'FORBIDDEN', 'Balance adjustments are available in test mode only');
    const body = validate(adjustSchema, await readJson(c));
    const amount = decimalToMicros(body.amountUsdc) ?? 0n;
    if (amount === 0n) throw validationError('amountUsdc', 'must not be zero');
    const out = await runIdempotent(
      deps,
      auth,
      body.idempotencyKey,
      fingerprint('balance-adjustment', { ...body, id }),
      async (tx) => {
        const cust = await getCustomer(tx, auth, id, true);
        if (toBig(cust.balance_micros) + amount < 0n)
          throw validationError('amountUsdc', 'the balance would become negative');
        await tx.query(
          'UPDATE customers SET balance_micros = balance_micros + $2, updated_at = now() WHERE id = $1',
          [id, amount.toString()],
        );
        await tx.query(
          'INSERT INTO balance_ledger (id, project_id, mode, customer_id, amount_micros, reason) VALUES ($1, $2, $3, $4, $5, $6)',
          [newId('led'), auth.projectId, auth.mode, id, amount.toString(), body.reason || 'adjustment'],
        );
        const em = new Emitter(tx, auth);
        await checkLowBalance(tx, deps, em, id);
        const fresh = await getCustomer(tx, auth, id);
        return { status: 201, body: balanceOut(fresh), after: em.deliveries > 0 ? deps.wake : undefined };
      },
    );
    const { isDuplicate: _d, ...balance } = out.body;
    return send(c, out.status, balance, out.replayed ? { 'Idempotent-Replayed': 'true' } : {});
  });

  api.put('/customers/:id/spending-cap', async (c) => {
    const auth = c.get('auth');
    const id = pathId(c, 'id', 'CUSTOMER_NOT_FOUND', 'Customer');
    const body = validate(capSchema, await readJson(c));
    const limit = moneyInput(body.limitValue, 'limitValue');
    const cap = await db.transaction(async (tx) => {
      await getCustomer(tx, auth, id, true);
      const [existing] = await tx.query(
        'SELECT * FROM spending_caps WHERE customer_id = $1 AND cap_type = $2 AND is_active',
        [id, body.capType],
      );
      if (existing) {
        const [r] = await tx.query(
          'UPDATE spending_caps SET limit_micros = $2, auto_block = $3 WHERE id = $1 RETURNING *',
          [existing.id, limit.toString(), body.autoBlock],
        );
        return r ?? existing;
      }
      const [r] = await tx.query(
        `INSERT INTO spending_caps (id, project_id, mode, customer_id, cap_type, limit_micros, auto_block)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
        [newId('cap'), auth.projectId, auth.mode, id, body.capType, limit.toString(), body.autoBlock],
      );
      return r ?? {};
    });
    return send(c, 200, await capOut(db, cap));
  });

  api.get('/customers/:id/spending-caps', async (c) => {
    const auth = c.get('auth');
    const id = pathId(c, 'id', 'CUSTOMER_NOT_FOUND', 'Customer');
    await getCustomer(db, auth, id);
    const caps = await db.query(
      'SELECT * FROM spending_caps WHERE customer_id = $1 AND is_active ORDER BY created_at, id',
      [id],
    );
    const out = [];
    for (const cap of caps) out.push(await capOut(db, cap));
    return send(c, 200, { caps: out });
  });

  api.delete('/customers/:id/spending-caps/:capId', async (c) => {
    const auth = c.get('auth');
    const id = pathId(c, 'id', 'CUSTOMER_NOT_FOUND', 'Customer');
    const capId = pathId(c, 'capId', 'SPENDING_CAP_NOT_FOUND', 'Spending cap');
    await getCustomer(db, auth, id);
    const rows = await db.query(
      'UPDATE spending_caps SET is_active = false WHERE id = $1 AND customer_id = $2 AND is_active RETURNING id',
      [capId, id],
    );
    if (rows.length === 0) throw notFound('SPENDING_CAP_NOT_FOUND', 'Spending cap');
    return send(c, 200, { success: true });
  });

  api.post('/entitlements/check', async (c) => {
    const auth = c.get('auth');
    const body = validate(entitlementSchema, await readJson(c));
    const cust = await getCustomer(db, auth, body.customerId);
    const rule = deps.settings.entitlements.find((r) => r.featureKey === body.featureKey);
    const period = rule?.period ?? 'MONTHLY';
    const start = periodStart(period === 'DAILY' ? 'DAILY_CHARGE_LIMIT' : 'MONTHLY_CHARGE_LIMIT', new Date());
    const resets =
      period === 'DAILY'
        ? new Date(start.getTime() + 86_400_000)
        : new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
    const base = { featureKey: body.featureKey, period, periodResetsAt: resets.toISOString() };
    const deny = (reason: string) =>
      send(c, 200, {
        allowed: false,
        ...base,
        remaining: 0,
        limit: rule?.limitValue ?? -1,
        unlimited: !rule,
        reason,
      });
    if (cust.status === 'PAUSED') return deny('CUSTOMER_PAUSED');
    const caps = await db.query(
      'SELECT * FROM spending_caps WHERE customer_id = $1 AND is_active AND auto_block',
      [cust.id],
    );
    for (const cap of caps) {
      if (cap.cap_type === 'SINGLE_CHARGE_LIMIT') continue;
      const used = await spentSince(
        db,
        String(cust.id),
        periodStart(String(cap.cap_type), new Date(String(cap.created_at))),
      );
      if (used >= toBig(cap.limit_micros)) return deny('SPENDING_CAP_REACHED');
    }
    if (!rule) return send(c, 200, { allowed: true, ...base, remaining: -1, limit: -1, unlimited: true });
    let used: number;
    if (rule.limitType === 'COUNT') {
      const [r] = await db.query(
        "SELECT coalesce(sum(quantity), 0)::text AS s FROM events WHERE customer_id = $1 AND kind = 'usage' AND usage_type = $2 AND created_at >= $3",
        [cust.id, rule.featureKey, start.toISOString()],
      );
      used = Number(r?.s ?? 0);
    } else {
      used = Number(await spentSince(db, String(cust.id), start)) / 1e6;
    }
    const remaining = Math.max(0, rule.limitValue - used);
    const allowed = used + body.quantity <= rule.limitValue;
    return send(c, 200, {
      allowed,
      ...base,
      remaining,
      limit: rule.limitValue,
      unlimited: false,
      ...(allowed ? {} : { reason: 'LIMIT_EXCEEDED' }),
    });
  });
}

export type { Scope };
