// The events ledger (spec §3.7): `GET /events` and `GET /events/:id`.
import type { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv, Deps } from '../context';
import { notFound, pageQuery, pathId, queryDate, send, validateQuery } from '../http';
import { eventOut } from '../shapes';
import { pagedList, Where } from './common';
import { OUTCOMES } from './run-model';

const eventsQuery = z.object({
  ...pageQuery(50),
  customerId: z.string().max(64).optional(),
  runId: z.string().max(64).optional(),
  workflowId: z.string().max(100).optional(),
  eventType: z.string().max(100).optional(),
  outcome: z.enum(OUTCOMES).optional(),
  actionName: z.string().max(255).optional(),
  parentEventId: z.string().max(64).optional(),
  idempotencyKey: z.string().max(128).optional(),
  from: queryDate.optional(),
  to: queryDate.optional(),
});

export function registerEvents(api: Hono<AppEnv>, deps: Deps): void {
  const { db } = deps;

  api.get('/events', async (c) => {
    const auth = c.get('auth');
    const q = validateQuery(eventsQuery, c);
    const where = new Where(auth)
      .add('customer_id = ?', q.customerId)
      .add('run_id = ?', q.runId)
      .add('workflow_id = ?', q.workflowId)
      .add('event_type = ?', q.eventType)
      .add('outcome = ?', q.outcome)
      .add('action_name = ?', q.actionName)
      .add('parent_event_id = ?', q.parentEventId)
      .add('idempotency_key = ?', q.idempotencyKey)
      .add('created_at >= ?', q.from?.toISOString())
      .add('created_at <= ?', q.to?.toISOString());
    const { rows, count } = await pagedList(
      db,
      'SELECT *',
      'FROM events',
      where,
      'created_at DESC, id DESC',
      q.limit,
      q.offset,
    );
    const hasMore = q.offset + rows.length < count;
    return send(c, 200, {
      data: rows.map(eventOut),
      pagination: { total: count, limit: q.limit, offset: q.offset, hasMore },
      total: count,
      limit: q.limit,
      offset: q.offset,
      hasMore,
    });
  });

  api.get('/events/:id', async (c) => {
    const auth = c.get('auth');
    const id = pathId(c, 'id', 'EVENT_NOT_FOUND', 'Event');
    const [row] = await db.query('SELECT * FROM events WHERE id = $1 AND project_id = $2 AND mode = $3', [
      id,
      auth.projectId,
      auth.mode,
    ]);
    if (!row) throw notFound('EVENT_NOT_FOUND', 'Event');
    const children = await db.query(
      'SELECT * FROM events WHERE parent_event_id = $1 AND project_id = $2 AND mode = $3 ORDER BY created_at, seq LIMIT 100',
      [id, auth.projectId, auth.mode],
    );
    return send(c, 200, {
      ...eventOut(row),
      childEvents: children.map(eventOut),
      retriedBy: null,
      inputHash: null,
      outputHash: null,
    });
  });
}
