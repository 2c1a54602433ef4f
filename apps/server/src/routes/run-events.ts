// Run events (spec §3.6): `POST /run-events` and `POST /run-events/batch`.
import type { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv, Deps } from '../context';
import { idempotencyKeySchema, readJson, send, validate } from '../http';
import { claimKeys, fingerprint, lostKeys, reserveKeys, runIdempotent, storeResponse } from '../idempotency';
import { iso } from '../util';
import { stripNulls } from './usage';
import {
  type Row,
  eventItemSchema,
  type EventItem,
  findWorkflow,
  getRunRow,
  insertRunEvent,
  checkParents,
  missingParents,
} from './run-model';

function singleEventBody(row: Row): Record<string, unknown> {
  return {
    id: row.id,
    runId: row.run_id ?? null,
    eventType: row.event_type,
    quantity: Number(row.quantity ?? 0),
    costUnits: row.cost_units === null || row.cost_units === undefined ? null : Number(row.cost_units),
    isDuplicate: false,
    timestamp: iso(row.created_at),
  };
}

export function registerRunEvents(api: Hono<AppEnv>, deps: Deps): void {
  const { db } = deps;

  api.post('/run-events', async (c) => {
    const auth = c.get('auth');
    const raw = await readJson(c);
    const item = validate(
      eventItemSchema.and(
        z.object({ runId: z.string().min(1).max(64), idempotencyKey: idempotencyKeySchema }),
      ),
      raw,
    ) as EventItem & { runId: string; idempotencyKey: string };
    const fp = fingerprint('run-event', item);
    const out = await runIdempotent(deps, auth, item.idempotencyKey, fp, async (tx) => {
      const run = await getRunRow(tx, auth, item.runId, true);
      await checkParents(tx, auth, [item.parentEventId]);
      const row = await insertRunEvent(tx, auth, item, run, String(run.customer_id), String(run.workflow_id));
      return { status: 201, body: singleEventBody(row) };
    });
    return send(c, out.status, out.body, out.replayed ? { 'Idempotent-Replayed': 'true' } : {});
  });

  api.post('/run-events/batch', async (c) => {
    const auth = c.get('auth');
    const { events } = validate(
      z.object({ events: z.array(z.unknown()).min(1).max(1000) }),
      await readJson(c),
    );
    const results: Record<string, unknown>[] = [];
    const releases: (() => void)[] = [];
    let created = 0;
    let duplicates = 0;
    let skipped = 0;
    const skip = (eventType: unknown, reason: string) => {
      skipped++;
      results.push({
        id: null,
        eventType: typeof eventType === 'string' ? eventType : null,
        isDuplicate: false,
        skipped: true,
        reason,
      });
    };
    try {
      await db.transaction(async (tx) => {
        const runs = new Map<string, Row | null>();
        for (const raw of events) {
          const parsed = eventItemSchema.safeParse(stripNulls(raw));
          const rawType = (raw as { eventType?: unknown } | null)?.eventType;
          if (!parsed.success || (parsed.data.runId === undefined && parsed.data.customerId === undefined)) {
            skip(rawType, 'VALIDATION_ERROR');
            continue;
          }
          const item = parsed.data;
          let run: Row | null | undefined;
          if (item.runId !== undefined) {
            run = runs.get(item.runId);
            if (run === undefined) {
              run = (await getRunRow(tx, auth, item.runId).catch(() => null)) ?? null;
              runs.set(item.runId, run);
            }
            if (!run) {
              skip(item.eventType, 'RUN_NOT_FOUND');
              continue;
            }
          }
          let customerId = run ? String(run.customer_id) : (item.customerId ?? '');
          if (!run) {
            const [cu] = await tx.query(
              'SELECT id FROM customers WHERE id = $1 AND project_id = $2 AND mode = $3',
              [customerId, auth.projectId, auth.mode],
            );
            if (!cu) {
              skip(item.eventType, 'CUSTOMER_NOT_FOUND');
              continue;
            }
            customerId = String(cu.id);
          }
          if ((await missingParents(tx, auth, [item.parentEventId])).size > 0) {
            skip(item.eventType, 'EVENT_NOT_FOUND');
            continue;
          }
          let workflowId: string | null = run ? String(run.workflow_id) : null;
          if (!run && item.workflowId !== undefined)
            workflowId = String((await findWorkflow(tx, auth, item.workflowId))?.id ?? '') || null;
          const fp = fingerprint('run-event', item);
          const key = item.idempotencyKey;
          if (key !== undefined) {
            const reservation = reserveKeys(deps, auth, [{ key, fp }]);
            const refused = reservation.refused.get(0);
            if (refused) {
              skip(item.eventType, refused.code);
              continue;
            }
            releases.push(reservation.release);
            if (!(await claimKeys(tx, auth, [{ key, fp }])).has(key)) {
              const v = (await lostKeys(tx, auth, [{ key, fp }])).get(key);
              if (v?.kind === 'replay') {
                duplicates++;
                results.push({ id: v.response.id, eventType: item.eventType, isDuplicate: true });
              } else {
                skip(item.eventType, v?.error.code ?? 'IDEMPOTENCY_KEY_IN_PROGRESS');
              }
              continue;
            }
          }
          const row = await insertRunEvent(tx, auth, item, run ?? undefined, customerId, workflowId);
          if (key !== undefined) await storeResponse(tx, auth, key, 201, singleEventBody(row));
          created++;
          results.push({ id: row.id, eventType: row.event_type, isDuplicate: false });
        }
      });
    } finally {
      for (const release of releases) release();
    }
    return send(c, 201, { success: true, created, duplicates, skipped, events: results });
  });
}
