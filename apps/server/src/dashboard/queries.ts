import type { DashboardScope } from './sessions';

/**
 * What the dashboard needs from the database: one parameterised statement returning rows. The
 * server's drivers (embedded PGlite and `pg`) both have this shape. Every query below is read-only,
 * scoped to one project and mode, and returns numbers that may exceed 2^53 as text.
 *
 * @example
 * ```ts
 * const db: DashboardDb = { query: async (sql, params) => (await pool.query(sql, params)).rows };
 * ```
 */
export interface DashboardDb {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/**
 * A customer row with balances (micro-USDC strings) and usage per meter.
 *
 * @example
 * ```ts
 * const acme: CustomerView | undefined = overview.customers.find((c) => c.externalCustomerId === 'acme');
 * acme?.usage.llm_tokens; // '1700.000000'
 * ```
 */
export interface CustomerView {
  id: string;
  externalCustomerId: string | null;
  name: string | null;
  email: string | null;
  status: string;
  isInternal: boolean;
  balanceMicros: string;
  pendingMicros: string;
  /** Meter (`usageType`) → total quantity as a decimal string. */
  usage: Record<string, string>;
  usageEvents: number;
  /** Charges by status: count and amount in micro-USDC. */
  charges: Record<string, { count: number; amountMicros: string }>;
}

/**
 * One point of the usage chart: a time bucket, a customer, a meter and the quantity in it.
 *
 * @example
 * ```ts
 * overview.usageSeries.points.filter((p: UsagePoint) => p.usageType === 'api_calls');
 * ```
 */
export interface UsagePoint {
  bucketMs: number;
  customerId: string;
  usageType: string;
  quantity: number;
}

/**
 * A run as listed on the overview and shown on the run page.
 *
 * @example
 * ```ts
 * overview.recentRuns.map((r: RunView) => `${r.id} ${r.status} ${r.durationMs} ms`);
 * ```
 */
export interface RunView {
  id: string;
  customerId: string;
  customerLabel: string;
  workflowName: string;
  workflowSlug: string;
  status: string;
  externalRunId: string | null;
  correlationId: string | null;
  errorMessage: string | null;
  errorCode: string | null;
  metadata: unknown;
  startedAtMs: number | null;
  endedAtMs: number | null;
  createdAtMs: number;
  durationMs: number | null;
  eventCount: number;
}

/**
 * A run event with its schema-flexible fields (`attributes`, spec §2.4.1).
 *
 * @example
 * ```ts
 * detail.events.map((e: RunEventView) => e.attributes?.model);
 * ```
 */
export interface RunEventView {
  id: string;
  eventType: string;
  actionName: string | null;
  outcome: string;
  description: string | null;
  quantity: string | null;
  units: string | null;
  costUnits: string | null;
  attributes: Record<string, unknown> | null;
  metadata: unknown;
  createdAtMs: number;
}

/**
 * A charge with its customer and the usage it billed.
 *
 * @example
 * ```ts
 * overview.recentCharges.map((c: ChargeView) => formatUsdc(c.amountMicros));
 * ```
 */
export interface ChargeView {
  id: string;
  customerId: string;
  customerLabel: string;
  usageType: string | null;
  quantity: string | null;
  amountMicros: string;
  status: string;
  failureReason: string | null;
  createdAtMs: number;
}

/**
 * A webhook delivery with its endpoint.
 *
 * @example
 * ```ts
 * overview.deliveries.filter((d: DeliveryView) => d.status === 'FAILED');
 * ```
 */
export interface DeliveryView {
  id: string;
  webhookId: string;
  url: string;
  eventType: string;
  status: string;
  attempts: number;
  responseCode: number | null;
  lastError: string | null;
  createdAtMs: number;
  lastAttemptAtMs: number | null;
  nextAttemptAtMs: number | null;
}

/**
 * Everything the overview page shows.
 *
 * @example
 * ```ts
 * const overview: Overview = await loadOverview(db, scope);
 * ```
 */
export interface Overview {
  projectName: string;
  /** The first {@link CUSTOMER_LIMIT} customers, oldest first. */
  customers: CustomerView[];
  /** All customers of the project and mode. */
  customerCount: number;
  meters: string[];
  /** `windowed`: older usage exists but the chart covers only {@link CHART_WINDOW_MS} up to the latest. */
  usageSeries: { bucketSeconds: number; points: UsagePoint[]; windowed: boolean };
  runsByStatus: Record<string, number>;
  runCount: number;
  recentRuns: RunView[];
  recentCharges: ChargeView[];
  deliveries: DeliveryView[];
  totals: { usageEvents: number; runEvents: number; chargedMicros: string; pendingMicros: string };
}

/**
 * Customers listed on the overview (the count covers all of them).
 *
 * @example
 * ```ts
 * overview.customers.length <= CUSTOMER_LIMIT; // true
 * ```
 */
export const CUSTOMER_LIMIT = 200;
const RECENT_RUNS = 25;
const RECENT_CHARGES = 20;
const RECENT_DELIVERIES = 25;
/** The chart never has more than this many time buckets; the bucket size grows with the time span. */
const MAX_BUCKETS = 120;
const BUCKET_LADDER_SECONDS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400,
];
/**
 * The chart covers at most this much time, ending at the latest usage event (the table is all-time).
 *
 * @example
 * ```ts
 * const from = lastUsageMs - CHART_WINDOW_MS;
 * ```
 */
