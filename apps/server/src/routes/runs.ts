import type { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv, Deps, Queryable, Scope } from '../context';
import { sqlState } from '../db/driver';
import {
  ApiError,
  depthOf,
  idempotencyKeySchema,
  metadataSchema,
  notFound,
  pageQuery,
  pathId,
  quantitySchema,
  queryBool,
  queryDate,
  readJson,
  send,
  sendText,
  validate,
  validateQuery,
} from '../http';
import { fingerprint, inflightKey, type Outcome, runIdempotent } from '../idempotency';
import { durationMs, eventOut, timelineEventOut, workflowOut } from '../shapes';
import { decimalText, formatMicros, iso, newId, numberToMicros, numericText } from '../util';
import { Emitter } from '../webhooks/emit';
import { fastEventItem, fastRecordBody } from './fast-parse';
import { stripNulls } from './usage';
import { getCustomer, pagedList, Where } from './common';

type Row = Record<string, unknown>;
const SLUG_RE = /^[a-z0-9_-]+$/;
const RUN_STATUSES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'] as const;
const END_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'] as const;
const OUTCOMES = ['PENDING', 'SUCCEEDED', 'FAILED', 'SKIPPED', 'RETRIED', 'TIMEOUT', 'CANCELLED'] as const;
const SURFACES = ['API', 'RPC', 'WEBHOOK', 'AGENT', 'PIPELINE', 'CUSTOM'] as const;
const CHAINS = ['ETHEREUM', 'SOLANA', 'POLYGON', 'ARBITRUM', 'OPTIMISM', 'BASE', 'AVALANCHE', 'BSC'] as const;

const workflowSchema = z.object({
  name: z.string().min(1).max(255),
  slug: z.string().min(1).max(100).regex(SLUG_RE, 'lowercase letters, digits, _ and - only'),
  productSurface: z.enum(SURFACES).default('CUSTOM'),
  chain: z.enum(CHAINS).optional(),
  description: z.string().max(1000).optional(),
  metadata: metadataSchema.optional(),
});

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

/** Named fields of a run event; any other field is kept in `attributes` (spec §2.4.1). */
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

type EventItem = z.output<typeof eventItemSchema>;

