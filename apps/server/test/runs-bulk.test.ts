// POST /runs/record/bulk (spec §10): the set-based path for new runs and the per-run path it leaves
// the other runs to, on both back ends. Each run must answer exactly as POST /runs/record would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Logger, type RunningServer, startServer } from '../src/index';
import { BACKENDS, freshDatabase, type Json, project, useServer } from './helpers';

/** A nested object of a result (an empty object when absent, so the assertion fails instead). */
const field = (r: Json | undefined, k: string): Json => (r?.[k] ?? {}) as Json;

const run = (customerId: string, extra: Json = {}): Json => ({
  customerId,
  workflow: 'bulk-flow',
  status: 'COMPLETED',
  events: [{ eventType: 'request', quantity: 2, costUnits: 0.5, actionName: 'GET /x', route: '/x' }],
  ...extra,
});

for (const backend of BACKENDS) {
  describe(`runs record bulk (${backend})`, () => {
    const ctx = useServer(backend, { webhookRetryScheduleMs: [60_000] });

    it('writes new runs with their events, totals, keys and stored responses', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'rb-1' });
      const cid = String(cu.body.id);
      const runs = Array.from({ length: 30 }, (_, i) =>
        run(cid, {
          idempotencyKey: `rb-key-${i}`,
          status: i % 3 === 0 ? 'FAILED' : 'COMPLETED',
          errorCode: i % 3 === 0 ? 'E_BENCH' : undefined,
          events: [
            { eventType: 'request', quantity: 1.5, costUnits: 0.25, outcome: 'SUCCEEDED', extra: i },
            { eventType: 'reply', quantity: 1 },
          ],
        }),
      );
      const res = await p.call('POST', '/runs/record/bulk', { runs });
      expect(res.status).toBe(200);
      const results = res.body.results as Json[];
      expect(results.map((r) => r.index)).toEqual(runs.map((_, i) => i));
      expect(results.every((r) => r.status === 201 && r.isDuplicate === false)).toBe(true);
      const first = results[0]?.run as Json;
      expect(first.workflowName).toBe('Bulk Flow');
      expect(first.status).toBe('FAILED');
      expect(typeof first.durationMs).toBe('number');

      const list = await p.call('GET', '/runs?limit=100');
      expect(list.body.count).toBe(30);
      const stored = (list.body.data as Json[]).find((r) => r.id === first.id);
      expect(stored?.eventCount).toBe(2);
      expect(stored?.totalCostUnits).toBe('0.250000');
      expect(stored?.errorCode).toBe('E_BENCH');

      const tl = await p.call('GET', `/runs/${first.id}/timeline`);
      expect(tl.status).toBe(200);
      const events = (tl.body.events ?? tl.body.data) as Json[];
      expect(events.map((e) => e.eventType)).toEqual(['request', 'reply']);

      // The same key through the per-item route replays the stored response.
      const again = await p.call('POST', '/runs/record', runs[4]);
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body.isDuplicate).toBe(true);
      expect((again.body.run as Json).id).toBe(field(results[4], 'run').id);
      expect(again.body.totalCostUnits).toBe('0.250000');
      expect(again.body.events).toEqual({ created: 2, duplicates: 0 });
      // The stored response is the one /runs/record builds: the bulk's run, and its summary line.
      expect(again.body.run).toEqual(results[4]?.run);
      expect(again.body.summary).toBe(
        `Bulk Flow: ${field(results[4], 'run').status}, 2 events, ${field(results[4], 'run').durationMs} ms`,
      );

      // The whole bulk again: every run is a duplicate, nothing new is stored.
      const replay = await p.call('POST', '/runs/record/bulk', { runs });
      const replayed = replay.body.results as Json[];
      expect(replayed.every((r) => r.status === 201 && r.isDuplicate === true)).toBe(true);
      expect(replayed.map((r) => (r.run as Json).id)).toEqual(results.map((r) => (r.run as Json).id));
      expect((await p.call('GET', '/runs?limit=1')).body.count).toBe(30);
    });

    it('answers each other run on its own, in input order', async () => {
      const p = await project(ctx.srv);
      const cid = String((await p.call('POST', '/customers', { externalCustomerId: 'rb-2' })).body.id);
      const prior = await p.call(
        'POST',
        '/runs/record',
        run(cid, { externalRunId: 'ext-old', idempotencyKey: 'k-old' }),
      );
      expect(prior.status).toBe(201);
      const wf = await p.call('POST', '/workflows', { name: 'Named', slug: 'named-flow' });
      const res = await p.call('POST', '/runs/record/bulk', {
        runs: [
          run(cid, { idempotencyKey: 'k-new' }),
          run('cus_missing'),
          run(cid, { workflow: 'Not A Slug' }),
          run(cid, { idempotencyKey: 'k-old', externalRunId: 'ext-old' }),
          run(cid, { externalRunId: 'ext-old', status: 'FAILED' }),
          run(cid, { idempotencyKey: 'k-new' }),
          run(cid, { idempotencyKey: 'k-new', status: 'FAILED' }),
          run(cid, { externalRunId: 'ext-new' }),
          run(cid, { externalRunId: 'ext-new', status: 'FAILED' }),
          run(cid, { workflow: String(wf.body.id) }),
          { workflow: 'bulk-flow' },
          run(cid, { events: [{ quantity: 1 }] }),
          run(cid, { idempotencyKey: 'k-old', status: 'FAILED' }),
        ],
      });
      const results = res.body.results as Json[];
      expect(results.map((r) => r.status)).toEqual([
        201, 404, 404, 201, 409, 201, 409, 201, 409, 201, 422, 422, 409,
      ]);
      expect(results.map((r) => r.index)).toEqual(results.map((_, i) => i));
      expect(field(results[1], 'error').code).toBe('CUSTOMER_NOT_FOUND');
      expect(field(results[2], 'error').code).toBe('WORKFLOW_NOT_FOUND');
      expect(results[3]?.isDuplicate).toBe(true);
      expect(field(results[3], 'run').id).toBe((prior.body.run as Json).id);
      expect(field(results[4], 'error').code).toBe('DUPLICATE_RUN');
      expect(field(results[4], 'error').existingRunId).toBe((prior.body.run as Json).id);
      expect(results[5]?.isDuplicate).toBe(true);
      expect(field(results[5], 'run').id).toBe(field(results[0], 'run').id);
      expect(field(results[6], 'error').code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(field(results[8], 'error').code).toBe('DUPLICATE_RUN');
      expect(field(results[9], 'run').workflowName).toBe('Named');
      expect(field(results[12], 'error').code).toBe('IDEMPOTENCY_KEY_REUSED');
      // prior + k-new + ext-new + named workflow run
      expect((await p.call('GET', '/runs?limit=1')).body.count).toBe(4);
    });

    it('writes run.completed and run.failed webhook events with the run, in its transaction', async () => {
      const p = await project(ctx.srv);
      const cid = String((await p.call('POST', '/customers', { externalCustomerId: 'rb-3' })).body.id);
      const hook = await p.call('POST', '/webhooks', {
        url: 'http://127.0.0.1:9/unreachable',
        events: ['run.completed', 'run.failed'],
      });
      expect(hook.status).toBe(201);
      const res = await p.call('POST', '/runs/record/bulk', {
        runs: [run(cid), run(cid, { status: 'FAILED', errorMessage: 'boom' }), run('cus_missing')],
      });
      expect((res.body.results as Json[]).map((r) => r.status)).toEqual([201, 201, 404]);
      const deliveries = await p.call('GET', `/webhooks/${hook.body.id}/deliveries?limit=100`);
      const types = ((deliveries.body.data ?? []) as Json[]).map((d) => d.eventType).sort();
      expect(types).toEqual(['run.completed', 'run.failed']);
    });

    it('concurrent bulks with the same keys store each run once', async () => {
      const p = await project(ctx.srv);
      const cid = String((await p.call('POST', '/customers', { externalCustomerId: 'rb-4' })).body.id);
      const runs = Array.from({ length: 20 }, (_, i) =>
        run(cid, { idempotencyKey: `cc-${i}`, externalRunId: `cc-ext-${i}` }),
      );
      const answers = await Promise.all([1, 2, 3].map(() => p.call('POST', '/runs/record/bulk', { runs })));
      for (const a of answers) expect(a.status).toBe(200);
      const byIndex = runs.map((_, i) => answers.map((a) => (a.body.results as Json[])[i]));
      for (const rs of byIndex) {
        // Each run is created once; the others replay it or are told it is still in progress.
        expect(rs.filter((r) => r?.status === 201 && r.isDuplicate === false)).toHaveLength(1);
        for (const r of rs) expect([201, 409]).toContain(r?.status);
      }
      expect((await p.call('GET', '/runs?limit=1')).body.count).toBe(20);
      const events = await p.call('GET', `/events?customerId=${cid}&limit=1`);
      expect((events.body.pagination as Json).total).toBe(20);
    });
  });
}

