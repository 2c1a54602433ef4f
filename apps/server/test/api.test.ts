// HTTP conventions (spec §2) and billing rules (spec §2.9, §3.3, §3.9) on both back ends.
import { describe, expect, it } from 'vitest';
import { BACKENDS, client, type Json, project, settleCharge, useServer } from './helpers';

for (const backend of BACKENDS) {
  describe(`HTTP conventions (${backend})`, () => {
    const ctx = useServer(backend, { prices: { llm_tokens: '0.000002' } });

    it('authenticates with Bearer keys and answers 401 with the reason', async () => {
      const p = await project(ctx.srv);
      const url = `${ctx.srv.url}/v1/customers`;
      const cases: [Record<string, string>, string][] = [
        [{}, 'Missing'],
        [{ authorization: `Basic ${p.apiKey}` }, 'Bearer'],
        [{ authorization: 'Bearer sk_test_unknownunknownunknownunknown12' }, 'Unknown'],
        [{ authorization: 'Bearer nonsense' }, 'Unknown'],
      ];
      for (const [headers, word] of cases) {
        const res = await fetch(url, { headers });
        const body = (await res.json()) as Json;
        expect(res.status).toBe(401);
        expect(body.code).toBe('UNAUTHORIZED');
        expect(String(body.error)).toContain(word);
      }
    });

    it('public keys: allowed on data routes, 403 PUBLIC_KEY_NOT_ALLOWED on webhooks and api-keys', async () => {
      const p = await project(ctx.srv);
      expect((await p.pub('POST', '/customers', { externalCustomerId: 'pk-made' })).status).toBe(201);
      expect((await p.pub('GET', '/customers')).status).toBe(200);
      for (const [m, path] of [
        ['GET', '/webhooks'],
        ['POST', '/webhooks'],
        ['GET', '/api-keys'],
        ['POST', '/api-keys'],
      ]) {
        const res = await p.pub(m ?? 'GET', path ?? '/');
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('PUBLIC_KEY_NOT_ALLOWED');
      }
    });

    it('key rotation keeps the old secret for the grace period; revoke stops a pair; the calling pair cannot be revoked', async () => {
      const p = await project(ctx.srv);
      const created = await p.call('POST', '/api-keys', { name: 'ci' });
      expect(created.status).toBe(201);
      expect(String(created.body.secretKey)).toMatch(/^sk_test_[A-Za-z0-9]{32}$/);
      expect(String(created.body.publicKey)).toMatch(/^pk_test_[A-Za-z0-9]{32}$/);
      const ci = client(ctx.srv, String(created.body.secretKey));
      expect((await ci('GET', '/customers')).status).toBe(200);
      const rotated = await p.call('POST', `/api-keys/${created.body.id}/rotate`, { gracePeriodHours: 1 });
      expect((await ci('GET', '/customers')).status).toBe(200);
      expect((await client(ctx.srv, String(rotated.body.secretKey))('GET', '/customers')).status).toBe(200);
      const rotatedNoGrace = await p.call('POST', `/api-keys/${created.body.id}/rotate`, {
        gracePeriodHours: 0,
      });
      expect((await client(ctx.srv, String(rotated.body.secretKey))('GET', '/customers')).status).toBe(401);
      const revoked = await p.call('POST', `/api-keys/${created.body.id}/revoke`);
      expect(revoked.body.revokedAt).toEqual(expect.any(String));
      expect((await client(ctx.srv, String(rotatedNoGrace.body.secretKey))('GET', '/customers')).status).toBe(
        401,
      );
      const own = (await p.call('GET', '/api-keys')).body.data as Json[];
      const mine = own.find((k) => k.publicKey === p.publicKey);
      const self = await p.call('POST', `/api-keys/${mine?.id}/revoke`);
      expect(self.body.code).toBe('CANNOT_REVOKE_CURRENT_KEY');
    });

    it('paths: /v1 prefix optional, // collapsed, trailing slash; 404 and 405 JSON envelopes; request ids; CORS', async () => {
      const p = await project(ctx.srv);
      const h = { authorization: `Bearer ${p.apiKey}`, 'x-request-id': 'my-trace.1:2' };
      for (const path of ['/v1/customers', '/customers', '//v1//customers/', '/v1/customers/']) {
        const res = await fetch(`${ctx.srv.url}${path}`, { headers: h });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-request-id')).toBe('my-trace.1:2');
        expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      }
      const generated = await fetch(`${ctx.srv.url}/v1/customers`, {
        headers: { authorization: h.authorization, 'x-request-id': 'bad id!' },
      });
      expect(generated.headers.get('x-request-id')).toMatch(/^req_[a-z2-7]{24}$/);
      const missing = await fetch(`${ctx.srv.url}/v1/nope`, { headers: h });
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
      const wrong = await fetch(`${ctx.srv.url}/v1/customers`, { method: 'DELETE', headers: h });
      expect(wrong.status).toBe(405);
      expect(await wrong.json()).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
      const pre = await fetch(`${ctx.srv.url}/v1/usage`, {
        method: 'OPTIONS',
        headers: {
          origin: 'http://app.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('*');
      expect(pre.headers.get('access-control-allow-headers')).toContain('Authorization');
      const exposed = await fetch(`${ctx.srv.url}/v1/customers`, { headers: h });
      expect(exposed.headers.get('access-control-expose-headers')).toContain('Idempotent-Replayed');
      const health = await fetch(`${ctx.srv.url}/health`);
      expect(await health.json()).toMatchObject({
        status: 'healthy',
        server: 'drip-local',
        capabilities: ['usage-bulk', 'runs-record-bulk'],
      });
    });

    it('bodies: 413 over 1 MiB, 400 INVALID_JSON, 422 with details, empty body with JSON content type is {}', async () => {
      const p = await project(ctx.srv);
      const big = await p.call(
        'POST',
        '/customers',
        JSON.stringify({ externalCustomerId: 'x', pad: 'y'.repeat(1024 * 1024) }),
      );
      expect(big.status).toBe(413);
      expect(big.body.code).toBe('PAYLOAD_TOO_LARGE');
      const bad = await p.call('POST', '/customers', '{"x":');
      expect(bad.body.code).toBe('INVALID_JSON');
      const invalid = await p.call('POST', '/usage', { customerId: 5, quantity: -1 });
      expect(invalid.status).toBe(422);
      const paths = (invalid.body.details as Json[]).map((d) => d.path);
      expect(paths).toEqual(expect.arrayContaining(['customerId', 'quantity', 'idempotencyKey']));
      const empty = await p.call('POST', '/customers', '');
      expect(empty.status).toBe(422);
      const q = await p.call('GET', '/customers?limit=500');
      expect(q.body).toMatchObject({ code: 'INVALID_PARAMETER' });
    });
  });

  describe(`billing rules (${backend})`, () => {
    const ctx = useServer(backend, {
      prices: { llm_tokens: '0.000002' },
      asyncSettleDelayMs: 10,
      workerIntervalMs: 50,
    });

    it('prices per meter, rounds half up, 402 when short, async charges fail on insufficient balance', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'b1' });
      const id = String(cu.body.id);
      const tokens = await p.call('POST', '/usage', {
        customerId: id,
        usageType: 'llm_tokens',
        quantity: 0.30000000000000004,
        idempotencyKey: 'r1',
      });
      expect((tokens.body.charge as Json).amountUsdc).toBe('0.000001');
      const other = await p.call('POST', '/usage', {
        externalCustomerId: 'b1',
        usageType: 'api_calls',
        quantity: 1500,
        idempotencyKey: 'r2',
      });
      expect((other.body.charge as Json).amountUsdc).toBe('1.500000');
      const asyncBig = await p.call('POST', '/usage/async', {
        customerId: id,
        usageType: 'api_calls',
        quantity: 200_000,
        idempotencyKey: 'r3',
      });
      expect(asyncBig.status).toBe(202);
      const failed = await settleCharge(ctx.srv, p.call, String((asyncBig.body.charge as Json).id));
      expect(failed).toMatchObject({ status: 'FAILED', failureReason: 'INSUFFICIENT_BALANCE' });
      const bal = await p.call('GET', `/customers/${id}/balance`);
      expect(bal.body).toMatchObject({
        balanceUsdc: '98.499999',
        pendingChargesUsdc: '0.000000',
        availableUsdc: '98.499999',
      });
      const short = await p.call('POST', '/usage', {
        customerId: id,
        usageType: 'api_calls',
        quantity: 100_000,
        idempotencyKey: 'r4',
      });
      expect(short.status).toBe(402);
      const internal = await p.call('POST', '/customers', { externalCustomerId: 'staff', isInternal: true });
      const free = await p.call('POST', '/usage', {
        customerId: internal.body.id,
        usageType: 'api_calls',
        quantity: 5,
        idempotencyKey: 'r5',
      });
      expect(free.body).toMatchObject({
        charge: null,
        mode: 'internal',
        autoPromoted: true,
        reason: 'INTERNAL_CUSTOMER',
      });
    });

    it('spending caps block at 100 % with autoBlock, alert at 50/80/95/100 once, and the entitlement check sees them', async () => {
      const p = await project(ctx.srv);
      const hook = await p.call('POST', '/webhooks', {
        url: 'http://127.0.0.1:1/none',
        events: ['customer.spending.warning', 'customer.spending.blocked', 'customer.spending.exceeded'],
      });
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'cap' });
      const id = String(cu.body.id);
      const cap = await p.call('PUT', `/customers/${id}/spending-cap`, {
        capType: 'DAILY_CHARGE_LIMIT',
        limitValue: '1.000000',
      });
      expect(cap.body).toMatchObject({
        capType: 'DAILY_CHARGE_LIMIT',
        limitValue: '1.000000',
        currentUsage: '0.000000',
        autoBlock: true,
      });
      const charge = (q: number, k: string) =>
        p.call('POST', '/usage', { customerId: id, usageType: 'api_calls', quantity: q, idempotencyKey: k });
      expect((await charge(600, 'c1')).status).toBe(201);
      expect((await charge(300, 'c2')).status).toBe(201);
      const blocked = await charge(200, 'c3');
      expect(blocked.status).toBe(403);
      expect(blocked.body.code).toBe('CUSTOMER_BLOCKED');
      expect((await charge(100, 'c4')).status).toBe(201);
      const caps = await p.call('GET', `/customers/${id}/spending-caps`);
      expect((caps.body.caps as Json[])[0]).toMatchObject({
        currentUsage: '1.000000',
        lastAlertLevel: '100',
      });
      const alerts = (
        await ctx.srv.store.listWebhookDeliveries(p.projectId, { webhookId: String(hook.body.id) })
      ).map((d) => (d.payload as { data: Json }).data.level);
      expect(alerts).toEqual([50, 80, 100]);
      const ent = await p.call('POST', '/entitlements/check', { customerId: id, featureKey: 'api_calls' });
      expect(ent.body).toMatchObject({ allowed: false, reason: 'SPENDING_CAP_REACHED' });
      const invalid = await p.call('PUT', `/customers/${id}/spending-cap`, {
        capType: 'DAILY_CHARGE_LIMIT',
        limitValue: 0.0000001,
      });
      expect(invalid.status).toBe(422);
    });

    it('runs: timeline cursor pagination, summaries, ending rules, events list both shapes', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'runs' });
      await p.call('POST', '/workflows', { name: 'Agent', slug: 'agent' });
      const dup = await p.call('POST', '/workflows', { name: 'Agent', slug: 'agent' });
      expect(dup.body).toMatchObject({ code: 'DUPLICATE_WORKFLOW', existingWorkflowId: expect.any(String) });
      const run = await p.call('POST', '/runs', {
        customerId: cu.body.id,
        workflowId: 'agent',
        externalRunId: 'r-1',
      });
      const again = await p.call('POST', '/runs', {
        customerId: cu.body.id,
        workflowId: 'agent',
        externalRunId: 'r-1',
      });
      expect(again.body).toMatchObject({ code: 'DUPLICATE_RUN', existingRunId: run.body.id });
      const events = Array.from({ length: 25 }, (_, i) => ({
        runId: run.body.id,
        eventType: i % 5 === 0 ? 'tool.call' : 'llm.call',
        outcome: i === 7 ? 'FAILED' : 'SUCCEEDED',
        idempotencyKey: `ev-${i}`,
        step: i,
      }));
      const batch = await p.call('POST', '/run-events/batch', { events });
      expect(batch.body.created).toBe(25);
      const seen: number[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const tl = await p.call(
          'GET',
          `/runs/${run.body.id}/timeline?limit=10${cursor ? `&cursor=${cursor}` : ''}`,
        );
        for (const e of tl.body.events as Json[]) seen.push(Number((e.attributes as Json).step));
        expect(tl.body.summary).toMatchObject({
          totalEvents: 25,
          byType: { 'llm.call': 20, 'tool.call': 5 },
          failedEvents: 1,
        });
        if (!tl.body.hasMore) break;
        cursor = String(tl.body.nextCursor);
      }
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i));
      expect((await p.call('GET', `/runs/${run.body.id}/timeline?cursor=garbage`)).body.code).toBe(
        'INVALID_PARAMETER',
      );
      const end = await p.call('PATCH', `/runs/${run.body.id}`, { status: 'FAILED', errorMessage: 'boom' });
      expect(end.body).toMatchObject({ status: 'FAILED', eventCount: 25 });
      expect((await p.call('PATCH', `/runs/${run.body.id}`, { status: 'FAILED' })).status).toBe(200);
      expect((await p.call('PATCH', `/runs/${run.body.id}`, { status: 'COMPLETED' })).body.code).toBe(
        'RUN_ALREADY_ENDED',
      );
      const late = await p.call('POST', '/run-events', {
        runId: run.body.id,
        eventType: 'late',
        idempotencyKey: 'late-1',
      });
      expect(late.status).toBe(201);
      const list = await p.call('GET', `/events?runId=${run.body.id}&limit=5&offset=5`);
      expect(list.body).toMatchObject({
        total: 26,
        limit: 5,
        offset: 5,
        hasMore: true,
        pagination: { total: 26, limit: 5, offset: 5, hasMore: true },
      });
      const runs = await p.call('GET', '/runs?status=FAILED');
      expect((runs.body.data as Json[]).map((r) => r.id)).toEqual([run.body.id]);
      const bulk = await p.call('POST', '/runs/record/bulk', {
        runs: [
          {
            customerId: cu.body.id,
            workflow: 'bulk-flow',
            status: 'COMPLETED',
            externalRunId: 'b-1',
            events: [{ eventType: 'x' }],
          },
          { customerId: 'cus_missing', workflow: 'bulk-flow', status: 'COMPLETED' },
          { workflow: 'bulk-flow' },
        ],
      });
      expect((bulk.body.results as Json[]).map((r) => r.status)).toEqual([201, 404, 422]);
    });

    // Boundaries: an exact balance, exactly half a micro-USDC, an async charge equal to the balance.
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
}
