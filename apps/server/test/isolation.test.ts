// Isolation (spec §2.2): project B's keys get 404 on project A's ids and see none of A's data in any
// list; test and live data of one project are separate too.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/index';
import { type Backend, BACKENDS, client, freshDatabase, type Json, project, useServer } from './helpers';

for (const backend of BACKENDS) {
  describe(`isolation between projects (${backend})`, () => {
    const ctx = useServer(backend);

    it("B's keys cannot read, list or write A's resources", async () => {
      const a = await project(ctx.srv);
      const b = await project(ctx.srv);
      const cu = await a.call('POST', '/customers', { externalCustomerId: 'shared-name' });
      const customerId = String(cu.body.id);
      const usage = await a.call('POST', '/usage', {
        customerId,
        usageType: 'api_calls',
        quantity: 1,
        idempotencyKey: 'iso-1',
      });
      const chargeId = String((usage.body.charge as Json).id);
      const rec = await a.call('POST', '/runs/record', {
        customerId,
        workflow: 'agent',
        status: 'COMPLETED',
        events: [{ eventType: 'llm.call', model: 'gpt-4' }],
      });
      const runId = String((rec.body.run as Json).id);
      const events = await a.call('GET', `/events?runId=${runId}`);
      const eventId = String((events.body.data as Json[])[0]?.id);
      const hook = await a.call('POST', '/webhooks', { url: 'http://127.0.0.1:9/x', events: ['*'] });
      const hookId = String(hook.body.id);
      const cap = await a.call('PUT', `/customers/${customerId}/spending-cap`, {
        capType: 'DAILY_CHARGE_LIMIT',
        limitValue: 10,
      });
      const keys = await a.call('GET', '/api-keys');
      const keyId = String((keys.body.data as Json[])[0]?.id);

      const notFound: [string, string, unknown, string][] = [
        ['GET', `/customers/${customerId}`, undefined, 'CUSTOMER_NOT_FOUND'],
        ['GET', `/customers/${customerId}/balance`, undefined, 'CUSTOMER_NOT_FOUND'],
        ['GET', `/customers/${customerId}/spending-caps`, undefined, 'CUSTOMER_NOT_FOUND'],
        ['DELETE', `/customers/${customerId}/spending-caps/${cap.body.id}`, undefined, 'CUSTOMER_NOT_FOUND'],
        [
          'PUT',
          `/customers/${customerId}/spending-cap`,
          { capType: 'DAILY_CHARGE_LIMIT', limitValue: 1 },
          'CUSTOMER_NOT_FOUND',
        ],
        [
          'POST',
          `/customers/${customerId}/balance/adjustments`,
          { amountUsdc: '5', idempotencyKey: 'x' },
          'CUSTOMER_NOT_FOUND',
        ],
        ['GET', `/charges/${chargeId}`, undefined, 'CHARGE_NOT_FOUND'],
        ['GET', `/runs/${runId}`, undefined, 'RUN_NOT_FOUND'],
        ['GET', `/runs/${runId}/timeline`, undefined, 'RUN_NOT_FOUND'],
        ['PATCH', `/runs/${runId}`, { status: 'FAILED' }, 'RUN_NOT_FOUND'],
        ['POST', '/run-events', { runId, eventType: 'x', idempotencyKey: 'x' }, 'RUN_NOT_FOUND'],
        ['GET', `/events/${eventId}`, undefined, 'EVENT_NOT_FOUND'],
        ['GET', `/webhooks/${hookId}`, undefined, 'WEBHOOK_NOT_FOUND'],
        ['PATCH', `/webhooks/${hookId}`, { description: 'x' }, 'WEBHOOK_NOT_FOUND'],
        ['DELETE', `/webhooks/${hookId}`, undefined, 'WEBHOOK_NOT_FOUND'],
        ['POST', `/webhooks/${hookId}/test`, undefined, 'WEBHOOK_NOT_FOUND'],
        ['POST', `/webhooks/${hookId}/rotate-secret`, undefined, 'WEBHOOK_NOT_FOUND'],
        ['GET', `/webhooks/${hookId}/deliveries`, undefined, 'WEBHOOK_NOT_FOUND'],
        ['POST', `/api-keys/${keyId}/rotate`, {}, 'API_KEY_NOT_FOUND'],
        ['POST', `/api-keys/${keyId}/revoke`, undefined, 'API_KEY_NOT_FOUND'],
        [
          'POST',
          '/usage',
          { customerId, usageType: 'api_calls', idempotencyKey: 'b-1' },
          'CUSTOMER_NOT_FOUND',
        ],
        ['POST', '/usage/internal', { customerId, idempotencyKey: 'b-2' }, 'CUSTOMER_NOT_FOUND'],
        ['POST', '/runs', { customerId, workflowId: 'agent' }, 'CUSTOMER_NOT_FOUND'],
        [
          'POST',
          '/runs/record',
          { customerId, workflow: 'agent', status: 'COMPLETED' },
          'CUSTOMER_NOT_FOUND',
        ],
        ['POST', '/entitlements/check', { customerId, featureKey: 'x' }, 'CUSTOMER_NOT_FOUND'],
      ];
      for (const [method, path, body, code] of notFound) {
        const res = await b.call(method, path, body);
        expect({ path, method, status: res.status, code: res.body.code }).toEqual({
          path,
          method,
          status: 404,
          code,
        });
      }

      const lists = ['/customers', '/charges', '/workflows', '/runs', '/events', '/webhooks', '/api-keys'];
      for (const path of lists) {
        const res = await b.call('GET', path);
        expect(res.status).toBe(200);
        const data = res.body.data as Json[];
        if (path === '/api-keys') expect(data.map((k) => k.id)).not.toContain(keyId);
        else expect({ path, data }).toEqual({ path, data: [] });
      }
      // The same external id is free in B, and A's data is untouched by all of the above.
      expect((await b.call('POST', '/customers', { externalCustomerId: 'shared-name' })).status).toBe(201);
      const aCounts = await ctx.srv.store.countRows(a.projectId);
      expect(aCounts).toMatchObject({ customers: 1, events: 2, charges: 1, runs: 1, webhooks: 1 });
      expect((await a.call('GET', `/webhooks/${hookId}`)).status).toBe(200);
      expect((await a.call('GET', `/runs/${runId}`)).body.status).toBe('COMPLETED');
    });

    it('idempotency keys and parent events are per project on the set-based routes', async () => {
      const a = await project(ctx.srv);
      const b = await project(ctx.srv);
      const setUp = async (p: typeof a) => {
        const cu = await p.call('POST', '/customers', { externalCustomerId: 'iso' });
        const rec = await p.call('POST', '/runs/record', {
          customerId: cu.body.id,
          workflow: 'iso',
          status: 'COMPLETED',
          events: [{ eventType: 'root' }],
        });
        return { customerId: String(cu.body.id), runId: String((rec.body.run as Json).id) };
      };
      const ia = await setUp(a);
      const ib = await setUp(b);
      const send = (p: typeof a, i: typeof ia) =>
        Promise.all([
          p.call('POST', '/usage/internal/bulk', {
            events: [{ customerId: i.customerId, usageType: 'x', idempotencyKey: 'same-usage' }],
          }),
          p.call('POST', '/runs/record/bulk', {
            runs: [
              { customerId: i.customerId, workflow: 'iso', status: 'COMPLETED', idempotencyKey: 'same' },
            ],
          }),
          p.call('POST', '/run-events/batch', {
            events: [{ runId: i.runId, eventType: 'e', idempotencyKey: 'same-event' }],
          }),
        ]);
      // The same keys in A and then in B: each project applies them once, as new writes.
      for (const [p, i] of [
        [a, ia],
        [b, ib],
      ] as const) {
        const [usage, runs, events] = await send(p, i);
        expect((usage.body.results as Json[])[0]).toMatchObject({ status: 201, isDuplicate: false });
        expect((runs.body.results as Json[])[0]).toMatchObject({ status: 201, isDuplicate: false });
        expect(events.body).toMatchObject({ created: 1, duplicates: 0 });
      }
      // A's root event cannot be a parent in B, on any route.
      const [aRoot] = await ctx.srv.store.listRunEvents(ia.runId);
      const parentEventId = String(aRoot?.id);
      const rec = await b.call('POST', '/runs/record', {
        customerId: ib.customerId,
        workflow: 'iso',
        status: 'COMPLETED',
        events: [{ eventType: 'child', parentEventId }],
      });
      expect(rec.body.code).toBe('EVENT_NOT_FOUND');
      const ev = await b.call('POST', '/run-events', {
        runId: ib.runId,
        eventType: 'child',
        parentEventId,
        idempotencyKey: 'child',
      });
      expect(ev.body.code).toBe('EVENT_NOT_FOUND');
      expect((await a.call('GET', `/events/${parentEventId}`)).body.childEvents).toEqual([]);
    });

    it('test and live data of one project are separate', async () => {
      const a = await project(ctx.srv);
      const live = await a.call('POST', '/api-keys', { name: 'live' }, {});
      expect(live.status).toBe(201);
      // A test key creates keys in test mode; live keys come from the CLI (spec §3.10), so use the store.
      const liveKeys = await ctx.srv.store.createProject({ mode: 'live' });
      const cu = await a.call('POST', '/customers', { externalCustomerId: 'x' });
      const liveCall = (await import('./helpers')).client(ctx.srv, liveKeys.apiKey);
      expect((await liveCall('GET', `/customers/${cu.body.id}`)).status).toBe(404);
      const liveCustomer = await liveCall('POST', '/customers', { externalCustomerId: 'x' });
      expect((await liveCall('GET', `/customers/${liveCustomer.body.id}/balance`)).body.balanceUsdc).toBe(
        '0.000000',
      );
      const adj = await liveCall('POST', `/customers/${liveCustomer.body.id}/balance/adjustments`, {
        amountUsdc: '1',
        idempotencyKey: 'l',
      });
      expect(adj.body.code).toBe('FORBIDDEN');
      const priced = await liveCall('POST', '/usage', {
        customerId: liveCustomer.body.id,
        usageType: 'x',
        idempotencyKey: 'l1',
      });
      expect(priced.body.code).toBe('PRICING_PLAN_NOT_FOUND');
    });
  });
}

