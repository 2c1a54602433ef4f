// Runs (spec §3.5): start, end, read, list and the timeline.
import type { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv, Deps } from '../context';
import {
  ApiError,
  metadataSchema,
  notFound,
  pageQuery,
  pathId,
  queryBool,
  queryDate,
  readJson,
  send,
  validate,
  validateQuery,
} from '../http';
import { durationMs, timelineEventOut } from '../shapes';
import { iso, newId, numericText } from '../util';
import { Emitter } from '../webhooks/emit';
import { getCustomer, pagedList, Where } from './common';
import { RUN_STATUSES, END_STATUSES, findWorkflow, getRunRow, runTotals, emitRunEnd } from './run-model';

const startRunSchema = z.object({
  customerId: z.string().min(1).max(64),
  workflowId: z.string().min(1).max(100),
  externalRunId: z.string().min(1).max(255).optional(),
  correlationId: z.string().max(255).optional(),
  parentRunId: z.string().min(1).max(64).optional(),
  metadata: metadataSchema.optional(),
});

const endRunSchema = z.object({
  status: z.enum(END_STATUSES),
  errorMessage: z.string().max(2000).optional(),
  errorCode: z.string().max(100).optional(),
  metadata: metadataSchema.optional(),
});

const runsQuery = z.object({
  ...pageQuery(50),
  customerId: z.string().max(64).optional(),
  workflowId: z.string().max(100).optional(),
  status: z.enum(RUN_STATUSES).optional(),
  from: queryDate.optional(),
  to: queryDate.optional(),
});

const timelineQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
  includeAnomalies: queryBool.optional(),
  collapseRetries: queryBool.optional(),
});

