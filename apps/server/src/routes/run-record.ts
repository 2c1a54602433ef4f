// Recorded runs (spec §5.5, §10): `POST /runs/record` and `POST /runs/record/bulk`.
import type { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv, Deps, Queryable, Scope } from '../context';
import { sqlState } from '../db/driver';
import { ApiError, readJson, send, sendText, validate } from '../http';
import { claimKeys, fingerprint, type Outcome, reserveKeys, runIdempotent } from '../idempotency';
import { durationMs } from '../shapes';
import { formatMicros, newId, numberToMicros } from '../util';
import { Emitter } from '../webhooks/emit';
import { fastEventItem, fastRecordBody } from './fast-parse';
import { stripNulls } from './usage';
import { getCustomer } from './common';
import {
  type Row,
  SLUG_RE,
  NAMED,
  eventItemSchema,
  type EventItem,
  recordSchema,
  type RecordBody,
  titleCase,
  ensureWorkflow,
  runTotals,
  emitRunEnd,
  emitRunEndWith,
  insertRunEvent,
  insertRunEventRows,
  runEventRow,
  checkParents,
  missingParents,
} from './run-model';

function recordResponse(
  run: Row,
  created: number,
  duplicates: number,
  totalCost: string,
  isDuplicate: boolean,
  duration: number | null = durationMs(run),
): Record<string, unknown> {
  const d = duration;
  return {
    run: {
      id: run.id,
      workflowId: run.workflow_id,
      workflowName: run.workflow_name,
      status: run.status,
      durationMs: d,
    },
    events: { created, duplicates },
    totalCostUnits: totalCost,
    summary: `${run.workflow_name}: ${run.status}, ${created} event${created === 1 ? '' : 's'}${d !== null ? `, ${d} ms` : ''}`,
    isDuplicate,
  };
}

/** Validates the `events[]` of a record body and computes its fingerprint; throws 422 on a bad item. */
function prepareRecord(body: RecordBody): { items: EventItem[]; fp: string } {
  const items: EventItem[] = [];
  for (const [i, raw] of body.events.entries()) {
    const res = eventItemSchema.safeParse(stripNulls(raw));
    if (!res.success) {
      throw new ApiError(422, 'VALIDATION_ERROR', 'Invalid request body', {
        details: res.error.issues
          .slice(0, 20)
          .map((x) => ({ path: ['events', i, ...x.path].map(String).join('.'), message: x.message })),
      });
    }
    items.push(res.data);
  }
  return { items, fp: fingerprint('run-record', { ...body, events: items }) };
}

const ISO_UTC_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A validated timestamp as `toISOString()` writes it; one already in that form is returned as is. */
function isoText(v: string): string {
  return ISO_UTC_MS.test(v) ? v : new Date(v).toISOString();
}

/** `startedAt` / `endedAt` of a recorded run: given times, else now (a future start ends when it starts). */
function recordTimes(body: RecordBody, now: string): { startedAt: string; endedAt: string } {
  const startedAt = body.startedAt ? isoText(body.startedAt) : body.endedAt ? isoText(body.endedAt) : now;
  const endedAt = body.endedAt
    ? isoText(body.endedAt)
    : body.startedAt && Date.parse(body.startedAt) > Date.parse(now)
      ? startedAt
      : now;
  return { startedAt, endedAt };
}

