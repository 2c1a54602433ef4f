/** Balance, charges, spending caps and alerts: the money side shared by several routes. */
import type { Deps, Queryable, Scope } from '../context';
import type { Emitter } from '../webhooks/emit';
import { ApiError } from '../http';
import { chargeOut, CHARGE_SELECT, customerOut } from '../shapes';
import { decimalToMicros, formatMicros, newId, toBig } from '../util';

type Row = Record<string, unknown>;

/** Unit price in micros for a usage type in this mode, or undefined (→ 404 PRICING_PLAN_NOT_FOUND). */
export function unitPriceMicros(deps: Deps, scope: Scope, usageType: string): bigint | undefined {
  const configured = deps.settings.prices[usageType];
  const fallback = scope.mode === 'test' ? deps.settings.defaultPrice : deps.settings.liveDefaultPrice;
  const price = configured ?? fallback;
  return price === null || price === undefined ? undefined : decimalToMicros(price);
}

/** Emits `customer.balance.low` when available balance falls below the threshold; re-arms above it. */
export async function checkLowBalance(
  tx: Queryable,
  deps: Deps,
  em: Emitter,
  customerId: string,
): Promise<void> {
  const [c] = await tx.query(
    'SELECT id, balance_micros::text AS b, pending_micros::text AS p, low_balance_alerted FROM customers WHERE id = $1',
    [customerId],
  );
  if (!c) return;
  const available = toBig(c.b) - toBig(c.p);
  const threshold = decimalToMicros(deps.settings.lowBalanceThreshold) ?? 0n;
  if (available < threshold && !c.low_balance_alerted) {
    await tx.query(
      "UPDATE customers SET low_balance_alerted = true, status = CASE WHEN status = 'ACTIVE' THEN 'LOW_BALANCE' ELSE status END WHERE id = $1",
      [customerId],
    );
    await em.emit('customer.balance.low', {
      customerId,
      balanceUsdc: formatMicros(toBig(c.b)),
      availableUsdc: formatMicros(available),
      thresholdUsdc: formatMicros(threshold),
    });
  } else if (available >= threshold && c.low_balance_alerted) {
    await tx.query(
      "UPDATE customers SET low_balance_alerted = false, status = CASE WHEN status = 'LOW_BALANCE' THEN 'ACTIVE' ELSE status END WHERE id = $1",
      [customerId],
    );
  }
}

/** Start of the cap's current period (UTC day or month); SINGLE caps use their creation time. */
export function periodStart(capType: string, createdAt: Date, now = new Date()): Date {
  if (capType === 'DAILY_CHARGE_LIMIT')
    return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  if (capType === 'MONTHLY_CHARGE_LIMIT')
    return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  return createdAt;
}

/** Sum of CONFIRMED and PENDING charges of a customer since `from`, in micros. */
export async function spentSince(tx: Queryable, customerId: string, from: Date): Promise<bigint> {
  const [r] = await tx.query(
    `SELECT coalesce(sum(amount_micros), 0)::text AS s FROM charges
     WHERE customer_id = $1 AND status IN ('CONFIRMED', 'PENDING') AND created_at >= $2`,
    [customerId, from.toISOString()],
  );
  return toBig(r?.s);
}

export async function capOut(tx: Queryable, cap: Row): Promise<Record<string, unknown>> {
  const start = periodStart(String(cap.cap_type), new Date(String(cap.created_at)));
  const used =
    cap.cap_type === 'SINGLE_CHARGE_LIMIT' ? 0n : await spentSince(tx, String(cap.customer_id), start);
  return {
    id: cap.id,
    capType: cap.cap_type,
    limitValue: formatMicros(toBig(cap.limit_micros)),
    currentUsage: formatMicros(used),
    periodStart: start.toISOString(),
    isActive: Boolean(cap.is_active),
    autoBlock: Boolean(cap.auto_block),
    lastAlertLevel: cap.last_alert_level ?? null,
  };
}

interface CapCheck {
  /** Caps that refuse the charge (auto-blocking, would pass 100 %). */
  blocked: Row | undefined;
  /** Alerts to fire if the charge goes through: cap row + level. */
  alerts: { cap: Row; level: number; used: bigint }[];
}

const LEVELS = [50, 80, 95, 100];

/** Evaluates the active caps of a customer against a new charge (spec §3.9). */
export async function checkCaps(tx: Queryable, customerId: string, amount: bigint): Promise<CapCheck> {
  const caps = await tx.query('SELECT * FROM spending_caps WHERE customer_id = $1 AND is_active', [
    customerId,
  ]);
  const out: CapCheck = { blocked: undefined, alerts: [] };
  const now = new Date();
  for (const cap of caps) {
    const limit = toBig(cap.limit_micros);
    const single = cap.cap_type === 'SINGLE_CHARGE_LIMIT';
    const start = periodStart(String(cap.cap_type), new Date(String(cap.created_at)), now);
    const used = single ? amount : (await spentSince(tx, customerId, start)) + amount;
    if (used > limit && cap.auto_block) {
      out.blocked = cap;
      continue;
    }
    const samePeriod =
      cap.last_alert_period && new Date(String(cap.last_alert_period)).getTime() === start.getTime();
    const last = samePeriod ? Number(cap.last_alert_level ?? 0) : 0;
    const reached = LEVELS.filter((l) => used * 100n >= limit * BigInt(l) && l > last);
    const top = reached[reached.length - 1];
    if (top !== undefined) out.alerts.push({ cap, level: top, used });
  }
  return out;
}