function encodeCursor(createdAt: unknown, seq: unknown): string {
  return Buffer.from(`${iso(createdAt)}|${seq}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { at: string; seq: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|(\d{1,18})$/.exec(text);
  if (!m?.[1] || !m[2]) {
    throw new ApiError(400, 'INVALID_PARAMETER', 'Invalid cursor', {
      details: [{ path: 'cursor', message: 'not a cursor from this server' }],
    });
  }
  return { at: m[1], seq: m[2] };
}

export function registerRuns(api: Hono<AppEnv>, deps: Deps): void {
  const { db } = deps;

  api.post('/runs', async (c) => {
    const auth = c.get('auth');
    const b = validate(startRunSchema, await readJson(c));
    const cust = await getCustomer(db, auth, b.customerId);
    const wf = await findWorkflow(db, auth, b.workflowId);
    if (!wf) throw notFound('WORKFLOW_NOT_FOUND', 'Workflow');
    if (b.parentRunId !== undefined) await getRunRow(db, auth, b.parentRunId);
    const [row] = await db.query(
      `INSERT INTO runs (id, project_id, mode, customer_id, workflow_id, external_run_id, correlation_id, parent_run_id, status, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'PENDING', $9::jsonb) ON CONFLICT DO NOTHING RETURNING *`,
      [
        newId('run'),
        auth.projectId,
        auth.mode,
        cust.id,
        wf.id,
        b.externalRunId ?? null,
        b.correlationId ?? null,
        b.parentRunId ?? null,
        b.metadata ? JSON.stringify(b.metadata) : null,
      ],
    );
    if (!row) {
      const [existing] = await db.query<{ id: string }>(
        'SELECT id FROM runs WHERE project_id = $1 AND mode = $2 AND external_run_id = $3',
        [auth.projectId, auth.mode, b.externalRunId ?? null],
      );
      throw new ApiError(409, 'DUPLICATE_RUN', 'A run with this externalRunId already exists', {
        extra: { existingRunId: existing?.id ?? null },
      });
    }
    deps.wrote(1);
    return send(c, 201, {
      id: row.id,
      customerId: row.customer_id,
      workflowId: row.workflow_id,
      workflowName: wf.name,
      status: row.status,
      correlationId: row.correlation_id ?? null,
      createdAt: iso(row.created_at),
    });
  });

  api.patch('/runs/:id', async (c) => {
    const auth = c.get('auth');
    const id = pathId(c, 'id', 'RUN_NOT_FOUND', 'Run');
    const b = validate(endRunSchema, await readJson(c));
    let wake = false;
    const run = await db.transaction(async (tx) => {
      const cur = await getRunRow(tx, auth, id, true);
      if ((END_STATUSES as readonly string[]).includes(String(cur.status))) {
        if (cur.status !== b.status)
          throw new ApiError(409, 'RUN_ALREADY_ENDED', `Run already ended with status ${cur.status}`);
        return cur;
      }
      const merged = b.metadata
        ? { ...((cur.metadata as Record<string, unknown> | null) ?? {}), ...b.metadata }
        : cur.metadata;
      await tx.query(
        `UPDATE runs SET status = $2, error_message = $3, error_code = $4, metadata = $5::jsonb, ended_at = now() WHERE id = $1`,
        [id, b.status, b.errorMessage ?? null, b.errorCode ?? null, merged ? JSON.stringify(merged) : null],
      );
      const ended = await getRunRow(tx, auth, id);
      const em = new Emitter(tx, auth);
      await emitRunEnd(em, tx, ended);
      wake = em.deliveries > 0;
      return ended;
    });
    if (wake) deps.wake();
    const totals = await runTotals(db, id);
    return send(c, 200, {
      id: run.id,
      status: run.status,
      startedAt: iso(run.started_at),
      endedAt: iso(run.ended_at),
      durationMs: durationMs(run),
      eventCount: totals.eventCount,
      totalCostUnits: totals.totalCostUnits,
    });
  });

  api.get('/runs/:id', async (c) => {
    const auth = c.get('auth');
    const id = pathId(c, 'id', 'RUN_NOT_FOUND', 'Run');
    const run = await getRunRow(db, auth, id);
    const [cust] = await db.query('SELECT name, external_customer_id FROM customers WHERE id = $1', [
      run.customer_id,
    ]);
    return send(c, 200, {
      id: run.id,
      customerId: run.customer_id,
      customerName: cust?.name ?? cust?.external_customer_id ?? null,
      workflowId: run.workflow_id,
      workflowName: run.workflow_name,
      status: run.status,
      startedAt: iso(run.started_at),
      endedAt: iso(run.ended_at),
      durationMs: durationMs(run),
      errorMessage: run.error_message ?? null,
      errorCode: run.error_code ?? null,
      correlationId: run.correlation_id ?? null,
      externalRunId: run.external_run_id ?? null,
      metadata: run.metadata ?? null,
      totals: await runTotals(db, id),
      _links: { timeline: `/v1/runs/${id}/timeline` },
    });
  });

  api.get('/runs', async (c) => {
    const auth = c.get('auth');
    const q = validateQuery(runsQuery, c);
    const where = new Where(auth, 'r')
      .add('r.customer_id = ?', q.customerId)
      .add('r.status = ?', q.status)
      .add('r.created_at >= ?', q.from?.toISOString())
      .add('r.created_at <= ?', q.to?.toISOString());
    if (q.workflowId !== undefined) where.add('(r.workflow_id = ? OR w.slug = ?)', q.workflowId);
    const { rows, count } = await pagedList(
      db,
      `SELECT r.*, w.name AS workflow_name, coalesce(cu.name, cu.external_customer_id) AS customer_name,
        (SELECT count(*) FROM events e WHERE e.run_id = r.id) AS event_count,
        (SELECT sum(cost_units)::text FROM events e WHERE e.run_id = r.id) AS total_cost`,
      'FROM runs r JOIN workflows w ON w.id = r.workflow_id JOIN customers cu ON cu.id = r.customer_id',
      where,
      'r.created_at DESC, r.id DESC',
      q.limit,
      q.offset,
    );
    const data = rows.map((r) => ({
      id: r.id,
      customerId: r.customer_id,
      customerName: r.customer_name ?? null,
      workflowId: r.workflow_id,
      workflowName: r.workflow_name,
      status: r.status,
      eventCount: Number(r.event_count ?? 0),
      totalCostUnits: numericText(r.total_cost),
      durationMs: durationMs(r),
      startedAt: iso(r.started_at),
      endedAt: iso(r.ended_at),
      createdAt: iso(r.created_at),
      errorMessage: r.error_message ?? null,
      errorCode: r.error_code ?? null,
    }));
    return send(c, 200, { data, count, hasMore: q.offset + rows.length < count });
  });

  api.get('/runs/:id/timeline', async (c) => {
    const auth = c.get('auth');
    const id = pathId(c, 'id', 'RUN_NOT_FOUND', 'Run');
    const q = validateQuery(timelineQuery, c);
    const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
    // The three reads are independent: on PostgreSQL they run on three pooled connections at once.
    // Events are read by run id alone; the run lookup (scoped to the project) answers 404 first.
    const [run, rows, agg] = await Promise.all([
      getRunRow(db, auth, id),
      after
        ? db.query(
            'SELECT * FROM events WHERE run_id = $1 AND (created_at, seq) > ($2::timestamptz, $3::bigint) ORDER BY created_at, seq LIMIT $4',
            [id, after.at, after.seq, q.limit + 1],
          )
        : db.query('SELECT * FROM events WHERE run_id = $1 ORDER BY created_at, seq LIMIT $2', [
            id,
            q.limit + 1,
          ]),
      db.query<{ event_type: string; outcome: string; n: unknown; retried: unknown }>(
        'SELECT event_type, outcome, count(*) AS n, count(retry_of_event_id) AS retried FROM events WHERE run_id = $1 GROUP BY event_type, outcome',
        [id],
      ),
    ]);
    const hasMore = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    const byType: Record<string, number> = {};
    const byOutcome: Record<string, number> = {};
    let total = 0;
    let retried = 0;
    let failed = 0;
    for (const a of agg) {
      const n = Number(a.n);
      total += n;
      retried += Number(a.retried);
      byType[a.event_type] = (byType[a.event_type] ?? 0) + n;
      const o = String(timelineEventOut({ outcome: a.outcome }).outcome);
      byOutcome[o] = (byOutcome[o] ?? 0) + n;
      if (o === 'FAILED' || o === 'TIMEOUT') failed += n;
    }
    return send(c, 200, {
      runId: run.id,
      workflowId: run.workflow_id,
      workflowName: run.workflow_name,
      customerId: run.customer_id,
      status: run.status,
      correlationId: run.correlation_id ?? null,
      metadata: run.metadata ?? null,
      errorMessage: run.error_message ?? null,
      errorCode: run.error_code ?? null,
      startedAt: iso(run.started_at),
      endedAt: iso(run.ended_at),
      durationMs: durationMs(run),
      events: page.map(timelineEventOut),
      anomalies: [],
      summary: {
        totalEvents: total,
        byType,
        byOutcome,
        retriedEvents: retried,
        failedEvents: failed,
        totalCostUsdc: null,
      },
      hasMore,
      nextCursor: hasMore && last ? encodeCursor(last.created_at, last.seq) : null,
    });
  });
}