for (const backend of BACKENDS) {
  describe(`runs record bulk, set-based path (${backend})`, () => {
    const logged: string[] = [];
    const note = (msg: string) => {
      logged.push(msg);
    };
    const logger: Logger = { debug: note, info: note, warn: note, error: note };
    let srv: RunningServer | undefined;
    let drop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      const db = backend === 'postgres' ? await freshDatabase() : undefined;
      drop = db?.drop;
      srv = await startServer({ port: 0, host: '127.0.0.1', memory: !db, databaseUrl: db?.url, logger });
    });
    afterAll(async () => {
      await srv?.close();
      await drop?.();
    });

    it('writes a batch of new runs without falling back to run-by-run', async () => {
      if (!srv) throw new Error('server not started');
      const p = await project(srv);
      const cid = String((await p.call('POST', '/customers', { externalCustomerId: 'rb-5' })).body.id);
      const runs = Array.from({ length: 50 }, (_, i) =>
        run(cid, { idempotencyKey: `sb-${i}`, externalRunId: `sb-ext-${i}`, metadata: { i } }),
      );
      const res = await p.call('POST', '/runs/record/bulk', { runs });
      expect((res.body.results as Json[]).every((r) => r.status === 201)).toBe(true);
      expect(logged.filter((m) => m.includes('rolled back'))).toEqual([]);
      const events = await p.call('GET', `/events?customerId=${cid}&limit=100`);
      const rows = events.body.data as Json[];
      expect(rows).toHaveLength(50);
      // Stored exactly like the event of a run recorded through POST /runs/record.
      const single = await p.call('POST', '/runs/record', run(cid, { idempotencyKey: 'sb-single' }));
      const singleRun = String(field(single.body, 'run').id);
      const [ref] = (await p.call('GET', `/events?runId=${singleRun}`)).body.data as Json[];
      const comparable = (e: Json | undefined) => {
        const { id: _i, runId: _r, createdAt: _c, ...rest } = e ?? {};
        return rest;
      };
      expect(comparable(ref)).toMatchObject({
        quantity: '2.000000',
        costUnits: '0.500000',
        usageType: 'request',
        outcome: 'SUCCEEDED',
        attributes: { route: '/x' },
      });
      for (const e of rows) expect(comparable(e)).toEqual(comparable(ref));
    });

    it('leaves a run whose externalRunId is stored to the per-run path, releasing its new key', async () => {
      if (!srv) throw new Error('server not started');
      const p = await project(srv);
      const cid = String((await p.call('POST', '/customers', { externalCustomerId: 'rb-6' })).body.id);
      const prior = await p.call('POST', '/runs/record', run(cid, { externalRunId: 'x-old' }));
      expect(prior.status).toBe(201);
      const before = logged.length;
      const runs = [
        ...Array.from({ length: 10 }, (_, i) =>
          run(cid, { idempotencyKey: `x-${i}`, externalRunId: `x-${i}` }),
        ),
        // Same body as the stored run under a new key: a replay of that run.
        run(cid, { idempotencyKey: 'x-same', externalRunId: 'x-old' }),
        // Another body under a new key: 409 DUPLICATE_RUN, and the key stays unused.
        run(cid, { idempotencyKey: 'x-other', externalRunId: 'x-old', status: 'FAILED' }),
      ];
      const res = await p.call('POST', '/runs/record/bulk', { runs });
      const results = res.body.results as Json[];
      expect(results.map((r) => r.status)).toEqual([...Array.from({ length: 10 }, () => 201), 201, 409]);
      expect(results.slice(0, 10).every((r) => r.isDuplicate === false)).toBe(true);
      expect(results[10]?.isDuplicate).toBe(true);
      expect(field(results[10], 'run').id).toBe(field(prior.body, 'run').id);
      expect(field(results[11], 'error').code).toBe('DUPLICATE_RUN');
      expect(field(results[11], 'error').existingRunId).toBe(field(prior.body, 'run').id);
      // The ten new runs were written together, not run by run.
      expect(logged.slice(before).filter((m) => m.includes('rolled back'))).toEqual([]);
      expect((await p.call('GET', '/runs?limit=1')).body.count).toBe(11);
      expect((await p.call('GET', `/events?customerId=${cid}&limit=1`)).body.pagination).toMatchObject({
        total: 11,
      });
      // Neither key of a run left to the per-run path was kept by the set-based write: x-other was never
      // used for a stored run, so it records a new one.
      const fresh = await p.call(
        'POST',
        '/runs/record',
        run(cid, { idempotencyKey: 'x-other', externalRunId: 'x-new' }),
      );
      expect(fresh.status).toBe(201);
      expect(fresh.body.isDuplicate).toBe(false);
      const keys = await srv.store.query<{ key: string }>(
        'SELECT key FROM idempotency_keys WHERE project_id = $1 AND key = ANY($2::text[]) ORDER BY key',
        [p.projectId, ['x-0', 'x-other', 'x-same']],
      );
      expect(keys.map((k) => k.key)).toEqual(['x-0', 'x-other', 'x-same']);
    });
  });
}
