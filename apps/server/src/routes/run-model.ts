import { z } from 'zod';
import type { Queryable, Scope } from '../context';
import { depthOf, idempotencyKeySchema, metadataSchema, notFound, quantitySchema } from '../http';
import { durationMs } from '../shapes';
import { decimalText, newId, numericText } from '../util';
import type { Emitter } from '../webhooks/emit';

export type Row = Record<string, unknown>;
export const SLUG_RE = /^[a-z0-9_-]+$/;
export const RUN_STATUSES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'] as const;
export const END_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'] as const;
export const OUTCOMES = [
  'PENDING',
  'SUCCEEDED',
  'FAILED',
  'SKIPPED',
  'RETRIED',
  'TIMEOUT',
  'CANCELLED',
] as const;
export const SURFACES = ['API', 'RPC', 'WEBHOOK', 'AGENT', 'PIPELINE', 'CUSTOM'] as const;
export const CHAINS = [
  'ETHEREUM',
  'SOLANA',
  'POLYGON',
  'ARBITRUM',
  'OPTIMISM',
  'BASE',
  'AVALANCHE',
  'BSC',
] as const;

export const NAMED: ReadonlySet<string> = new Set([
  'runId',
  'customerId',
  'workflowId',
  'eventType',
  'quantity',
  'units',
  'description',
  'costUnits',
  'costCurrency',
  'correlationId',
  'parentEventId',
  'spanId',
  'metadata',
  'idempotencyKey',
  'actionName',
  'outcome',
  'explanation',
]);

export const eventItemSchema = z
  .looseObject({
    runId: z.string().min(1).max(64).optional(),
    customerId: z.string().min(1).max(64).optional(),
    workflowId: z.string().min(1).max(100).optional(),
    eventType: z.string().min(1).max(100),
    quantity: quantitySchema.default(1),
    units: z.string().max(50).optional(),
    description: z.string().max(500).optional(),
    costUnits: z.number().min(0).max(1e15).optional(),
    costCurrency: z.string().max(10).optional(),
    correlationId: z.string().max(255).optional(),
    parentEventId: z.string().min(1).max(64).optional(),
    spanId: z.string().max(64).optional(),
    actionName: z.string().max(255).optional(),
    outcome: z.enum(OUTCOMES).optional(),
    explanation: z.string().max(2000).optional(),
    metadata: metadataSchema.optional(),
    idempotencyKey: idempotencyKeySchema.optional(),
  })
  .superRefine((v, ctx) => {
    const attrs = attributesOf(v);
    if (attrs && JSON.stringify(attrs).length > 16 * 1024)
      ctx.addIssue({ code: 'custom', message: 'extra fields exceed 16 KiB' });
    if (attrs && depthOf(attrs) > 5)
      ctx.addIssue({ code: 'custom', message: 'extra fields are nested deeper than 5 levels' });
  });

export type EventItem = z.output<typeof eventItemSchema>;

export function attributesOf(v: Record<string, unknown>): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (!NAMED.has(k) && x !== undefined) out[k] = x;
  return Object.keys(out).length > 0 ? out : null;
}

export const recordSchema = z
  .object({
    customerId: z.string().min(1).max(64),
    workflow: z.string().min(1).max(100),
    events: z.array(z.unknown()).max(100).default([]),
    status: z.enum(END_STATUSES),
    errorMessage: z.string().max(2000).optional(),
    errorCode: z.string().max(100).optional(),
    externalRunId: z.string().min(1).max(255).optional(),
    correlationId: z.string().max(255).optional(),
    metadata: metadataSchema.optional(),
    idempotencyKey: idempotencyKeySchema.optional(),
    startedAt: z.iso.datetime({ offset: true }).optional(),
    endedAt: z.iso.datetime({ offset: true }).optional(),
  })
  .superRefine((v, ctx) => {
    const s = v.startedAt ? Date.parse(v.startedAt) : undefined;
    const e = v.endedAt ? Date.parse(v.endedAt) : undefined;
    const limit = Date.now() + 5 * 60_000;
    if (s !== undefined && e !== undefined && s > e)
      ctx.addIssue({ code: 'custom', path: ['startedAt'], message: 'must not be after endedAt' });
    if ((s ?? 0) > limit || (e ?? 0) > limit)
      ctx.addIssue({ code: 'custom', path: ['endedAt'], message: 'at most 5 minutes in the future' });
  });

export type RecordBody = z.output<typeof recordSchema>;

