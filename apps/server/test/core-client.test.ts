// Our own client (@drip/core) runs the same scenario as the official one against the server, on both
// back ends, and each result is checked against the database.
import { Drip } from '@drip/core';
import { describe, expect, it } from 'vitest';
import { BACKENDS, type Json, useServer } from './helpers';

for (const backend of BACKENDS) {
  describe(`@drip/core client against the server (${backend})`, () => {
    const ctx = useServer(backend, { asyncSettleDelayMs: 10, workerIntervalMs: 50 });

    it('every method of the scenario, checked against the database', async () => {
      const { srv } = ctx;
      const keys = await srv.store.createProject();
      // A bare origin: our client appends /v1 (spec §2.1).
      const drip = new Drip({ apiKey: keys.apiKey, baseUrl: srv.url, maxAttempts: 2 });
      const j = (x: unknown) => x as Json;

      expect(j(await drip.ping()).ok).toBe(true);
      const customer = j(
        await drip.createCustomer({ externalCustomerId: 'core-user', metadata: { plan: 'pro' } }),
      );
      const same = j(await drip.getOrCreateCustomer('core-user'));
      expect(same.id).toBe(customer.id);
      expect((await srv.store.listCustomers(keys.projectId)).map((c) => c.id)).toEqual([customer.id]);
      expect(j(await drip.getCustomer(String(customer.id))).externalCustomerId).toBe('core-user');
      expect(j(await drip.listCustomers({ limit: 5 })).count).toBe(1);

      const tracked = j(
        await drip.trackUsage({ customerId: String(customer.id), meter: 'api_calls', quantity: 3 }),
      );
      await drip.trackUsage({
        customerId: String(customer.id),
        meter: 'api_calls',
        quantity: 2,
        mode: 'batch',
      });
      const usage = await srv.store.listUsageEvents(keys.projectId);
      expect(usage.map((u) => u.quantity)).toEqual(['3.000000', '2.000000']);
      expect(usage[0]?.id).toBe(tracked.usageEventId);
      expect(String(usage[0]?.idempotencyKey)).toMatch(/^track_[a-z2-7]{16}_/);

      const charged = j(
        await drip.charge({ customerId: String(customer.id), meter: 'llm_tokens', quantity: 1500 }),
      );
      expect(j(charged.charge).amountUsdc).toBe('1.500000');
      const pending = j(
        await drip.chargeAsync({ customerId: String(customer.id), meter: 'llm_tokens', quantity: 500 }),
      );
      const asyncId = String(j(pending.charge).id);
      for (let i = 0; i < 100; i++) {
        await srv.runWorker();
        if (j(await drip.getCharge(asyncId)).status === 'CONFIRMED') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(j(await drip.getCharge(asyncId)).status).toBe('CONFIRMED');
      const balance = j(await drip.getBalance(String(customer.id)));
      expect(balance.balanceUsdc).toBe('98.000000');
      expect(balance.availableUsdc).toBe((await srv.store.getBalance(String(customer.id)))?.availableUsdc);
      expect(j(await drip.listCharges({ customerId: String(customer.id) })).count).toBe(2);
      expect((await srv.store.listCharges(keys.projectId)).map((c) => c.status)).toEqual([
        'CONFIRMED',
        'CONFIRMED',
      ]);

      const recorded = j(
        await drip.recordRun({
          customerId: String(customer.id),
          workflow: 'support-bot',
          status: 'COMPLETED',
          events: [{ eventType: 'llm.call', model: 'gpt-4', inputTokens: 500, outputTokens: 1200 } as never],
        }),
      );
      const recordedRun = String(j(recorded.run).id);
      expect((await srv.store.listRunEvents(recordedRun)).map((e) => e.attributes)).toEqual([
        { model: 'gpt-4', inputTokens: 500, outputTokens: 1200 },
      ]);
      const replay = j(
        await drip.recordRun({
          customerId: String(customer.id),
          workflow: 'support-bot',
          status: 'COMPLETED',
          externalRunId: 'fixed-1',
          events: [],
        }),
      );
      const replay2 = j(
        await drip.recordRun({
          customerId: String(customer.id),
          workflow: 'support-bot',
          status: 'COMPLETED',
          externalRunId: 'fixed-1',
          events: [],
        }),
      );
      expect(j(replay2.run).id).toBe(j(replay.run).id);
      expect((await srv.store.listRuns(keys.projectId)).length).toBe(2);

      const run = j(await drip.startRun({ customerId: String(customer.id), workflowId: 'support-bot' }));
      await drip.emitEvent({ runId: String(run.id), eventType: 'llm.call', quantity: 1700, units: 'tokens' });
      const batch = j(
        await drip.emitEventsBatch([
          { runId: String(run.id), eventType: 'tool.call' },
          { runId: String(run.id), eventType: 'tool.call' },
        ]),
      );
      expect(batch.created).toBe(2);
      expect(j(await drip.endRun(String(run.id), { status: 'COMPLETED' })).eventCount).toBe(3);
      expect(j(await drip.getRun(String(run.id))).status).toBe('COMPLETED');
      const timeline = j(await drip.getRunTimeline(String(run.id)));
      expect((timeline.events as Json[]).map((e) => e.id)).toEqual(
        (await srv.store.listRunEvents(String(run.id))).map((e) => e.id),
      );
      expect(j(await drip.listRuns({ status: 'COMPLETED' })).count).toBe(3);
      const events = j(await drip.listEvents({ runId: String(run.id) }));
      expect((events.data as Json[]).length).toBe(3);
      expect(j(await drip.getEvent(String((events.data as Json[])[0]?.id))).runId).toBe(run.id);

      const hook = j(await drip.createWebhook({ url: 'http://127.0.0.1:1/none', events: ['run.completed'] }));
      expect(j(await drip.listWebhooks()).count).toBe(1);
      expect(j(await drip.updateWebhook(String(hook.id), { description: 'x' })).description).toBe('x');
      expect(j(await drip.testWebhook(String(hook.id))).status).toBe('FAILED');
      expect(String(j(await drip.rotateWebhookSecret(String(hook.id))).secret)).toMatch(/^whsec_/);
      expect(j(await drip.listWebhookDeliveries(String(hook.id))).count).toBe(1);
      expect(j(await drip.deleteWebhook(String(hook.id))).success).toBe(true);

      const cap = j(
        await drip.setCustomerSpendingCap(String(customer.id), {
          capType: 'MONTHLY_CHARGE_LIMIT',
          limitValue: '10',
        }),
      );
      expect(cap.limitValue).toBe('10.000000');
      expect(
        j(await drip.checkEntitlement({ customerId: String(customer.id), featureKey: 'api_calls' })).allowed,
      ).toBe(true);
      expect(j(await drip.removeCustomerSpendingCap(String(customer.id), String(cap.id))).success).toBe(true);

      const key = j(await drip.createApiKey({ name: 'ci' } as never));
      expect(j(await drip.listApiKeys()).count).toBe(2);
      expect(String(j(await drip.rotateApiKey(String(key.id))).secretKey)).toMatch(/^sk_test_/);
      expect(j(await drip.revokeApiKey(String(key.id))).revokedAt).toEqual(expect.any(String));
      await drip.close();
    });
  });
}
