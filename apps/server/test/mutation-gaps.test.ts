// Boundaries the rest of the suite did not pin down, found by the mutation audit (apps/server/MUTATIONS.md):
// exact balance, exact half-micro rounding, settlement of a charge equal to the balance, and one
// project's test and live modes sharing an idempotency key value.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/index';
import {
  type Backend,
  BACKENDS,
  client,
  freshDatabase,
  type Json,
  project,
  settleCharge,
  useServer,
} from './helpers';

for (const backend of BACKENDS) {
  describe(`billing boundaries (${backend})`, () => {
    const ctx = useServer(backend, {
      prices: { llm_tokens: '0.000002' },
      asyncSettleDelayMs: 10,
      workerIntervalMs: 50,
    });

    it('charges a balance down to exactly zero; one more micro-USDC is 402', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'exact' });
      const id = String(cu.body.id);
      // Test-mode customers start at 100.000000 and api_calls cost the default 0.001000 each.
      const all = await p.call('POST', '/usage', {
        customerId: id,
        usageType: 'api_calls',
        quantity: 100_000,
        idempotencyKey: 'all-of-it',
      });
      expect(all.status).toBe(201);
      expect((all.body.charge as Json).amountUsdc).toBe('100.000000');
      expect((await p.call('GET', `/customers/${id}/balance`)).body).toMatchObject({
        balanceUsdc: '0.000000',
        availableUsdc: '0.000000',
      });
      const more = await p.call('POST', '/usage', {
        customerId: id,
        usageType: 'llm_tokens',
        quantity: 1,
        idempotencyKey: 'one-more',
      });
      expect(more.status).toBe(402);
      expect(more.body.code).toBe('PAYMENT_REQUIRED');
    });

    it('rounds a charge of exactly half a micro-USDC up (spec §2.9 half up)', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'half' });
      // 0.25 × 0.000002 = 0.0000005: exactly half of the smallest unit.
      const half = await p.call('POST', '/usage', {
        customerId: cu.body.id,
        usageType: 'llm_tokens',
        quantity: 0.25,
        idempotencyKey: 'half',
      });
      expect(half.status).toBe(201);
      expect((half.body.charge as Json).amountUsdc).toBe('0.000001');
      expect((half.body.charge as Json).amountToken).toBe('1');
      // Just below the half rounds down to nothing.
      const below = await p.call('POST', '/usage', {
        customerId: cu.body.id,
        usageType: 'llm_tokens',
        quantity: 0.249999,
        idempotencyKey: 'below',
      });
      expect((below.body.charge as Json).amountUsdc).toBe('0.000000');
    });

    it('settles an async charge equal to the whole balance as CONFIRMED', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'async-exact' });
      const id = String(cu.body.id);
      const pending = await p.call('POST', '/usage/async', {
        customerId: id,
        usageType: 'api_calls',
        quantity: 100_000,
        idempotencyKey: 'async-all',
      });
      expect(pending.status).toBe(202);
      const chargeId = String((pending.body.charge as Json).id);
      const settled = await settleCharge(ctx.srv, p.call, chargeId);
      expect(settled).toMatchObject({ status: 'CONFIRMED', amountUsdc: '100.000000' });
      expect((await p.call('GET', `/customers/${id}/balance`)).body).toMatchObject({
        balanceUsdc: '0.000000',
        pendingChargesUsdc: '0.000000',
      });
    });
  });

  describe(`usage bulk keys inside one request (${backend})`, () => {
    const ctx = useServer(backend);

    it('a repeated key with the same body is a duplicate; with another body it is 409 REUSED', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'bulk-keys' });
      const item = (key: string, quantity: number) => ({
        customerId: cu.body.id,
        usageType: 'api_calls',
        quantity,
        idempotencyKey: key,
      });
      const res = await p.call('POST', '/usage/internal/bulk', {
        events: [item('k-1', 1), item('k-1', 1), item('k-2', 1), item('k-2', 2)],
      });
      expect(res.status).toBe(200);
      const results = res.body.results as Json[];
      expect(results.map((r) => r.status)).toEqual([201, 201, 201, 409]);
      expect(results[0]?.isDuplicate).toBe(false);
      expect(results[1]).toMatchObject({ isDuplicate: true, usageEventId: results[0]?.usageEventId });
      expect(results[3]).toMatchObject({ index: 3, error: { code: 'IDEMPOTENCY_KEY_REUSED' } });
      const usage = await ctx.srv.store.listUsageEvents(p.projectId);
      expect(usage.map((u) => u.quantity)).toEqual(['1.000000', '1.000000']);
      // A later retry of the whole bulk replays both stored items and still refuses the conflicting one.
      const retry = await p.call('POST', '/usage/internal/bulk', {
        events: [item('k-1', 1), item('k-2', 2)],
      });
      expect((retry.body.results as Json[]).map((r) => [r.status, r.isDuplicate])).toEqual([
        [201, true],
        [409, undefined],
      ]);
      expect(await ctx.srv.store.listUsageEvents(p.projectId)).toHaveLength(2);
    });

    it('answers every item at its own index when invalid items come before valid ones', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'bulk-order' });
      const ok = (key: string) => ({ customerId: cu.body.id, quantity: 1, idempotencyKey: key });
      const res = await p.call('POST', '/usage/internal/bulk', {
        events: [{ quantity: -1, idempotencyKey: 'bad-1' }, ok('good-1'), 'not an object', ok('good-2')],
      });
      const results = res.body.results as Json[];
      expect(results.map((r) => [r.index, r.status])).toEqual([
        [0, 422],
        [1, 201],
        [2, 422],
        [3, 201],
      ]);
      expect(results[0]).toMatchObject({ error: { code: 'VALIDATION_ERROR' } });
      const stored = await ctx.srv.store.listUsageEvents(p.projectId);
      expect(stored.map((u) => u.id).sort()).toEqual(
        [results[1]?.usageEventId, results[3]?.usageEventId].sort(),
      );
    });
  });

  describe(`one project, two modes (${backend})`, () => {
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