export function titleCase(slug: string): string {
  return slug.replace(/[_-]/g, ' ').replace(/\b\w/g, (ch) => ch.toUpperCase());
}

/** Finds a workflow by id, then by slug (spec §2.5). */
export async function findWorkflow(db: Queryable, scope: Scope, ref: string): Promise<Row | undefined> {
  const [row] = await db.query(
    'SELECT * FROM workflows WHERE project_id = $1 AND mode = $2 AND (id = $3 OR slug = $3) ORDER BY (id = $3) DESC LIMIT 1',
    [scope.projectId, scope.mode, ref],
  );
  return row;
}

export async function ensureWorkflow(tx: Queryable, scope: Scope, ref: string): Promise<Row> {
  const found = await findWorkflow(tx, scope, ref);
  if (found) return found;
  if (!SLUG_RE.test(ref)) throw notFound('WORKFLOW_NOT_FOUND', 'Workflow');
  await tx.query(
    `INSERT INTO workflows (id, project_id, mode, name, slug, product_surface) VALUES ($1, $2, $3, $4, $5, 'CUSTOM')
     ON CONFLICT (project_id, mode, slug) DO NOTHING`,
    [newId('wf'), scope.projectId, scope.mode, titleCase(ref), ref],
  );
  const created = await findWorkflow(tx, scope, ref);
  if (!created) throw notFound('WORKFLOW_NOT_FOUND', 'Workflow');
  return created;
}

export async function getRunRow(db: Queryable, scope: Scope, id: string, forUpdate = false): Promise<Row> {
  const [row] = await db.query(
    `SELECT r.*, w.name AS workflow_name FROM runs r JOIN workflows w ON w.id = r.workflow_id
     WHERE r.id = $1 AND r.project_id = $2 AND r.mode = $3${forUpdate ? ' FOR UPDATE OF r' : ''}`,
    [id, scope.projectId, scope.mode],
  );
  if (!row) throw notFound('RUN_NOT_FOUND', 'Run');
  return row;
}

export async function runTotals(
  db: Queryable,
  runId: string,
): Promise<{ eventCount: number; totalQuantity: string; totalCostUnits: string }> {
  const [t] = await db.query(
    'SELECT count(*) AS n, coalesce(sum(quantity), 0)::text AS q, coalesce(sum(cost_units), 0)::text AS cu FROM events WHERE run_id = $1',
    [runId],
  );
  return {
    eventCount: Number(t?.n ?? 0),
    totalQuantity: numericText(t?.q) ?? '0.000000',
    totalCostUnits: numericText(t?.cu) ?? '0.000000',
  };
}

export async function emitRunEnd(em: Emitter, db: Queryable, run: Row): Promise<void> {
  await emitRunEndWith(em, run, await runTotals(db, String(run.id)));
}

/** Emits `run.completed` or `run.failed` for a run whose totals are known. */
export async function emitRunEndWith(
  em: Emitter,
  run: Row,
  totals: { eventCount: number; totalCostUnits: string },
): Promise<void> {
  const data: Record<string, unknown> = {
    runId: run.id,
    customerId: run.customer_id,
    workflowId: run.workflow_id,
    workflowName: run.workflow_name,
    status: run.status,
    durationMs: durationMs(run),
    eventCount: totals.eventCount,
    totalCostUnits: totals.totalCostUnits,
  };
  if (run.status === 'COMPLETED') await em.emit('run.completed', data);
  else
    await em.emit('run.failed', {
      ...data,
      errorMessage: run.error_message ?? null,
      errorCode: run.error_code ?? null,
    });
}

/** Where run events belong and when they happened: the same for every event of one write. */
export interface RunEventPlace {
  customerId: string;
  runId: string | null;
  workflowId: string | null;
  /** `created_at`; `null` for the database's `now()`. */
  at: string | null;
}

/**
 * The values of one run-event row, in the order {@link insertRunEventRows} reads them: the one place that
 * maps an event item to its columns, for the single-event routes and the set-based bulk path alike.
 *
 * @example
 * ```ts
 * const row = runEventRow(item, { customerId: 'cus_1', runId: 'run_1', workflowId: 'wf_1', at: null });
 * await insertRunEventRows(tx, scope, [row]);
 * ```
 */
