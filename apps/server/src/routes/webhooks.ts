import { requireCurrentKey } from '../auth';
import type { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv, Deps } from '../context';
import { ApiError, notFound, pageQuery, pathId, readJson, send, validate, validateQuery } from '../http';
import { deliveryOut, WEBHOOK_SELECT, webhookOut } from '../shapes';
import { newId, newWebhookSecret } from '../util';
import { EMITTED_EVENT_TYPES, SUBSCRIBABLE_EVENT_TYPES } from '../webhooks/event-types';
import { attemptDelivery } from '../webhooks/worker';
import { pagedList, Where } from './common';

const urlSchema = z
  .string()
  .max(2048)
  .refine((u) => {
    try {
      const p = new URL(u);
      return p.protocol === 'https:' || p.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'must be an absolute http: or https: URL');

const eventsSchema = z
  .array(
    z
      .string()
      .max(100)
      .refine((t) => SUBSCRIBABLE_EVENT_TYPES.has(t), 'unknown event type'),
  )
  .min(1)
  .max(50);

const filtersSchema = z
  .object({
    usageTypes: z.array(z.string().max(100)).max(100).optional(),
    customerIds: z.array(z.string().max(64)).max(100).optional(),
    severities: z
      .array(z.enum(['low', 'medium', 'high', 'critical']))
      .max(4)
      .optional(),
  })
  .strict();

const createSchema = z.object({
  url: urlSchema,
  events: eventsSchema,
  description: z.string().max(500).optional(),
  filters: filtersSchema.optional(),
});
const updateSchema = z.object({
  url: urlSchema.optional(),
  events: eventsSchema.optional(),
  description: z.string().max(500).optional(),
  isActive: z.boolean().optional(),
  filters: filtersSchema.nullable().optional(),
});

const MAX_WEBHOOKS = 20;

export function registerWebhooks(api: Hono<AppEnv>, deps: Deps): void {
  const { db } = deps;
  const load = async (c: { get(k: 'auth'): { projectId: string; mode: string } }, id: string) => {
    const auth = c.get('auth');
    const [row] = await db.query(
      `${WEBHOOK_SELECT} WHERE w.id = $1 AND w.project_id = $2 AND w.mode = $3 AND w.deleted_at IS NULL`,
      [id, auth.projectId, auth.mode],
    );
    if (!row) throw notFound('WEBHOOK_NOT_FOUND', 'Webhook');
    return row;
  };

  api.get('/webhooks/events', (c) =>
    send(c, 200, { events: Object.keys(EMITTED_EVENT_TYPES), description: EMITTED_EVENT_TYPES }),
  );

  api.post('/webhooks', async (c) => {
    const auth = c.get('auth');
    requireCurrentKey(auth); // a key in its rotation grace must not leave an endpoint behind that outlives it
    const b = validate(createSchema, await readJson(c));
    const secret = newWebhookSecret();
    const id = newId('wh');
    await db.transaction(async (tx) => {
      // Serialise creates of one project so the limit holds under concurrency.
      await tx.query('SELECT id FROM projects WHERE id = $1 FOR UPDATE', [auth.projectId]);
      const [n] = await tx.query<{ n: unknown }>(
        'SELECT count(*) AS n FROM webhooks WHERE project_id = $1 AND mode = $2 AND deleted_at IS NULL',
        [auth.projectId, auth.mode],
      );
      if (Number(n?.n ?? 0) >= MAX_WEBHOOKS)
        throw new ApiError(
          400,
          'WEBHOOK_LIMIT_EXCEEDED',
          `At most ${MAX_WEBHOOKS} webhooks per project and mode`,
        );
      await tx.query(
        `INSERT INTO webhooks (id, project_id, mode, url, events, description, filters, secret) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8)`,
        [
          id,
          auth.projectId,
          auth.mode,
          b.url,
          JSON.stringify(b.events),
          b.description ?? null,
          b.filters ? JSON.stringify(b.filters) : null,
          secret,
        ],
      );
    });
    return send(c, 201, {
      ...webhookOut(await load(c, id)),
      secret,
      message: 'Store the secret now: it is shown only once',
    });
  });

  api.get('/webhooks', async (c) => {
    const auth = c.get('auth');
    const rows = await db.query(
      `${WEBHOOK_SELECT} ${new Where(auth, 'w')} AND w.deleted_at IS NULL ORDER BY w.created_at DESC, w.id DESC`,
      [auth.projectId, auth.mode],
    );
    return send(c, 200, { data: rows.map(webhookOut), count: rows.length, hasMore: false });
  });

  api.get('/webhooks/:id', async (c) =>
    send(c, 200, webhookOut(await load(c, pathId(c, 'id', 'WEBHOOK_NOT_FOUND', 'Webhook')))),
  );

  api.patch('/webhooks/:id', async (c) => {
    requireCurrentKey(c.get('auth'));
    const id = pathId(c, 'id', 'WEBHOOK_NOT_FOUND', 'Webhook');
    const b = validate(updateSchema, await readJson(c, ['filters']));
    await load(c, id);
    await db.query(
      `UPDATE webhooks SET url = coalesce($2, url), events = coalesce($3::jsonb, events), description = coalesce($4, description),
         is_active = coalesce($5, is_active), filters = CASE WHEN $6::boolean THEN $7::jsonb ELSE filters END, updated_at = now() WHERE id = $1`,
      [
        id,
        b.url ?? null,
        b.events ? JSON.stringify(b.events) : null,
        b.description ?? null,
        b.isActive ?? null,
        b.filters !== undefined,
        b.filters ? JSON.stringify(b.filters) : null,
      ],
    );
    return send(c, 200, webhookOut(await load(c, id)));
  });

  api.delete('/webhooks/:id', async (c) => {
    const id = pathId(c, 'id', 'WEBHOOK_NOT_FOUND', 'Webhook');
    await load(c, id);
    await db.transaction(async (tx) => {
      await tx.query('UPDATE webhooks SET deleted_at = now(), is_active = false WHERE id = $1', [id]);
      await tx.query(
        "UPDATE webhook_deliveries SET status = 'FAILED', last_error = 'webhook deleted' WHERE webhook_id = $1 AND status = 'PENDING'",
        [id],
      );
    });
    return c.body(null, 204);
  });

  api.post('/webhooks/:id/test', async (c) => {
    const auth = c.get('auth');
    const id = pathId(c, 'id', 'WEBHOOK_NOT_FOUND', 'Webhook');
    await readJson(c);
    const hook = await load(c, id);
    if (!hook.is_active)
      return send(c, 200, {
        message: 'Webhook is inactive; nothing sent',
        deliveryId: null,
        status: 'NOT_SENT',
      });
    const eventId = newId('whe');
    const deliveryId = newId('whd');
    const createdAt = new Date().toISOString();
    const payload = {
      id: eventId,
      type: 'webhook.test',
      createdAt,
      data: { webhookId: id, message: 'Test event from the Drip local server' },
    };
    await db.transaction(async (tx) => {
      await tx.query(
        'INSERT INTO webhook_events (id, project_id, mode, type, payload, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6)',
        [eventId, auth.projectId, auth.mode, 'webhook.test', JSON.stringify(payload), createdAt],
      );
      // next_attempt_at stays null: the worker never picks a test delivery up (no retries).
      await tx.query(
        `INSERT INTO webhook_deliveries (id, project_id, mode, webhook_id, event_id, event_type, status, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, 'webhook.test', 'SENDING', NULL)`,
        [deliveryId, auth.projectId, auth.mode, id, eventId],
      );
    });
    const [row] = await db.query('SELECT * FROM webhook_deliveries WHERE id = $1', [deliveryId]);
    const saved = deps.settings.webhookTimeoutMs;
    const res = await attemptDelivery(
      { ...deps, settings: { ...deps.settings, webhookTimeoutMs: Math.min(saved, 10_000) } },
      row ?? {},
      { retry: false },
    );
    return send(c, 200, {
      message: res.ok ? 'Test event delivered' : 'Test event delivery failed',
      deliveryId,
      status: res.ok ? 'DELIVERED' : 'FAILED',
      responseCode: res.status,
    });
  });

  api.post('/webhooks/:id/rotate-secret', async (c) => {
    requireCurrentKey(c.get('auth'));
    const id = pathId(c, 'id', 'WEBHOOK_NOT_FOUND', 'Webhook');
    await readJson(c);
    await load(c, id);
    const secret = newWebhookSecret();
    const expires = new Date(Date.now() + deps.settings.webhookSecretGraceMs).toISOString();
    // A second rotation inside the grace window drops the oldest secret (spec §8.3).
    await db.query(
      'UPDATE webhooks SET previous_secret = secret, previous_secret_expires_at = $2, secret = $3, updated_at = now() WHERE id = $1',
      [id, expires, secret],
    );
    return send(c, 200, {
      secret,
      message: 'Secret rotated; the previous secret stays valid until previousSecretExpiresAt',
      previousSecretExpiresAt: expires,
    });
  });

  api.get('/webhooks/:id/deliveries', async (c) => {
    const auth = c.get('auth');
    const id = pathId(c, 'id', 'WEBHOOK_NOT_FOUND', 'Webhook');
    const q = validateQuery(
      z.object({ ...pageQuery(50), status: z.enum(['PENDING', 'DELIVERED', 'FAILED']).optional() }),
      c,
    );
    await load(c, id);
    const where = new Where(auth).add('webhook_id = ?', id).add('status = ?', q.status);
    const { rows, count } = await pagedList(
      db,
      'SELECT *',
      'FROM webhook_deliveries',
      where,
      'created_at DESC, id DESC',
      q.limit,
      q.offset,
    );
    return send(c, 200, { data: rows.map(deliveryOut), count, hasMore: q.offset + rows.length < count });
  });
}
