// Every route that takes an idempotency key, table-driven: 100 identical requests at once apply the key
// once, on each back end, and so do requests split over two server instances on one PostgreSQL.
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/index';
import { BACKENDS, type Call, client, freshDatabase, type Json, useServer } from './helpers';

interface KeyedRoute {
  path: string;
  /** The request body for one key. */
  body(ctx: { customerId: string; runId: string; key: string }): Json;
  /** Rows the key may write at most once. */
  applied(srv: RunningServer, projectId: string, runId: string): Promise<number>;
  /** Answers other than a success that a duplicate may get while the first is executing. */
  ok(status: number, body: Json): boolean;
}

const usage = (customerId: string, key: string) => ({
  customerId,
  usageType: 'api_calls',
  quantity: 2,
  idempotencyKey: key,
});
const recorded = (customerId: string, key: string) => ({
  customerId,
  workflow: 'keyed',
  status: 'COMPLETED',
  events: [{ eventType: 'step' }],
  idempotencyKey: key,
});
const usageRows = async (srv: RunningServer, projectId: string) =>
  (await srv.store.listUsageEvents(projectId)).length;
// The run that setUp starts for the run-event routes is not one of them.
const runRows = async (srv: RunningServer, projectId: string, runId: string) =>
  (await srv.store.listRuns(projectId)).filter((r) => r.id !== runId).length;
const runEventRows = async (srv: RunningServer, _p: string, runId: string) =>
  (await srv.store.listRunEvents(runId)).length;
const single = (status: number, body: Json) =>
  status === 200 || status === 201 || status === 202 || body.code === 'IDEMPOTENCY_KEY_IN_PROGRESS';
const itemsOk = (items: unknown) =>
  (items as Json[]).every(
    (r) =>
      (typeof r.status === 'number' && r.status < 300) ||
      (r.error as Json | undefined)?.code === 'IDEMPOTENCY_KEY_IN_PROGRESS' ||
      r.reason === 'IDEMPOTENCY_KEY_IN_PROGRESS' ||
      r.skipped === undefined,
  );

const ROUTES: KeyedRoute[] = [
  { path: '/usage', body: (c) => usage(c.customerId, c.key), applied: usageRows, ok: single },
  { path: '/usage/async', body: (c) => usage(c.customerId, c.key), applied: usageRows, ok: single },
  { path: '/usage/internal', body: (c) => usage(c.customerId, c.key), applied: usageRows, ok: single },
  { path: '/usage/internal/batch', body: (c) => usage(c.customerId, c.key), applied: usageRows, ok: single },
  {
    path: '/usage/internal/bulk',
    body: (c) => ({ events: [usage(c.customerId, c.key)] }),
    applied: usageRows,
    ok: (s, b) => s === 200 && itemsOk(b.results),
  },
  {
    path: '/runs/record',
    body: (c) => recorded(c.customerId, c.key),
    applied: runRows,
    ok: single,
  },
  {
    path: '/runs/record/bulk',
    body: (c) => ({ runs: [recorded(c.customerId, c.key)] }),
    applied: runRows,
    ok: (s, b) => s === 200 && itemsOk(b.results),
  },
  {
    path: '/run-events',
    body: (c) => ({ runId: c.runId, eventType: 'step', idempotencyKey: c.key }),
    applied: runEventRows,
    ok: single,
  },
  {
    path: '/run-events/batch',
    body: (c) => ({ events: [{ runId: c.runId, eventType: 'step', idempotencyKey: c.key }] }),
    applied: runEventRows,
    ok: (s, b) => s === 201 && itemsOk(b.events),
  },
];

async function setUp(call: Call): Promise<{ customerId: string; runId: string }> {
  const cu = await call('POST', '/customers', { externalCustomerId: 'keyed' });
  await call('POST', '/workflows', { name: 'Keyed', slug: 'keyed' });
  const run = await call('POST', '/runs', { customerId: cu.body.id, workflowId: 'keyed' });
  return { customerId: String(cu.body.id), runId: String(run.body.id) };
}

for (const backend of BACKENDS) {
  describe(`every keyed route applies a key once (${backend})`, () => {
    const ctx = useServer(backend);
    for (const route of ROUTES) {
      it(`POST ${route.path}: 100 identical requests at once`, async () => {
        const keys = await ctx.srv.store.createProject();
        const call = client(ctx.srv, keys.apiKey);
        const c = await setUp(call);
        const body = route.body({ ...c, key: `once-${route.path}` });
        const answers = await Promise.all(Array.from({ length: 100 }, () => call('POST', route.path, body)));
        for (const a of answers)
          if (!route.ok(a.status, a.body)) throw new Error(`${a.status} ${JSON.stringify(a.body)}`);
        expect(await route.applied(ctx.srv, keys.projectId, c.runId)).toBe(1);
        // A later retry replays; nothing more is written.
        const again = await call('POST', route.path, body);
        expect(route.ok(again.status, again.body)).toBe(true);
        expect(await route.applied(ctx.srv, keys.projectId, c.runId)).toBe(1);
      });
    }
  });
}

describe('every keyed route applies a key once across two instances on one PostgreSQL', () => {
  const servers: { a?: RunningServer; b?: RunningServer; drop?: () => Promise<void> } = {};
  afterAll(async () => {
    await servers.a?.close();
    await servers.b?.close();
    await servers.drop?.();
  });
  it.each(ROUTES.map((r) => [r.path, r] as const))('POST %s', async (_path, route) => {
    if (!servers.a) {
      const db = await freshDatabase();
      servers.drop = db.drop;
      servers.a = await startServer({ port: 0, databaseUrl: db.url });
      servers.b = await startServer({ port: 0, databaseUrl: db.url });
    }
    const { a, b } = servers as { a: RunningServer; b: RunningServer };
    const keys = await a.store.createProject();
    const ca = client(a, keys.apiKey);
    const cb = client(b, keys.apiKey);
    const c = await setUp(ca);
    const body = route.body({ ...c, key: `two-${route.path}` });
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? ca : cb)('POST', route.path, body)),
    );
    for (const x of answers)
      if (!route.ok(x.status, x.body)) throw new Error(`${x.status} ${JSON.stringify(x.body)}`);
    expect(await route.applied(a, keys.projectId, c.runId)).toBe(1);
  });
});