export function runEventRow(item: EventItem, place: RunEventPlace): unknown[] {
  return [
    newId('evt'),
    place.customerId,
    place.runId,
    place.workflowId,
    item.eventType,
    item.actionName ?? null,
    item.outcome ?? 'SUCCEEDED',
    item.explanation ?? null,
    item.idempotencyKey ?? null,
    item.parentEventId ?? null,
    decimalText(item.quantity),
    item.units ?? null,
    item.description ?? null,
    item.costUnits === undefined ? null : decimalText(item.costUnits),
    item.costCurrency ?? null,
    item.correlationId ?? null,
    item.spanId ?? null,
    place.at,
    item.metadata ?? null,
    attributesOf(item),
  ];
}

/**
 * Inserts run-event rows built by {@link runEventRow}, in the given order (seq follows it), as one JSON
 * document in one statement. `attributes` is JSON null, not SQL NULL, when there are none; `metadata` is
 * SQL NULL. Returns the rows written when `returning` is set.
 *
 * @example
 * ```ts
 * const [row] = await insertRunEventRows(tx, scope, [runEventRow(item, place)], true);
 * ```
 */
export async function insertRunEventRows(
  tx: Queryable,
  scope: Scope,
  rows: readonly unknown[][],
  returning = false,
): Promise<Row[]> {
  if (rows.length === 0) return [];
  return tx.query(
    `INSERT INTO events (id, project_id, mode, kind, customer_id, run_id, workflow_id, event_type, action_name, outcome, explanation,
       idempotency_key, parent_event_id, usage_type, quantity, units, description, cost_units, cost_currency, correlation_id, span_id,
       metadata, attributes, created_at)
     SELECT e->>0, $1, $2, 'run', e->>1, e->>2, e->>3, e->>4, e->>5, e->>6, e->>7, e->>8, e->>9, e->>4, (e->>10)::numeric, e->>11,
       e->>12, (e->>13)::numeric, e->>14, e->>15, e->>16, nullif(e->18, 'null'::jsonb), e->19, coalesce((e->>17)::timestamptz, now())
     FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(e, n)
     ORDER BY x.n${returning ? '\n     RETURNING *' : ''}`,
    [scope.projectId, scope.mode, JSON.stringify(rows)],
  );
}

/** Inserts one run event row; a PENDING run becomes RUNNING. */
export async function insertRunEvent(
  tx: Queryable,
  scope: Scope,
  item: EventItem,
  run: Row | undefined,
  customerId: string,
  workflowId: string | null,
  at?: string,
): Promise<Row> {
  const place = { customerId, runId: run ? String(run.id) : null, workflowId, at: at ?? null };
  const [row] = await insertRunEventRows(tx, scope, [runEventRow(item, place)], true);
  if (run && run.status === 'PENDING') {
    await tx.query(
      "UPDATE runs SET status = 'RUNNING', started_at = coalesce(started_at, now()) WHERE id = $1 AND status = 'PENDING'",
      [run.id],
    );
    run.status = 'RUNNING';
  }
  return row ?? {};
}

/**
 * The one rule for `parentEventId` on every route that writes run events (`/run-events`, its batch,
 * `/runs/record` and its bulk): the parent must be an event of the caller's project and mode. Returns the
 * given ids that name no such event; one statement for any number of ids.
 *
 * @example
 * ```ts
 * const missing = await missingParents(tx, scope, ['evt_1', 'evt_2']); // Set { 'evt_2' } if only evt_1 exists
 * ```
 */
export async function missingParents(
  db: Queryable,
  scope: Scope,
  ids: Iterable<string | undefined>,
): Promise<Set<string>> {
  const wanted = new Set<string>();
  for (const id of ids) if (id !== undefined) wanted.add(id);
  if (wanted.size === 0) return wanted;
  const found = await db.query<{ id: string }>(
    'SELECT id FROM events WHERE project_id = $1 AND mode = $2 AND id = ANY($3::text[])',
    [scope.projectId, scope.mode, [...wanted]],
  );
  for (const r of found) wanted.delete(r.id);
  return wanted;
}

/** 404 EVENT_NOT_FOUND for a `parentEventId` that {@link missingParents} reported. */
export const parentNotFound = () => notFound('EVENT_NOT_FOUND', 'Parent event');

/** Throws {@link parentNotFound} unless every given parent is an event of the scope. */
export async function checkParents(
  db: Queryable,
  scope: Scope,
  ids: Iterable<string | undefined>,
): Promise<void> {
  if ((await missingParents(db, scope, ids)).size > 0) throw parentNotFound();
}