/** `POST /runs/record` for one validated body: atomic, deduplicated by key and `externalRunId` (spec §5.5). */
async function recordRun(
  deps: Deps,
  scope: Scope,
  body: RecordBody,
  prepared: { items: EventItem[]; fp: string } = prepareRecord(body),
): Promise<Outcome> {
  const { items, fp } = prepared;
  const exec = async (tx: Queryable): Promise<Outcome> => {
    if (body.externalRunId !== undefined) {
      const [existing] = await tx.query(
        `SELECT r.*, w.name AS workflow_name FROM runs r JOIN workflows w ON w.id = r.workflow_id
         WHERE r.project_id = $1 AND r.mode = $2 AND r.external_run_id = $3`,
        [scope.projectId, scope.mode, body.externalRunId],
      );
      if (existing) {
        if (existing.fingerprint !== fp) {
          throw new ApiError(409, 'DUPLICATE_RUN', 'A run with this externalRunId already exists', {
            extra: { existingRunId: existing.id },
          });
        }
        const totals = await runTotals(tx, String(existing.id));
        return {
          status: 201,
          body: recordResponse(existing, 0, totals.eventCount, totals.totalCostUnits, true),
          replayed: true,
        };
      }
    }
    const cust = await getCustomer(tx, scope, body.customerId);
    await checkParents(
      tx,
      scope,
      items.map((i) => i.parentEventId),
    );
    const wf = await ensureWorkflow(tx, scope, body.workflow);
    const { startedAt, endedAt } = recordTimes(body, new Date().toISOString());
    const runId = newId('run');
    const [run] = await tx.query(
      `INSERT INTO runs (id, project_id, mode, customer_id, workflow_id, external_run_id, correlation_id, status, metadata, error_message, error_code,
         fingerprint, started_at, ended_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14, $13) RETURNING *`,
      [
        runId,
        scope.projectId,
        scope.mode,
        cust.id,
        wf.id,
        body.externalRunId ?? null,
        body.correlationId ?? null,
        body.status,
        body.metadata ? JSON.stringify(body.metadata) : null,
        body.errorMessage ?? null,
        body.errorCode ?? null,
        fp,
        startedAt,
        endedAt,
      ],
    );
    const runRow = { ...(run ?? {}), workflow_name: wf.name };
    let cost = 0n;
    for (const item of items) {
      await insertRunEvent(tx, scope, item, runRow, String(cust.id), String(wf.id), startedAt);
      if (item.costUnits !== undefined) cost += numberToMicros(item.costUnits);
    }
    const em = new Emitter(tx, scope);
    await emitRunEnd(em, tx, runRow);
    return {
      status: 201,
      body: recordResponse(runRow, items.length, 0, formatMicros(cost), false),
      after: em.deliveries > 0 ? deps.wake : undefined,
    };
  };
  const attempt = async (): Promise<Outcome> => {
    if (body.idempotencyKey !== undefined) return runIdempotent(deps, scope, body.idempotencyKey, fp, exec);
    const out = await deps.db.transaction(exec);
    out.after?.();
    return out;
  };
  try {
    return await attempt();
  } catch (err) {
    // Two concurrent records with one externalRunId: the loser re-reads and replays or conflicts.
    if (sqlState(err) === '23505') return attempt();
    throw err;
  }
}

/**
 * The stored response of a new recorded run (as `recordResponse` builds it) and its `/runs/record/bulk`
 * result, written as JSON text directly: ids and statuses need no escaping, the workflow's id and name
 * come as JSON already. Key order does not matter for the stored copy (jsonb).
 */
function responseText(
  run: Row,
  wf: { id: string; name: string },
  created: number,
  totalCost: string,
  duration: number,
): { response: string; runText: string } {
  const runText = `{"id":"${run.id}","workflowId":${wf.id},"workflowName":${wf.name},"status":"${run.status}","durationMs":${duration}}`;
  const summary = JSON.stringify(
    `${run.workflow_name}: ${run.status}, ${created} event${created === 1 ? '' : 's'}, ${duration} ms`,
  );
  return {
    runText,
    response: `{"run":${runText},"events":{"created":${created},"duplicates":0},"totalCostUnits":"${totalCost}","summary":${summary},"isDuplicate":false}`,
  };
}

/** A valid run of a `/runs/record/bulk` request, ready to write. */
interface BulkRun {
  index: number;
  body: RecordBody;
  items: EventItem[];
  fp: string;
}

/**
 * Set-based `/runs/record/bulk` for the common case: new runs of known customers. One transaction and a
 * fixed number of statements write every such run (workflows created by slug, keys claimed with their
 * stored response, runs, events, webhook events). A run that needs more care is left to the per-run path
 * (`recordRun`), which then answers it exactly as `/runs/record` would: an unknown customer or workflow,
 * an `externalRunId` that already exists, a key already stored or still executing, a second use of a key
 * or `externalRunId` within the request. If a statement fails (a concurrent instance wrote the same key
 * or `externalRunId`, a lock timeout, a value out of range), the transaction rolls back and every run
 * goes through the per-run path, so each run stays atomic on its own (spec §10).
 *
 * Returns the outcome of each run it wrote, by input index.
 */