function attributesOf(v: Record<string, unknown>): Record<string, unknown> | null {
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

type RecordBody = z.output<typeof recordSchema>;

function titleCase(slug: string): string {
  return slug.replace(/[_-]/g, ' ').replace(/\b\w/g, (ch) => ch.toUpperCase());
}

/** Finds a workflow by id, then by slug (spec §2.5). */
async function findWorkflow(db: Queryable, scope: Scope, ref: string): Promise<Row | undefined> {
  const [row] = await db.query(
    'SELECT * FROM workflows WHERE project_id = $1 AND mode = $2 AND (id = $3 OR slug = $3) ORDER BY (id = $3) DESC LIMIT 1',
    [scope.projectId, scope.mode, ref],
  );
  return row;
}

async function ensureWorkflow(tx: Queryable, scope: Scope, ref: string): Promise<Row> {
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

async function getRunRow(db: Queryable, scope: Scope, id: string, forUpdate = false): Promise<Row> {
  const [row] = await db.query(
    `SELECT r.*, w.name AS workflow_name FROM runs r JOIN workflows w ON w.id = r.workflow_id
     WHERE r.id = $1 AND r.project_id = $2 AND r.mode = $3${forUpdate ? ' FOR UPDATE OF r' : ''}`,
    [id, scope.projectId, scope.mode],
  );
  if (!row) throw notFound('RUN_NOT_FOUND', 'Run');
  return row;
}

async function runTotals(
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

async function emitRunEnd(em: Emitter, db: Queryable, run: Row): Promise<void> {
  await emitRunEndWith(em, run, await runTotals(db, String(run.id)));
}

/** Emits `run.completed` or `run.failed` for a run whose totals are known. */
async function emitRunEndWith(
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

/** Inserts one run event row; a PENDING run becomes RUNNING. */
async function insertRunEvent(
  tx: Queryable,
  scope: Scope,
  item: EventItem,
  run: Row | undefined,
  customerId: string,
  workflowId: string | null,
  at?: string,
): Promise<Row> {
  const id = newId('evt');
  const [row] = await tx.query(
    `INSERT INTO events (id, project_id, mode, kind, customer_id, run_id, workflow_id, event_type, action_name, outcome, explanation,
       idempotency_key, parent_event_id, usage_type, quantity, units, description, cost_units, cost_currency, correlation_id, span_id,
       metadata, attributes, created_at)
     VALUES ($1, $2, $3, 'run', $4, $5, $6, $7, $8, $9, $10, $11, $12, $7, $13::numeric, $14, $15, $16::numeric, $17, $18, $19, $20::jsonb, $21::jsonb,
       coalesce($22::timestamptz, now())) RETURNING *`,
    [
      id,
      scope.projectId,
      scope.mode,
      customerId,
      run?.id ?? null,
      workflowId,
      item.eventType,
      item.actionName ?? null,
      item.outcome ?? 'SUCCEEDED',
      item.explanation ?? null,
      item.idempotencyKey ?? null,
      item.parentEventId ?? null,
      formatMicros(numberToMicros(item.quantity)),
      item.units ?? null,
      item.description ?? null,
      item.costUnits === undefined ? null : formatMicros(numberToMicros(item.costUnits)),
      item.costCurrency ?? null,
      item.correlationId ?? null,
      item.spanId ?? null,
      item.metadata ? JSON.stringify(item.metadata) : null,
      JSON.stringify(attributesOf(item)),
      at ?? null,
    ],
  );
  if (run && run.status === 'PENDING') {
    await tx.query(
      "UPDATE runs SET status = 'RUNNING', started_at = coalesce(started_at, now()) WHERE id = $1 AND status = 'PENDING'",
      [run.id],
    );
    run.status = 'RUNNING';
  }
  return row ?? {};
}

async function checkParent(tx: Queryable, scope: Scope, parentEventId: string | undefined): Promise<void> {
  if (parentEventId === undefined) return;
  const [p] = await tx.query('SELECT 1 FROM events WHERE id = $1 AND project_id = $2 AND mode = $3', [
    parentEventId,
    scope.projectId,
    scope.mode,
  ]);
  if (!p) throw notFound('EVENT_NOT_FOUND', 'Parent event');
}

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
  const cand: BulkRun[] = [];
  for (const r of runs) {
    const k = r.body.idempotencyKey;
    const e = r.body.externalRunId;
    if (k !== undefined && (seenKeys.has(k) || deps.inflight.has(inflightKey(scope, k)))) continue;
    if (e !== undefined && seenExt.has(e)) continue;
    if (k !== undefined) seenKeys.add(k);
    if (e !== undefined) seenExt.add(e);
    cand.push(r);
  }
  const done = new Map<number, string>();
  if (cand.length === 0) return done;
  const mine: string[] = [];
  for (const r of cand) {
    if (r.body.idempotencyKey === undefined) continue;
    const local = inflightKey(scope, r.body.idempotencyKey);
    deps.inflight.set(local, r.fp);
    mine.push(local);
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
      let go = cand.flatMap((r) => {
        const wf = workflows.get(r.body.workflow);
        if (!wf || !knownCustomers.has(r.body.customerId)) return [];
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
      // Keys are claimed in key order, like the usage bulk, so concurrent requests lock them in one order.
      const keyed = go
        .filter((r) => r.body.idempotencyKey !== undefined)
        .sort((a, b) => ((a.body.idempotencyKey ?? '') < (b.body.idempotencyKey ?? '') ? -1 : 1));
      if (keyed.length > 0) {
        // The response is stored with the key: both commit together, or neither does. `claimed` lists
        // the keys written only when some were not.
        let doc = '[';
        for (let j = 0; j < keyed.length; j++) {
          const r = keyed[j] as (typeof keyed)[number];
          doc += `${j === 0 ? '' : ','}[${JSON.stringify(r.body.idempotencyKey)},${JSON.stringify(r.fp)},${r.response}]`;
        }
        doc += ']';
        const [claimed] = await tx.query<{ keys: string[] | null }>(
          `WITH c AS (
             INSERT INTO idempotency_keys (project_id, mode, key, route_class, fingerprint, status_code, response)
             SELECT $1, $2, e->>0, 'run-record', e->>1, 201, e->2 FROM jsonb_array_elements($3::jsonb) AS x(e)
             ON CONFLICT DO NOTHING RETURNING key)
           SELECT CASE WHEN count(*) = $4 THEN NULL ELSE coalesce(array_agg(key), '{}') END AS keys FROM c`,
          [projectId, mode, doc, keyed.length],
        );
        if (claimed?.keys) {
          const won = new Set(claimed.keys);
          go = go.filter((r) => r.body.idempotencyKey === undefined || won.has(r.body.idempotencyKey));
        }
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
      const eventRows: unknown[] = [];
      for (const r of go) {
        const run = r.run;
        for (const item of r.items) {
          // The same columns and values as insertRunEvent.
          eventRows.push([
            newId('evt'),
            run.customer_id,
            run.id,
            run.workflow_id,
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
            run.started_at,
            item.metadata ?? null,
            attributesOf(item),
          ]);
        }
      }
      if (eventRows.length > 0) {
        // In input order (seq follows it). `attributes` is JSON null, not SQL NULL, when there are none,
        // as insertRunEvent stores it.
        await tx.query(
          `INSERT INTO events (id, project_id, mode, kind, customer_id, run_id, workflow_id, event_type, action_name, outcome, explanation,
             idempotency_key, parent_event_id, usage_type, quantity, units, description, cost_units, cost_currency, correlation_id, span_id,
             metadata, attributes, created_at)
           SELECT e->>0, $1, $2, 'run', e->>1, e->>2, e->>3, e->>4, e->>5, e->>6, e->>7, e->>8, e->>9, e->>4, (e->>10)::numeric, e->>11,
             e->>12, (e->>13)::numeric, e->>14, e->>15, e->>16, nullif(e->18, 'null'::jsonb), e->19, (e->>17)::timestamptz
           FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(e, n)
           ORDER BY x.n`,
          [projectId, mode, JSON.stringify(eventRows)],
        );
      }
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
    for (const k of mine) deps.inflight.delete(k);
  }
  if (deliveries > 0) deps.wake();
  return done;
}

const runsQuery = z.object({
  ...pageQuery(50),
  customerId: z.string().max(64).optional(),
  workflowId: z.string().max(100).optional(),
  status: z.enum(RUN_STATUSES).optional(),
  from: queryDate.optional(),
  to: queryDate.optional(),
});

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

  api.post('/workflows', async (c) => {
    const auth = c.get('auth');
    const b = validate(workflowSchema, await readJson(c));
    const [row] = await db.query(
      `INSERT INTO workflows (id, project_id, mode, name, slug, product_surface, chain, description, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) ON CONFLICT (project_id, mode, slug) DO NOTHING RETURNING *`,
      [
        newId('wf'),
        auth.projectId,
        auth.mode,
        b.name,
        b.slug,
        b.productSurface,
        b.chain ?? null,
        b.description ?? null,
        b.metadata ? JSON.stringify(b.metadata) : null,
      ],
    );
    if (!row) {
      const existing = await findWorkflow(db, auth, b.slug);
      throw new ApiError(409, 'DUPLICATE_WORKFLOW', `A workflow with slug "${b.slug}" already exists`, {
        extra: { existingWorkflowId: existing?.id ?? null },
      });
    }
    return send(c, 201, workflowOut(row));
  });

  api.get('/workflows', async (c) => {
    const auth = c.get('auth');
    const q = validateQuery(
      z.object({
        ...pageQuery(50),
        productSurface: z.enum(SURFACES).optional(),
        isActive: queryBool.optional(),
      }),
      c,
    );
    const where = new Where(auth, 'w')
      .add('w.product_surface = ?', q.productSurface)
      .add('w.is_active = ?', q.isActive);
    const { rows, count } = await pagedList(
      db,
      'SELECT w.*, (SELECT count(*) FROM runs r WHERE r.workflow_id = w.id) AS run_count',
      'FROM workflows w',
      where,
      'w.created_at DESC, w.id DESC',
      q.limit,
      q.offset,
    );
    return send(c, 200, { data: rows.map(workflowOut), count, hasMore: q.offset + rows.length < count });
  });

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
      await checkParent(tx, auth, item.parentEventId);
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
    const mine: string[] = [];
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
          if (item.parentEventId !== undefined) {
            const [p] = await tx.query(
              'SELECT 1 FROM events WHERE id = $1 AND project_id = $2 AND mode = $3',
              [item.parentEventId, auth.projectId, auth.mode],
            );
            if (!p) {
              skip(item.eventType, 'EVENT_NOT_FOUND');
              continue;
            }
          }
          let workflowId: string | null = run ? String(run.workflow_id) : null;
          if (!run && item.workflowId !== undefined)
            workflowId = String((await findWorkflow(tx, auth, item.workflowId))?.id ?? '') || null;
          const fp = fingerprint('run-event', item);
          if (item.idempotencyKey !== undefined) {
            const local = inflightKey(auth, item.idempotencyKey);
            const running = deps.inflight.get(local);
            if (running !== undefined) {
              skip(item.eventType, running === fp ? 'IDEMPOTENCY_KEY_IN_PROGRESS' : 'IDEMPOTENCY_KEY_REUSED');
              continue;
            }
            const claimed = await tx.query(
              `INSERT INTO idempotency_keys (project_id, mode, key, route_class, fingerprint) VALUES ($1, $2, $3, 'run-event', $4)
               ON CONFLICT DO NOTHING RETURNING key`,
              [auth.projectId, auth.mode, item.idempotencyKey, fp],
            );
            if (claimed.length === 0) {
              const [stored] = await tx.query<{
                fingerprint: string;
                response: Record<string, unknown> | null;
              }>(
                'SELECT fingerprint, response FROM idempotency_keys WHERE project_id = $1 AND mode = $2 AND key = $3',
                [auth.projectId, auth.mode, item.idempotencyKey],
              );
              if (!stored || stored.fingerprint !== fp) {
                skip(item.eventType, 'IDEMPOTENCY_KEY_REUSED');
              } else if (!stored.response) {
                skip(item.eventType, 'IDEMPOTENCY_KEY_IN_PROGRESS');
              } else {
                duplicates++;
                results.push({ id: stored.response.id, eventType: item.eventType, isDuplicate: true });
              }
              continue;
            }
            deps.inflight.set(local, fp);
            mine.push(local);
          }
          const row = await insertRunEvent(tx, auth, item, run ?? undefined, customerId, workflowId);
          if (item.idempotencyKey !== undefined) {
            await tx.query(
              'UPDATE idempotency_keys SET status_code = 201, response = $4::jsonb WHERE project_id = $1 AND mode = $2 AND key = $3',
              [auth.projectId, auth.mode, item.idempotencyKey, JSON.stringify(singleEventBody(row))],
            );
          }
          created++;
          results.push({ id: row.id, eventType: row.event_type, isDuplicate: false });
        }
      });
    } finally {
      for (const k of mine) deps.inflight.delete(k);
    }
    return send(c, 201, { success: true, created, duplicates, skipped, events: results });
  });

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