/** Records a cap alert once per period and level, and emits its webhook event. */
export async function fireCapAlert(
  tx: Queryable,
  em: Emitter,
  cap: Row,
  level: number,
  used: bigint,
): Promise<void> {
  const start = periodStart(String(cap.cap_type), new Date(String(cap.created_at)));
  await tx.query('UPDATE spending_caps SET last_alert_level = $2, last_alert_period = $3 WHERE id = $1', [
    cap.id,
    String(level),
    start.toISOString(),
  ]);
  const type =
    level < 100
      ? 'customer.spending.warning'
      : cap.auto_block
        ? 'customer.spending.blocked'
        : 'customer.spending.exceeded';
  const severity = level === 50 ? 'low' : level === 80 ? 'medium' : level === 95 ? 'high' : 'critical';
  await em.emit(type, {
    customerId: cap.customer_id,
    capId: cap.id,
    capType: cap.cap_type,
    limitValue: formatMicros(toBig(cap.limit_micros)),
    currentUsage: formatMicros(used),
    level,
    severity,
  });
}

export async function loadCharge(tx: Queryable, id: string): Promise<Row | undefined> {
  const [row] = await tx.query(`${CHARGE_SELECT} WHERE ch.id = $1`, [id]);
  return row;
}

/** Writes a charge row and moves the balance. CONFIRMED debits now; PENDING reserves. */
export async function writeCharge(
  tx: Queryable,
  scope: Scope,
  customerId: string,
  usageId: string,
  amount: bigint,
  status: 'CONFIRMED' | 'PENDING',
): Promise<string> {
  const id = newId('chg');
  await tx.query(
    `INSERT INTO charges (id, project_id, mode, customer_id, usage_id, amount_micros, status, confirmed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $7 = 'CONFIRMED' THEN now() ELSE NULL END)`,
    [id, scope.projectId, scope.mode, customerId, usageId, amount.toString(), status],
  );
  if (status === 'CONFIRMED') {
    await tx.query(
      'UPDATE customers SET balance_micros = balance_micros - $2, updated_at = now() WHERE id = $1',
      [customerId, amount.toString()],
    );
    await tx.query(
      'INSERT INTO balance_ledger (id, project_id, mode, customer_id, amount_micros, reason, charge_id) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [newId('led'), scope.projectId, scope.mode, customerId, (-amount).toString(), 'charge', id],
    );
  } else {
    await tx.query(
      'UPDATE customers SET pending_micros = pending_micros + $2, updated_at = now() WHERE id = $1',
      [customerId, amount.toString()],
    );
  }
  return id;
}

/** Settles one PENDING charge (async usage): CONFIRMED when the balance covers it, else FAILED. */
export async function settleCharge(
  tx: Queryable,
  deps: Deps,
  em: Emitter,
  chargeId: string,
): Promise<boolean> {
  const [ch] = await tx.query("SELECT * FROM charges WHERE id = $1 AND status = 'PENDING' FOR UPDATE", [
    chargeId,
  ]);
  if (!ch) return false;
  const [c] = await tx.query(
    'SELECT balance_micros::text AS b, pending_micros::text AS p FROM customers WHERE id = $1 FOR UPDATE',
    [ch.customer_id],
  );
  const amount = toBig(ch.amount_micros);
  const otherPending = toBig(c?.p) - amount;
  const ok = toBig(c?.b) - otherPending >= amount;
  const scope: Scope = { projectId: String(ch.project_id), mode: ch.mode === 'live' ? 'live' : 'test' };
  await tx.query(
    'UPDATE customers SET pending_micros = pending_micros - $2, updated_at = now() WHERE id = $1',
    [ch.customer_id, amount.toString()],
  );
  if (ok) {
    await tx.query("UPDATE charges SET status = 'CONFIRMED', confirmed_at = now() WHERE id = $1", [chargeId]);
    await tx.query('UPDATE customers SET balance_micros = balance_micros - $2 WHERE id = $1', [
      ch.customer_id,
      amount.toString(),
    ]);
    await tx.query(
      'INSERT INTO balance_ledger (id, project_id, mode, customer_id, amount_micros, reason, charge_id) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [newId('led'), scope.projectId, scope.mode, ch.customer_id, (-amount).toString(), 'charge', chargeId],
    );
  } else {
    await tx.query(
      "UPDATE charges SET status = 'FAILED', failure_reason = 'INSUFFICIENT_BALANCE' WHERE id = $1",
      [chargeId],
    );
  }
  const full = await loadCharge(tx, chargeId);
  if (full) await em.emit(ok ? 'charge.succeeded' : 'charge.failed', chargeOut(full));
  await checkLowBalance(tx, deps, em, String(ch.customer_id));
  return true;
}

export const blockedError = () =>
  new ApiError(403, 'CUSTOMER_BLOCKED', 'Spending cap reached: charge refused');
export const pausedError = () => new ApiError(403, 'CUSTOMER_BLOCKED', 'Customer is paused');
export { customerOut };