for (const backend of BACKENDS) {
  describe(`one project's test and live modes (${backend})`, () => {
    // The live key pair belongs to the same (default) project as the test pair: the server is started
    // once to issue the test pair, then again on the same database with a configured live key.
    const liveKey = `sk_live_${randomBytes(16).toString('hex')}`;
    let srv: RunningServer | undefined;
    let testKey = '';
    let cleanup: () => Promise<void> = async () => {};

    beforeAll(async () => {
      const target = await storage(backend);
      cleanup = target.cleanup;
      const first = await startServer({ port: 0, host: '127.0.0.1', ...target.options });
      testKey = first.apiKey;
      await first.close();
      srv = await startServer({ port: 0, host: '127.0.0.1', ...target.options, apiKey: liveKey });
    });
    afterAll(async () => {
      await srv?.close();
      await cleanup();
    });

    it('keeps idempotency keys per mode: the same key value in test and live is two requests', async () => {
      if (!srv) throw new Error('server not started');
      const test = client(srv, testKey);
      const live = client(srv, liveKey);
      // Internal customers are never charged, so the live side needs no price or balance.
      const testCustomer = await test('POST', '/customers', { externalCustomerId: 'm', isInternal: true });
      const liveCustomer = await live('POST', '/customers', { externalCustomerId: 'm', isInternal: true });
      const routes = ['/usage', '/usage/async', '/usage/internal'];
      for (const route of routes) {
        const key = `shared${route.replaceAll('/', '-')}`;
        const a = await test('POST', route, {
          customerId: testCustomer.body.id,
          quantity: 2,
          idempotencyKey: key,
        });
        const b = await live('POST', route, {
          customerId: liveCustomer.body.id,
          quantity: 3,
          idempotencyKey: key,
        });
        expect([route, a.status, b.status]).toEqual([route, a.status, a.status]);
        expect(a.status).toBeLessThan(300);
        expect(b.body.isDuplicate).toBe(false);
        expect(b.headers.get('idempotent-replayed')).toBeNull();
        expect(b.body.usageEventId).not.toBe(a.body.usageEventId);
        // Each mode replays its own answer.
        const again = await live('POST', route, {
          customerId: liveCustomer.body.id,
          quantity: 3,
          idempotencyKey: key,
        });
        expect(again.body).toMatchObject({ isDuplicate: true, usageEventId: b.body.usageEventId });
      }
      const projectId = srv.projectId;
      const liveUsage = await srv.store.listUsageEvents(projectId, { mode: 'live' });
      const testUsage = await srv.store.listUsageEvents(projectId, { mode: 'test' });
      expect(liveUsage).toHaveLength(routes.length);
      expect(testUsage).toHaveLength(routes.length);
    });

    it("lists never show the other mode's rows (customers, workflows, runs, events)", async () => {
      if (!srv) throw new Error('server not started');
      const test = client(srv, testKey);
      const live = client(srv, liveKey);
      const own = await test('POST', '/customers', { externalCustomerId: 'list-test', isInternal: true });
      await test('POST', '/workflows', { name: 'Only test', slug: 'only-test' });
      const run = await test('POST', '/runs', { customerId: own.body.id, workflowId: 'only-test' });
      expect(run.status).toBe(201);
      await test('POST', '/run-events', { runId: run.body.id, eventType: 'x', idempotencyKey: 'list-ev' });
      const liveOwn = await live('POST', '/customers', { externalCustomerId: 'list-live', isInternal: true });
      const mine = (await live('GET', '/customers?limit=100')).body;
      const ids = (mine.data as Json[]).map((c) => c.id);
      expect(ids).toContain(liveOwn.body.id);
      expect(ids).not.toContain(own.body.id);
      expect(mine.count).toBe(ids.length);
      const testIds = ((await test('GET', '/customers?limit=100')).body.data as Json[]).map((c) => c.id);
      expect(testIds).toContain(own.body.id);
      expect(testIds).not.toContain(liveOwn.body.id);
      for (const path of ['/workflows', '/runs', `/events?runId=${run.body.id}`]) {
        const page = (await live('GET', path)).body;
        expect([path, page.data]).toEqual([path, []]);
        expect([path, page.count ?? page.total]).toEqual([path, 0]);
      }
      expect((await test('GET', '/runs')).body.count).toBe(1);
    });
  });
}

/** Where a server keeps its data so that a second start sees the first one's keys. */
async function storage(
  backend: Backend,
): Promise<{ options: { databaseUrl?: string; dataDir?: string }; cleanup: () => Promise<void> }> {
  if (backend === 'postgres') {
    const db = await freshDatabase();
    return { options: { databaseUrl: db.url }, cleanup: db.drop };
  }
  const dir = await mkdtemp(join(tmpdir(), 'drip-modes-'));
  return { options: { dataDir: dir }, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
