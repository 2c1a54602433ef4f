// Idempotency under concurrency (spec §5.1): identical requests at once apply once; the same key with a
// different body is refused; two server instances on one PostgreSQL apply a key once.
import { describe, expect, it } from 'vitest';
import { startServer } from '../src/index';
import { BACKENDS, client, freshDatabase, type Json, project, useServer } from './helpers';

for (const backend of BACKENDS) {
  describe(`idempotency (${backend})`, () => {
    const ctx = useServer(backend);

    const routes: [string, (customerId: string, key: string) => Json][] = [
      [
        '/usage',
        (customerId, key) => ({ customerId, usageType: 'api_calls', quantity: 5, idempotencyKey: key }),
      ],
      [
        '/usage/async',
        (customerId, key) => ({ customerId, usageType: 'api_calls', quantity: 5, idempotencyKey: key }),
      ],
      [
        '/usage/internal',
        (customerId, key) => ({ customerId, usageType: 'api_calls', quantity: 5, idempotencyKey: key }),
      ],
      [
        '/usage/internal/batch',
        (customerId, key) => ({ customerId, usageType: 'api_calls', quantity: 5, idempotencyKey: key }),
      ],
    ];

    for (const [route, body] of routes) {
      it(`POST ${route}: 50 identical requests at once → one usage event, one charge at most`, async () => {
        const p = await project(ctx.srv);
        const cu = await p.call('POST', '/customers', { externalCustomerId: 'c1' });
        const req = body(String(cu.body.id), 'same-key');
        const answers = await Promise.all(Array.from({ length: 50 }, () => p.call('POST', route, req)));
        const statuses = answers.map((a) => a.status);
        const ok = answers.filter((a) => a.status < 300);
        expect(ok.length).toBeGreaterThanOrEqual(1);
        for (const a of answers.filter((x) => x.status >= 300)) {
          expect(a.status).toBe(409);
          expect(a.body.code).toBe('IDEMPOTENCY_KEY_IN_PROGRESS');
          expect(a.headers.get('retry-after')).toBe('1');
        }
        expect(new Set(ok.map((a) => a.body.usageEventId)).size).toBe(1);
        expect(statuses.filter((s) => s < 300).every((s) => s === ok[0]?.status)).toBe(true);
        const usage = await ctx.srv.store.listUsageEvents(p.projectId);
        expect(usage).toHaveLength(1);
        const charges = await ctx.srv.store.listCharges(p.projectId);
        expect(charges).toHaveLength(route === '/usage' || route === '/usage/async' ? 1 : 0);
        // A later retry replays the stored answer.
        const replay = await p.call('POST', route, req);
        expect(replay.status).toBe(ok[0]?.status);
        expect(replay.body.isDuplicate).toBe(true);
        expect(replay.body.usageEventId).toBe(ok[0]?.body.usageEventId);
        expect(replay.headers.get('idempotent-replayed')).toBe('true');
        // Same key, different body → 409 REUSED, nothing changes.
        const other = await p.call('POST', route, { ...req, quantity: 6 });
        expect(other.status).toBe(409);
        expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
        expect(String(other.body.error)).toContain('same-key');
        expect(await ctx.srv.store.listUsageEvents(p.projectId)).toHaveLength(1);
      });
    }

    it('POST /usage debits the balance once for 50 concurrent duplicates', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'c1' });
      const req = {
        customerId: cu.body.id,
        usageType: 'llm_tokens',
        quantity: 1000,
        idempotencyKey: 'k-bal',
      };
      await Promise.all(Array.from({ length: 50 }, () => p.call('POST', '/usage', req)));
      const bal = await ctx.srv.store.getBalance(String(cu.body.id));
      expect(bal?.balanceUsdc).toBe('99.000000');
    });

    it('POST /run-events and batch items share one key space; 50 concurrent duplicates store one event', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'c1' });
      const run = await p
        .call('POST', '/runs', { customerId: cu.body.id, workflowId: 'wf-a' })
        .then(async (r) => {
          if (r.status === 404) {
            await p.call('POST', '/workflows', { name: 'A', slug: 'wf-a' });
            return p.call('POST', '/runs', { customerId: cu.body.id, workflowId: 'wf-a' });
          }
          return r;
        });
      const ev = { runId: run.body.id, eventType: 'llm.call', idempotencyKey: 'ev-1', model: 'gpt-4' };
      const answers = await Promise.all(Array.from({ length: 50 }, () => p.call('POST', '/run-events', ev)));
      expect(answers.every((a) => a.status === 201 || a.body.code === 'IDEMPOTENCY_KEY_IN_PROGRESS')).toBe(
        true,
      );
      const batch = await p.call('POST', '/run-events/batch', {
        events: [ev, { ...ev, eventType: 'other' }],
      });
      expect(batch.body.duplicates).toBe(1);
      expect((batch.body.events as Json[])[1]).toMatchObject({
        skipped: true,
        reason: 'IDEMPOTENCY_KEY_REUSED',
      });
      expect(await ctx.srv.store.listRunEvents(String(run.body.id))).toHaveLength(1);
    });

    it('POST /runs/record: same externalRunId and body replays; a different body is DUPLICATE_RUN', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'c1' });
      const body = {
        customerId: cu.body.id,
        workflow: 'agent',
        status: 'COMPLETED',
        externalRunId: 'ext-1',
        events: [{ eventType: 'llm.call' }],
      };
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => p.call('POST', '/runs/record', body)),
      );
      expect(answers.every((a) => a.status === 201)).toBe(true);
      expect(new Set(answers.map((a) => (a.body.run as Json).id)).size).toBe(1);
      expect(answers.filter((a) => a.body.isDuplicate === false)).toHaveLength(1);
      const conflict = await p.call('POST', '/runs/record', { ...body, status: 'FAILED' });
      expect(conflict.status).toBe(409);
      expect(conflict.body).toMatchObject({
        code: 'DUPLICATE_RUN',
        existingRunId: (answers[0]?.body.run as Json | undefined)?.id,
      });
      const runs = await ctx.srv.store.listRuns(p.projectId);
      expect(runs).toHaveLength(1);
      expect(await ctx.srv.store.listRunEvents(runs[0]?.id ?? '')).toHaveLength(1);
    });

    it('bulk items and single requests share keys: a bulk retry never applies an item twice', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'c1' });
      const items = Array.from({ length: 20 }, (_, i) => ({
        customerId: cu.body.id,
        usageType: 'api_calls',
        quantity: 1,
        idempotencyKey: `b-${i}`,
      }));
      await p.call('POST', '/usage/internal', items[3]);
      const first = await p.call('POST', '/usage/internal/bulk', { events: [...items, items[0]] });
      const results = first.body.results as Json[];
      expect(results.filter((r) => r.isDuplicate === true).map((r) => r.index)).toEqual([3, 20]);
      const again = await p.call('POST', '/usage/internal/bulk', { events: items });
      expect((again.body.results as Json[]).every((r) => r.status === 201 && r.isDuplicate === true)).toBe(
        true,
      );
      expect(await ctx.srv.store.listUsageEvents(p.projectId)).toHaveLength(20);
    });

    it('a failed attempt stores nothing: after a 402 and a top-up the same key succeeds', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'c1' });
      const big = {
        customerId: cu.body.id,
        usageType: 'llm_tokens',
        quantity: 200_000,
        idempotencyKey: 'k-402',
      };
      const refused = await p.call('POST', '/usage', big);
      expect(refused.status).toBe(402);
      expect(refused.body).toMatchObject({
        code: 'PAYMENT_REQUIRED',
        payment: { amount: '200.000000', currency: 'USDC', usageId: null },
      });
      expect(await ctx.srv.store.listUsageEvents(p.projectId)).toHaveLength(0);
      const topUp = await p.call('POST', `/customers/${cu.body.id}/balance/adjustments`, {
        amountUsdc: '150',
        reason: 'top-up',
        idempotencyKey: 'adj-1',
      });
      expect(topUp.status).toBe(201);
      expect(topUp.body.balanceUsdc).toBe('250.000000');
      const ok = await p.call('POST', '/usage', big);
      expect(ok.status).toBe(201);
      expect((await ctx.srv.store.getBalance(String(cu.body.id)))?.balanceUsdc).toBe('50.000000');
    });
  });
}

describe('two server instances on one PostgreSQL', () => {
  it('apply one idempotency key once', async () => {
    const db = await freshDatabase();
    const a = await startServer({ port: 0, databaseUrl: db.url });
    const b = await startServer({ port: 0, databaseUrl: db.url });
    try {
      const keys = await a.store.createProject();
      const ca = client(a, keys.apiKey);
      const cb = client(b, keys.apiKey);
      const cu = await ca('POST', '/customers', { externalCustomerId: 'shared' });
      const req = {
        customerId: cu.body.id,
        usageType: 'api_calls',
        quantity: 1,
        idempotencyKey: 'two-instances',
      };
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? ca : cb)('POST', '/usage', req)),
      );
      expect(answers.every((x) => x.status === 201 || x.body.code === 'IDEMPOTENCY_KEY_IN_PROGRESS')).toBe(
        true,
      );
      expect(await a.store.listUsageEvents(keys.projectId)).toHaveLength(1);
      expect(await b.store.listCharges(keys.projectId)).toHaveLength(1);
      expect((await a.store.getBalance(String(cu.body.id)))?.balanceUsdc).toBe('99.999000');
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});

for (const backend of BACKENDS) {
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
}
