import type { Driver, Scope } from './context';
import { insertKeyPair } from './routes/api-keys';
import { balanceOut, chargeOut, CHARGE_SELECT, customerOut, deliveryOut, eventOut } from './shapes';
import { iso, newId, numericText } from './util';

/** Keys of a project created through {@link Store.createProject}. */
export interface ProjectKeys {
  projectId: string;
  /** `sk_test_...` (or `sk_live_...` with `mode: 'live'`). */
  apiKey: string;
  /** `pk_test_...` (or `pk_live_...`). */
  publicKey: string;
  mode: 'test' | 'live';
}

/** A run as the store helpers return it. */
export interface StoredRun {
  id: string;
  customerId: string;
  workflowId: string;
  workflowSlug: string;
  status: string;
  externalRunId: string | null;
  startedAt: string | null;
  endedAt: string | null;
  createdAt: string | null;
  metadata: unknown;
}

type Obj = Record<string, unknown>;

/**
 * Query helpers over the server's database, for assertions in tests, examples and the demo. They read
 * the database directly (no HTTP, no auth) and return the same camelCase shapes as the API. This list
 * is stable: fields may be added, never removed or renamed.
 *
 * @example
 * ```ts
 * const srv = await startServer({ port: 0, memory: true });
 * const events = await srv.store.listUsageEvents(srv.projectId);
 * ```
 */
export interface Store {
  /** Creates a project with one key pair (test mode unless asked) and returns the keys. */
  createProject(opts?: { name?: string; mode?: 'test' | 'live' }): Promise<ProjectKeys>;
  /** Customers of a project and mode, oldest first. */
  listCustomers(projectId: string, mode?: 'test' | 'live'): Promise<Obj[]>;
  /** Balance shape of one customer (spec §3.0 `Balance`), or undefined. */
  getBalance(customerId: string): Promise<Obj | undefined>;
  /** Usage events (`eventType: "USAGE"`) of a project, oldest first; optionally one customer's. */
  listUsageEvents(projectId: string, opts?: { customerId?: string; mode?: 'test' | 'live' }): Promise<Obj[]>;
  /** Charges of a project, oldest first (spec `Charge` shape). */
  listCharges(projectId: string, opts?: { customerId?: string; mode?: 'test' | 'live' }): Promise<Obj[]>;
  /** Runs of a project, oldest first. */
  listRuns(projectId: string, opts?: { customerId?: string; mode?: 'test' | 'live' }): Promise<StoredRun[]>;
  /** Events of one run in timeline order (spec `ExecutionEvent` shape plus `attributes`). */
  listRunEvents(runId: string): Promise<Obj[]>;
  /** Every execution event (usage and run events) of a project, oldest first. */
  listEvents(projectId: string, opts?: { mode?: 'test' | 'live' }): Promise<Obj[]>;
  /** Webhook deliveries of a project, oldest first, with the event payload. */
  listWebhookDeliveries(
    projectId: string,
    opts?: { webhookId?: string; mode?: 'test' | 'live' },
  ): Promise<Obj[]>;
  /** Number of rows of a project in each data table (to assert that nothing was written). */
  countRows(projectId: string): Promise<Record<string, number>>;
  /** Runs a read-only SQL query (escape hatch for assertions). */
  query<T = Obj>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

const DATA_TABLES = [
  'customers',
  'events',
  'charges',
  'runs',
  'workflows',
  'idempotency_keys',
  'webhooks',
  'webhook_deliveries',
  'spending_caps',
  'balance_ledger',
];

/** Builds the query helpers over a driver. */
export function createStore(db: Driver): Store {
  return {
    async createProject(opts = {}) {
      const projectId = newId('prj');
      const mode = opts.mode ?? 'test';
      const scope: Scope = { projectId, mode };
      const keys = await db.transaction(async (tx) => {
        await tx.query('INSERT INTO projects (id, name) VALUES ($1, $2)', [
          projectId,
          opts.name ?? 'Project',
        ]);
        return insertKeyPair(tx, scope, 'default');
      });
      return { projectId, apiKey: keys.secretKey, publicKey: keys.publicKey, mode };
    },
    async listCustomers(projectId, mode = 'test') {
      const rows = await db.query(
        'SELECT * FROM customers WHERE project_id = $1 AND mode = $2 ORDER BY created_at, id',
        [projectId, mode],
      );
      return rows.map(customerOut);
    },
    async getBalance(customerId) {
      const [row] = await db.query('SELECT * FROM customers WHERE id = $1', [customerId]);
      return row ? balanceOut(row) : undefined;
    },
    async listUsageEvents(projectId, opts = {}) {
      const rows = await db.query(
        "SELECT * FROM events WHERE project_id = $1 AND mode = $2 AND kind = 'usage' AND ($3::text IS NULL OR customer_id = $3) ORDER BY created_at, seq",
        [projectId, opts.mode ?? 'test', opts.customerId ?? null],
      );
      return rows.map(eventOut);
    },
    async listCharges(projectId, opts = {}) {
      const rows = await db.query(
        `${CHARGE_SELECT} WHERE ch.project_id = $1 AND ch.mode = $2 AND ($3::text IS NULL OR ch.customer_id = $3) ORDER BY ch.created_at, ch.id`,
        [projectId, opts.mode ?? 'test', opts.customerId ?? null],
      );
      return rows.map(chargeOut);
    },
    async listRuns(projectId, opts = {}) {
      const rows = await db.query(
        `SELECT r.*, w.slug FROM runs r JOIN workflows w ON w.id = r.workflow_id
         WHERE r.project_id = $1 AND r.mode = $2 AND ($3::text IS NULL OR r.customer_id = $3) ORDER BY r.created_at, r.id`,
        [projectId, opts.mode ?? 'test', opts.customerId ?? null],
      );
      return rows.map((r) => ({
        id: String(r.id),
        customerId: String(r.customer_id),
        workflowId: String(r.workflow_id),
        workflowSlug: String(r.slug),
        status: String(r.status),
        externalRunId: r.external_run_id === null ? null : String(r.external_run_id),
        startedAt: iso(r.started_at),
        endedAt: iso(r.ended_at),
        createdAt: iso(r.created_at),
        metadata: r.metadata ?? null,
      }));
    },
    async listRunEvents(runId) {
      const rows = await db.query('SELECT * FROM events WHERE run_id = $1 ORDER BY created_at, seq', [runId]);
      return rows.map(eventOut);
    },
    async listEvents(projectId, opts = {}) {
      const rows = await db.query(
        'SELECT * FROM events WHERE project_id = $1 AND mode = $2 ORDER BY created_at, seq',
        [projectId, opts.mode ?? 'test'],
      );
      return rows.map(eventOut);
    },
    async listWebhookDeliveries(projectId, opts = {}) {
      const rows = await db.query(
        `SELECT d.*, e.payload FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
         WHERE d.project_id = $1 AND d.mode = $2 AND ($3::text IS NULL OR d.webhook_id = $3) ORDER BY d.created_at, d.id`,
        [projectId, opts.mode ?? 'test', opts.webhookId ?? null],
      );
      return rows.map((r) => ({ ...deliveryOut(r), webhookId: r.webhook_id, payload: r.payload }));
    },
    async countRows(projectId) {
      const out: Record<string, number> = {};
      for (const t of DATA_TABLES) {
        const [r] = await db.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${t} WHERE project_id = $1`, [
          projectId,
        ]);
        out[t] = Number(r?.n ?? 0);
      }
      return out;
    },
    query: (sql, params) => db.query(sql, params),
  };
}

export { numericText };