async function recordRunsFast(deps: Deps, scope: Scope, runs: BulkRun[]): Promise<Map<number, string>> {
  const seenKeys = new Set<string>();
  const seenExt = new Set<string>();
  const first: BulkRun[] = [];
  for (const r of runs) {
    const k = r.body.idempotencyKey;
    const e = r.body.externalRunId;
    if (k !== undefined && seenKeys.has(k)) continue;
    if (e !== undefined && seenExt.has(e)) continue;
    if (k !== undefined) seenKeys.add(k);
    if (e !== undefined) seenExt.add(e);
    first.push(r);
  }
  // A key executing elsewhere in this process is left to the per-run path, which answers it.
  const reservation = reserveKeys(
    deps,
    scope,
    first.map((r) =>
      r.body.idempotencyKey === undefined ? undefined : { key: r.body.idempotencyKey, fp: r.fp },
    ),
  );
  const cand = first.filter((_, i) => !reservation.refused.has(i));
  const done = new Map<number, string>();
  if (cand.length === 0) {
    reservation.release();
    return done;
  }
  const { projectId, mode } = scope;
  let deliveries = 0;
  try {
    await deps.db.transaction(async (tx) => {
      if (deps.db.kind === 'postgres') await tx.query("SET LOCAL lock_timeout = '3s'");
      const custs = await tx.query<{ id: string }>(
        'SELECT id FROM customers WHERE project_id = $1 AND mode = $2 AND id = ANY($3::text[])',
        [projectId, mode, [...new Set(cand.map((r) => r.body.customerId))]],
      );
      const knownCustomers = new Set(custs.map((c) => c.id));
      const refs = [...new Set(cand.map((r) => r.body.workflow))];
      const loadWorkflows = async (list: string[]) => {
        const rows = await tx.query<{ id: string; slug: string; name: string }>(
          'SELECT id, slug, name FROM workflows WHERE project_id = $1 AND mode = $2 AND (id = ANY($3::text[]) OR slug = ANY($3::text[]))',
          [projectId, mode, list],
        );
        // Like findWorkflow: an id match wins over a slug match.
        const out = new Map<string, { id: string; name: string }>();
        for (const w of rows) out.set(w.slug, w);
        for (const w of rows) out.set(w.id, w);
        return out;
      };
      const workflows = await loadWorkflows(refs);
      const toCreate = refs.filter((ref) => !workflows.has(ref) && SLUG_RE.test(ref));
      if (toCreate.length > 0) {
        await tx.query(
          `INSERT INTO workflows (id, project_id, mode, name, slug, product_surface)
           SELECT t.id, $1, $2, t.name, t.slug, 'CUSTOM' FROM unnest($3::text[], $4::text[], $5::text[]) AS t(id, name, slug)
           ON CONFLICT (project_id, mode, slug) DO NOTHING`,
          [projectId, mode, toCreate.map(() => newId('wf')), toCreate.map(titleCase), toCreate],
        );
        for (const [k, w] of await loadWorkflows(toCreate)) if (!workflows.has(k)) workflows.set(k, w);
      }
      const now = new Date().toISOString();
      // A workflow's id and name as JSON, once per workflow rather than once per run.
      const wfTexts = new Map<string, { id: string; name: string }>();
      const wfJson = (wf: { id: string; name: string }) => {
        let t = wfTexts.get(wf.id);
        if (!t) {
          t = { id: JSON.stringify(wf.id), name: JSON.stringify(wf.name) };
          wfTexts.set(wf.id, t);
        }
        return t;
      };
      // A run naming a parent event that is not in the scope is left to the per-run path (404 EVENT_NOT_FOUND).
      const missing = await missingParents(
        tx,
        scope,
        cand.flatMap((r) => r.items.map((i) => i.parentEventId)),
      );
      let go = cand.flatMap((r) => {
        const wf = workflows.get(r.body.workflow);
        if (!wf || !knownCustomers.has(r.body.customerId)) return [];
        if (
          missing.size > 0 &&
          r.items.some((i) => i.parentEventId !== undefined && missing.has(i.parentEventId))
        )
          return [];
        const { startedAt, endedAt } = recordTimes(r.body, now);
        const run: Row = {
          id: newId('run'),
          project_id: projectId,
          mode,
          customer_id: r.body.customerId,
          workflow_id: wf.id,
          workflow_name: wf.name,
          external_run_id: r.body.externalRunId ?? null,
          correlation_id: r.body.correlationId ?? null,
          status: r.body.status,
          error_message: r.body.errorMessage ?? null,
          error_code: r.body.errorCode ?? null,
          started_at: startedAt,
          ended_at: endedAt,
        };
        let cost = 0n;
        for (const item of r.items) if (item.costUnits !== undefined) cost += numberToMicros(item.costUnits);
        const totalCost = cost === 0n ? '0.000000' : formatMicros(cost);
        // Both times are ISO strings with milliseconds here, so this is durationMs(run) without re-parsing.
        const duration = Date.parse(endedAt) - Date.parse(startedAt);
        const text = responseText(run, wfJson(wf), r.items.length, totalCost, duration);
        const result = `{"index":${r.index},"status":201,"run":${text.runText},"isDuplicate":false}`;
        return [
          {
            index: r.index,
            body: r.body,
            items: r.items,
            fp: r.fp,
            run,
            totalCost,
            response: text.response,
            result,
          },
        ];
      });
      // The response is stored with the key: both commit together, or neither does.
      const keyed = go.filter((r) => r.body.idempotencyKey !== undefined);
      if (keyed.length > 0) {
        const won = await claimKeys(
          tx,
          scope,
          keyed.map((r) => ({
            key: r.body.idempotencyKey as string,
            fp: r.fp,
            stored: { status: 201, json: r.response },
          })),
        );
        if (won.size < keyed.length)
          go = go.filter((r) => r.body.idempotencyKey === undefined || won.has(r.body.idempotencyKey));
      }
      if (go.length === 0) return;
      // Rows travel as one JSON document per statement (one JSON.stringify for all of them).
      const runRows: unknown[] = new Array(go.length);
      for (let j = 0; j < go.length; j++) {
        const r = go[j] as (typeof go)[number];
        const run = r.run;
        runRows[j] = [
          run.id,
          run.customer_id,
          run.workflow_id,
          run.external_run_id,
          run.correlation_id,
          run.status,
          r.body.metadata ?? null,
          run.error_message,
          run.error_code,
          r.fp,
          run.started_at,
          run.ended_at,
        ];
      }
      // An `externalRunId` that is already stored is found by the insert itself (one probe of the
      // runs_external unique index per run, no plan involved): such runs are not written here. Their keys,
      // claimed above, are released and they go through the per-run path, which answers them as
      // `/runs/record` does (a replay, or 409 DUPLICATE_RUN). A separate `external_run_id = ANY($3)`
      // lookup let the planner scan every run of the project while the table had no statistics yet.
      // `skipped` lists the run ids not written only when some were not.
      const anyExt = go.some((r) => r.run.external_run_id !== null);
      const [inserted] = await tx.query<{ skipped: string[] | null }>(
        `WITH ins AS (
           INSERT INTO runs (id, project_id, mode, customer_id, workflow_id, external_run_id, correlation_id, status, metadata, error_message, error_code,
             fingerprint, started_at, ended_at, created_at)
           SELECT e->>0, $1, $2, e->>1, e->>2, e->>3, e->>4, e->>5, nullif(e->6, 'null'::jsonb), e->>7, e->>8, e->>9,
             (e->>10)::timestamptz, (e->>11)::timestamptz, (e->>10)::timestamptz
           FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(e, n)
           ORDER BY x.n${anyExt ? '\n           ON CONFLICT (project_id, mode, external_run_id) DO NOTHING' : ''}
           RETURNING id)
         SELECT CASE WHEN count(*) = $4 THEN NULL
           ELSE array(SELECT e->>0 FROM jsonb_array_elements($3::jsonb) AS y(e) EXCEPT SELECT id FROM ins) END AS skipped
         FROM ins`,
        [projectId, mode, JSON.stringify(runRows), go.length],
      );
      if (inserted?.skipped && inserted.skipped.length > 0) {
        const skipped = new Set(inserted.skipped);
        const released = go
          .filter((r) => skipped.has(String(r.run.id)) && r.body.idempotencyKey !== undefined)
          .map((r) => r.body.idempotencyKey as string);
        if (released.length > 0)
          await tx.query(
            'DELETE FROM idempotency_keys WHERE project_id = $1 AND mode = $2 AND key = ANY($3::text[])',
            [projectId, mode, released],
          );
        go = go.filter((r) => !skipped.has(String(r.run.id)));
      }
      const eventRows: unknown[][] = [];
      for (const r of go) {
        const run = r.run;
        const place = {
          customerId: String(run.customer_id),
          runId: String(run.id),
          workflowId: String(run.workflow_id),
          at: String(run.started_at),
        };
        for (const item of r.items) eventRows.push(runEventRow(item, place));
      }
      await insertRunEventRows(tx, scope, eventRows);
      const em = new Emitter(tx, scope);
      // Without an active webhook nothing is emitted, so the per-run payloads are not even built.
      const emitting = await em.active();
      for (const r of go) {
        if (emitting)
          await emitRunEndWith(em, r.run, { eventCount: r.items.length, totalCostUnits: r.totalCost });
        done.set(r.index, r.result);
      }
      deliveries = em.deliveries;
    });
  } catch (err) {
    // Nothing of this transaction was kept: every run goes through the per-run path instead.
    if (err instanceof ApiError || sqlState(err) !== undefined) {
      deps.log.debug('runs bulk: set-based write rolled back, recording run by run', {
        error: err instanceof Error ? err.message : String(err),
      });
      return new Map();
    }
    throw err;
  } finally {
    reservation.release();
  }
  if (deliveries > 0) deps.wake();
  return done;
}