export const CHART_WINDOW_MS = 24 * 3600 * 1000;
/**
 * Run events shown on one run page (the timeline API pages further; the page says when it is cut).
 * Events of one request share a timestamp, so they are ordered by `seq`, the insertion order.
 *
 * @example
 * ```ts
 * detail.truncated; // true when the run has more than RUN_EVENT_LIMIT events
 * ```
 */
export const RUN_EVENT_LIMIT = 500;

const ms = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return Number(v);
  return 0;
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function json(v: unknown): unknown {
  if (typeof v !== 'string') return v ?? null;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

function customerLabel(row: Record<string, unknown>): string {
  return str(row.customer_name) || str(row.customer_external) || str(row.customer_id);
}

/**
 * Picks a bucket size (seconds) from the ladder so that `spanMs` fits in at most {@link MAX_BUCKETS}.
 *
 * @example
 * ```ts
 * bucketSecondsFor(10_000); // 1
 * bucketSecondsFor(20 * 60_000); // 10
 * ```
 */
export function bucketSecondsFor(spanMs: number): number {
  const needed = spanMs / 1000 / MAX_BUCKETS;
  for (const s of BUCKET_LADDER_SECONDS) if (s >= needed) return s;
  return Math.ceil(needed / 86400) * 86400;
}

type Row = Record<string, unknown>;

function mapRun(r: Row): RunView {
  const started = numOrNull(r.started_ms);
  const ended = numOrNull(r.ended_ms);
  return {
    id: str(r.id),
    customerId: str(r.customer_id),
    customerLabel: customerLabel(r),
    workflowName: str(r.workflow_name),
    workflowSlug: str(r.workflow_slug),
    status: str(r.status),
    externalRunId: strOrNull(r.external_run_id),
    correlationId: strOrNull(r.correlation_id),
    errorMessage: strOrNull(r.error_message),
    errorCode: strOrNull(r.error_code),
    metadata: json(r.metadata),
    startedAtMs: started,
    endedAtMs: ended,
    createdAtMs: num(r.created_ms),
    durationMs: started !== null && ended !== null ? Math.max(0, Math.round(ended - started)) : null,
    eventCount: num(r.event_count),
  };
}

const RUN_COLUMNS = `r.id, r.customer_id, r.status, r.external_run_id, r.correlation_id, r.error_message,
  r.error_code, r.metadata::text AS metadata, ${ms('r.started_at')} AS started_ms, ${ms('r.ended_at')} AS ended_ms,
  ${ms('r.created_at')} AS created_ms, w.name AS workflow_name, w.slug AS workflow_slug,
  c.name AS customer_name, c.external_customer_id AS customer_external,
  (SELECT count(*) FROM events e WHERE e.run_id = r.id) AS event_count`;

/**
 * Reads everything the overview page shows, for one project and mode.
 *
 * @example
 * ```ts
 * const overview = await loadOverview(db, { projectId: 'proj_1', mode: 'test' });
 * overview.customers.map((c) => c.usage.api_calls);
 * ```
 */
export async function loadOverview(db: DashboardDb, scope: DashboardScope): Promise<Overview> {
  const p = [scope.projectId, scope.mode] as const;
  const [project] = await db.query<Row>('SELECT name FROM projects WHERE id = $1', [scope.projectId]);
  const customerRows = await db.query<Row>(
    `SELECT id, external_customer_id, name, email, status, is_internal, balance_micros::text AS balance,
       pending_micros::text AS pending
     FROM customers WHERE project_id = $1 AND mode = $2 ORDER BY created_at, id LIMIT ${CUSTOMER_LIMIT}`,
    p,
  );
  const [customerTotal] = await db.query<Row>(
    'SELECT count(*) AS n FROM customers WHERE project_id = $1 AND mode = $2',
    p,
  );
  const usageRows = await db.query<Row>(
    `SELECT customer_id, coalesce(usage_type, 'generic') AS usage_type, sum(quantity)::text AS quantity,
       count(*) AS n
     FROM events WHERE project_id = $1 AND mode = $2 AND kind = 'usage' GROUP BY 1, 2`,
    p,
  );
  const chargeRows = await db.query<Row>(
    `SELECT customer_id, status, count(*) AS n, sum(amount_micros)::text AS amount
     FROM charges WHERE project_id = $1 AND mode = $2 GROUP BY 1, 2`,
    p,
  );
  const customers: CustomerView[] = customerRows.map((r) => ({
    id: str(r.id),
    externalCustomerId: strOrNull(r.external_customer_id),
    name: strOrNull(r.name),
    email: strOrNull(r.email),
    status: str(r.status),
    isInternal: r.is_internal === true || r.is_internal === 't',
    balanceMicros: str(r.balance) || '0',
    pendingMicros: str(r.pending) || '0',
    usage: {},
    usageEvents: 0,
    charges: {},
  }));
  const byId = new Map(customers.map((c) => [c.id, c]));
  const meters = new Set<string>();
  let usageEvents = 0;
  for (const r of usageRows) {
    const meter = str(r.usage_type);
    meters.add(meter);
    usageEvents += num(r.n);
    const c = byId.get(str(r.customer_id));
    if (!c) continue;
    c.usage[meter] = str(r.quantity);
    c.usageEvents += num(r.n);
  }
  let chargedMicros = 0n;
  let pendingMicros = 0n;
  for (const r of chargeRows) {
    const status = str(r.status);
    const amount = BigInt(str(r.amount) || '0');
    if (status === 'CONFIRMED') chargedMicros += amount;
    if (status === 'PENDING') pendingMicros += amount;
    const c = byId.get(str(r.customer_id));
    if (c) c.charges[status] = { count: num(r.n), amountMicros: amount.toString() };
  }

  const [span] = await db.query<Row>(
    `SELECT ${ms('min(created_at)')} AS first_ms, ${ms('max(created_at)')} AS last_ms
     FROM events WHERE project_id = $1 AND mode = $2 AND kind = 'usage'`,
    p,
  );
  const firstMs = numOrNull(span?.first_ms);
  const lastMs = numOrNull(span?.last_ms);
  let fromMs = firstMs;
  if (firstMs !== null && lastMs !== null && lastMs - firstMs > CHART_WINDOW_MS) {
    // Start at the first event inside the window, so a quiet stretch does not coarsen the buckets.
    const [inWindow] = await db.query<Row>(
      `SELECT ${ms('min(created_at)')} AS first_ms FROM events
       WHERE project_id = $1 AND mode = $2 AND kind = 'usage' AND created_at >= $3::timestamptz`,
      [...p, new Date(lastMs - CHART_WINDOW_MS).toISOString()],
    );
    fromMs = numOrNull(inWindow?.first_ms) ?? lastMs;
  }
  const bucketSeconds = fromMs !== null && lastMs !== null ? bucketSecondsFor(lastMs - fromMs) : 1;
  const pointRows =
    fromMs === null
      ? []
      : await db.query<Row>(
          `SELECT (floor(extract(epoch from created_at) / $3) * $3 * 1000)::float8 AS bucket_ms, customer_id,
             coalesce(usage_type, 'generic') AS usage_type, sum(quantity)::float8 AS quantity
           FROM events WHERE project_id = $1 AND mode = $2 AND kind = 'usage' AND created_at >= $4::timestamptz
           GROUP BY 1, 2, 3 ORDER BY 1`,
          [...p, bucketSeconds, new Date(fromMs).toISOString()],
        );

  const statusRows = await db.query<Row>(
    'SELECT status, count(*) AS n FROM runs WHERE project_id = $1 AND mode = $2 GROUP BY 1',
    p,
  );
  const runsByStatus: Record<string, number> = {};
  let runCount = 0;
  for (const r of statusRows) {
    runsByStatus[str(r.status)] = num(r.n);
    runCount += num(r.n);
  }
  const runRows = await db.query<Row>(
    `SELECT ${RUN_COLUMNS}
     FROM runs r JOIN workflows w ON w.id = r.workflow_id JOIN customers c ON c.id = r.customer_id
     WHERE r.project_id = $1 AND r.mode = $2 ORDER BY r.created_at DESC, r.id DESC LIMIT ${RECENT_RUNS}`,
    p,
  );
  const [runEventCount] = await db.query<Row>(
    `SELECT count(*) AS n FROM events WHERE project_id = $1 AND mode = $2 AND kind = 'run'`,
    p,
  );
  const recentChargeRows = await db.query<Row>(
    `SELECT ch.id, ch.customer_id, ch.amount_micros::text AS amount, ch.status, ch.failure_reason,
       ${ms('ch.created_at')} AS created_ms, e.usage_type, e.quantity::text AS quantity,
       c.name AS customer_name, c.external_customer_id AS customer_external
     FROM charges ch JOIN customers c ON c.id = ch.customer_id LEFT JOIN events e ON e.id = ch.usage_id
     WHERE ch.project_id = $1 AND ch.mode = $2 ORDER BY ch.created_at DESC, ch.id DESC LIMIT ${RECENT_CHARGES}`,
    p,
  );
  const deliveryRows = await db.query<Row>(
    `SELECT d.id, d.webhook_id, w.url, d.event_type, d.status, d.attempts, d.response_code, d.last_error,
       ${ms('d.created_at')} AS created_ms, ${ms('d.last_attempt_at')} AS last_attempt_ms,
       ${ms('d.next_attempt_at')} AS next_attempt_ms
     FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
     WHERE d.project_id = $1 AND d.mode = $2 ORDER BY d.created_at DESC, d.id DESC LIMIT ${RECENT_DELIVERIES}`,
    p,
  );

  return {
    projectName: str(project?.name) || scope.projectId,
    customers,
    customerCount: num(customerTotal?.n),
    meters: [...meters].sort(),
    usageSeries: {
      bucketSeconds,
      windowed: fromMs !== null && firstMs !== null && fromMs > firstMs,
      points: pointRows.map((r) => ({
        bucketMs: num(r.bucket_ms),
        customerId: str(r.customer_id),
        usageType: str(r.usage_type),
        quantity: num(r.quantity),
      })),
    },
    runsByStatus,
    runCount,
    recentRuns: runRows.map(mapRun),
    recentCharges: recentChargeRows.map((r) => ({
      id: str(r.id),
      customerId: str(r.customer_id),
      customerLabel: customerLabel(r),
      usageType: strOrNull(r.usage_type),
      quantity: strOrNull(r.quantity),
      amountMicros: str(r.amount) || '0',
      status: str(r.status),
      failureReason: strOrNull(r.failure_reason),
      createdAtMs: num(r.created_ms),
    })),
    deliveries: deliveryRows.map((r) => ({
      id: str(r.id),
      webhookId: str(r.webhook_id),
      url: str(r.url),
      eventType: str(r.event_type),
      status: str(r.status),
      attempts: num(r.attempts),
      responseCode: numOrNull(r.response_code),
      lastError: strOrNull(r.last_error),
      createdAtMs: num(r.created_ms),
      lastAttemptAtMs: numOrNull(r.last_attempt_ms),
      nextAttemptAtMs: numOrNull(r.next_attempt_ms),
    })),
    totals: {
      usageEvents,
      runEvents: num(runEventCount?.n),
      chargedMicros: chargedMicros.toString(),
      pendingMicros: pendingMicros.toString(),
    },
  };
}

/**
 * Reads one run and its events (oldest first, at most {@link RUN_EVENT_LIMIT}); `null` when the run
 * does not exist in this project and mode.
 *
 * @example
 * ```ts
 * const detail = await loadRun(db, scope, 'run_...');
 * detail?.events.map((e) => e.attributes?.model);
 * ```
 */
export async function loadRun(
  db: DashboardDb,
  scope: DashboardScope,
  runId: string,
): Promise<{ run: RunView; events: RunEventView[]; truncated: boolean; projectName: string } | null> {
  const [row] = await db.query<Row>(
    `SELECT ${RUN_COLUMNS}
     FROM runs r JOIN workflows w ON w.id = r.workflow_id JOIN customers c ON c.id = r.customer_id
     WHERE r.id = $1 AND r.project_id = $2 AND r.mode = $3`,
    [runId, scope.projectId, scope.mode],
  );
  if (!row) return null;
  const eventRows = await db.query<Row>(
    `SELECT id, event_type, action_name, outcome, description, quantity::text AS quantity, units,
       cost_units::text AS cost_units, attributes::text AS attributes, metadata::text AS metadata,
       ${ms('created_at')} AS created_ms
     FROM events WHERE run_id = $1 AND project_id = $2 AND mode = $3
     ORDER BY created_at, seq LIMIT ${RUN_EVENT_LIMIT + 1}`,
    [runId, scope.projectId, scope.mode],
  );
  const events = eventRows.slice(0, RUN_EVENT_LIMIT).map((r) => {
    const attributes = json(r.attributes);
    return {
      id: str(r.id),
      eventType: str(r.event_type),
      actionName: strOrNull(r.action_name),
      outcome: str(r.outcome),
      description: strOrNull(r.description),
      quantity: strOrNull(r.quantity),
      units: strOrNull(r.units),
      costUnits: strOrNull(r.cost_units),
      attributes:
        attributes && typeof attributes === 'object' && !Array.isArray(attributes)
          ? (attributes as Record<string, unknown>)
          : null,
      metadata: json(r.metadata),
      createdAtMs: num(r.created_ms),
    };
  });
  const [project] = await db.query<Row>('SELECT name FROM projects WHERE id = $1', [scope.projectId]);
  return {
    run: mapRun(row),
    events,
    truncated: eventRows.length > RUN_EVENT_LIMIT,
    projectName: str(project?.name) || scope.projectId,
  };
}

/**
 * Finds the project and mode of an active secret key by its SHA-256 hash (hex), as the server stores
 * keys (spec §2.2). Revoked keys and keys past their rotation grace do not match.
 *
 * @example
 * ```ts
 * const scope = await findScopeBySecretKeyHash(db, sha256Hex(key));
 * ```
 */
export async function findScopeBySecretKeyHash(
  db: DashboardDb,
  hash: string,
): Promise<DashboardScope | null> {
  const [row] = await db.query<Row>(
    `SELECT project_id, mode FROM api_keys
     WHERE revoked_at IS NULL AND (secret_key_hash = $1
       OR (previous_secret_key_hash = $1 AND previous_secret_key_expires_at > now()))
     LIMIT 1`,
    [hash],
  );
  if (!row) return null;
  const mode = str(row.mode);
  return mode === 'test' || mode === 'live' ? { projectId: str(row.project_id), mode } : null;
}