export function registerRunRecord(api: Hono<AppEnv>, deps: Deps): void {
  api.post('/runs/record', async (c) => {
    const body = validate(recordSchema, await readJson(c));
    const out = await recordRun(deps, c.get('auth'), body);
    deps.wrote(1);
    return send(c, out.status, out.body, out.replayed ? { 'Idempotent-Replayed': 'true' } : {});
  });

  api.post('/runs/record/bulk', async (c) => {
    const auth = c.get('auth');
    const { runs } = validate(z.object({ runs: z.array(z.unknown()).min(1).max(500) }), await readJson(c));
    const results: Record<string, unknown>[] = new Array(runs.length);
    const errorResult = (index: number, err: ApiError) => ({
      index,
      status: err.status,
      error: { code: err.code, error: err.message, ...(err.extra ?? {}) },
    });
    const valid: BulkRun[] = [];
    const now = Date.now();
    for (const [index, raw] of runs.entries()) {
      // The hand-written checks take the common shape; anything else gets zod and its messages.
      const fast = fastRecordBody(raw, now);
      if (fast) {
        const items: EventItem[] = [];
        for (const e of fast.events) {
          const item = fastEventItem(e, NAMED);
          if (!item) break;
          items.push(item as EventItem);
        }
        if (items.length === fast.events.length) {
          valid.push({ index, body: fast, items, fp: fingerprint('run-record', { ...fast, events: items }) });
          continue;
        }
      }
      const parsed = recordSchema.safeParse(stripNulls(raw));
      if (!parsed.success) {
        results[index] = {
          index,
          status: 422,
          error: {
            code: 'VALIDATION_ERROR',
            error: 'Invalid run',
            details: parsed.error.issues
              .slice(0, 10)
              .map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
          },
        };
        continue;
      }
      try {
        valid.push({ index, body: parsed.data, ...prepareRecord(parsed.data) });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        results[index] = errorResult(index, err);
      }
    }
    const fast = await recordRunsFast(deps, auth, valid);
    // Results of the set-based path arrive as JSON text; the others are serialised here.
    const texts: (string | undefined)[] = new Array(runs.length);
    for (const r of valid) {
      const done = fast.get(r.index);
      if (done !== undefined) {
        texts[r.index] = done;
        continue;
      }
      try {
        const out = await recordRun(deps, auth, r.body, r);
        results[r.index] = {
          index: r.index,
          status: out.status,
          run: out.body.run,
          isDuplicate: Boolean(out.body.isDuplicate),
        };
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        results[r.index] = errorResult(r.index, err);
      }
    }
    deps.wrote(valid.length);
    let body = '{"results":[';
    for (let i = 0; i < runs.length; i++)
      body += (i === 0 ? '' : ',') + (texts[i] ?? JSON.stringify(results[i] ?? null));
    return sendText(c, 200, `${body}]}`);
  });
}
