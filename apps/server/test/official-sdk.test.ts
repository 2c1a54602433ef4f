// The official client @drip-sdk/node@0.1.2, core and full entries with default settings, runs every
// in-scope method against the server; each result is checked against what the database holds.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Drip as CoreDrip } from '@drip-sdk/node/core';
import { Drip as FullDrip } from '@drip-sdk/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, eventually, type Json, useServer } from './helpers';

type AnyFn = (...args: unknown[]) => Promise<Json>;
type Client = Record<string, AnyFn>;

let receiver: Server;
let receiverUrl = '';
const received: { headers: IncomingMessage['headers']; body: string }[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});
afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

for (const backend of BACKENDS) {
  describe(`official @drip-sdk/node 0.1.2 against the server (${backend})`, () => {
    const ctx = useServer(backend, { asyncSettleDelayMs: 20, workerIntervalMs: 100 });

    for (const entry of ['core', 'full'] as const) {
      it(`${entry} entry: every in-scope method, checked against the database`, async () => {
        const { srv } = ctx;
        const keys = await srv.store.createProject();
        // The core entry gets the documented base URL; the full entry a bare origin with a trailing
        // slash, which it uses verbatim (unprefixed alias and `//` collapsing, spec §2.1 and §2.5).
        const drip = (entry === 'core'
          ? new CoreDrip({ apiKey: keys.apiKey, baseUrl: `${srv.url}/v1` })
          : new FullDrip({ apiKey: keys.apiKey, baseUrl: `${srv.url}/` })) as unknown as Client;
        const call = (name: string, ...args: unknown[]) => {
          const fn = drip[name];
          if (!fn) throw new Error(`no method ${name}`);
          return fn.apply(drip, args);
        };

        const ping = await call('ping');
        expect(ping.ok).toBe(true);
        expect(ping.status).toBe('healthy');

        const customer = await call('createCustomer', {
          externalCustomerId: `user-${entry}`,
          metadata: { plan: 'pro' },
        });
        const dbCustomers = await srv.store.listCustomers(keys.projectId);
        expect(dbCustomers.map((c) => c.id)).toEqual([customer.id]);
        expect(dbCustomers[0]?.metadata).toEqual({ plan: 'pro' });
        const got = await call('getCustomer', customer.id);
        expect(got.externalCustomerId).toBe(`user-${entry}`);
        const list = await call('listCustomers', { limit: 10 });
        expect((list.data as Json[]).map((c) => c.id)).toEqual([customer.id]);
        expect(list.count).toBe(1);

        const tracked = await call('trackUsage', {
          customerId: customer.id,
          meter: 'api_calls',
          quantity: 3,
        });
        expect(tracked.success).toBe(true);
        const batched = await call('trackUsage', {
          customerId: customer.id,
          meter: 'api_calls',
          quantity: 2,
          mode: 'batch',
        });
        expect(batched.success).toBe(true);
        const usage = await srv.store.listUsageEvents(keys.projectId);
        expect(usage.map((u) => [u.usageType, u.quantity])).toEqual([
          ['api_calls', '3.000000'],
          ['api_calls', '2.000000'],
        ]);
        expect(usage[0]?.id).toBe(tracked.usageEventId);

        if (entry === 'full') {
          const charged = await call('charge', {
            customerId: customer.id,
            meter: 'llm_tokens',
            quantity: 1500,
          });
          expect((charged.charge as Json).amountUsdc).toBe('1.500000');
          const dbCharges = await srv.store.listCharges(keys.projectId);
          expect(dbCharges).toHaveLength(1);
          expect(dbCharges[0]).toMatchObject({
            id: (charged.charge as Json).id,
            status: 'CONFIRMED',
            amountUsdc: '1.500000',
          });

          const asyncCharge = await call('chargeAsync', {
            customerId: customer.id,
            meter: 'llm_tokens',
            quantity: 500,
          });
          const asyncId = (asyncCharge.charge as Json).id;
          await eventually(async () => {
            await srv.runWorker();
            const all = await srv.store.listCharges(keys.projectId);
            return all.find((c) => c.id === asyncId && c.status === 'CONFIRMED');
          });
          const balance = await call('getBalance', customer.id);
          expect(balance.balanceUsdc).toBe('98.000000');
          expect(balance).toEqual(await srv.store.getBalance(String(customer.id)));
          const charges = await call('listCharges', { customerId: customer.id });
          expect((charges.data as Json[]).map((c) => c.id).sort()).toEqual(
            [String((charged.charge as Json).id), String(asyncId)].sort(),
          );
          const one = await call('getCharge', asyncId);
          expect(one.status).toBe('CONFIRMED');
        }

        const recorded = await call('recordRun', {
          customerId: customer.id,
          workflow: `support-bot-${entry}`,
          status: 'COMPLETED',
          events: [
            { eventType: 'llm.call', model: 'gpt-4', inputTokens: 500, outputTokens: 1200 },
            { eventType: 'tool.call', name: 'web-search', duration: 1500 },
          ],
        });
        const recordedRunId = String((recorded.run as Json).id);
        const recordedEvents = await srv.store.listRunEvents(recordedRunId);
        expect(recordedEvents.map((e) => [e.eventType, e.attributes])).toEqual([
          ['llm.call', { model: 'gpt-4', inputTokens: 500, outputTokens: 1200 }],
          ['tool.call', { name: 'web-search', duration: 1500 }],
        ]);

        const workflow = await call('createWorkflow', { name: 'Agent', slug: `agent-${entry}` }).catch(
          () => undefined,
        );
        const run = await call('startRun', {
          customerId: customer.id,
          workflowId: workflow?.id ?? `agent-${entry}`,
        });
        expect(run.status).toBe('PENDING');
        const ev = await call('emitEvent', {
          runId: run.id,
          eventType: 'llm.call',
          quantity: 1700,
          units: 'tokens',
          model: 'gpt-4',
        });
        expect(ev.isDuplicate).toBe(false);
        const batch = await call('emitEventsBatch', [
          { runId: run.id, eventType: 'tool.call', name: 'search' },
          { runId: run.id, eventType: 'tool.call', name: 'fetch' },
        ]);
        expect(batch.created).toBe(2);
        const ended = await call('endRun', run.id, { status: 'COMPLETED' });
        expect(ended.status).toBe('COMPLETED');
        expect(ended.eventCount).toBe(3);
        const fetched = await call('getRun', run.id);
        expect(fetched.status).toBe('COMPLETED');
        const timeline = await call('getRunTimeline', run.id);
        const tlEvents = timeline.events as Json[];
        expect(tlEvents.map((e) => e.eventType)).toEqual(['llm.call', 'tool.call', 'tool.call']);
        const dbRun = (await srv.store.listRuns(keys.projectId)).find((r) => r.id === run.id);
        expect(dbRun?.status).toBe('COMPLETED');
        const dbRunEvents = await srv.store.listRunEvents(String(run.id));
        expect(tlEvents.map((e) => e.id)).toEqual(dbRunEvents.map((e) => e.id));
        expect(dbRunEvents[0]).toMatchObject({
          quantity: '1700.000000',
          units: 'tokens',
          attributes: { model: 'gpt-4' },
        });

        if (entry === 'full') {
          const events = await call('listEvents', { runId: run.id });
          expect((events.data as Json[]).length).toBe(3);
          expect(events.total).toBe(3);
          const single = await call('getEvent', ev.id);
          expect(single.id).toBe(ev.id);

          const hook = await call('createWebhook', {
            url: receiverUrl,
            events: ['usage.recorded', 'webhook.test'],
          });
          expect(String(hook.secret)).toMatch(/^whsec_[0-9a-f]{64}$/);
          expect((await call('listWebhooks')).count).toBe(1);
          expect((await call('getWebhook', hook.id)).url).toBe(receiverUrl);
          const updated = await call('updateWebhook', hook.id, { description: 'ops' });
          expect(updated.description).toBe('ops');
          const tested = await call('testWebhook', hook.id);
          expect(tested.status).toBe('DELIVERED');
          expect(received.some((r) => r.headers['x-drip-event'] === 'webhook.test')).toBe(true);
          const rotated = await call('rotateWebhookSecret', hook.id);
          expect(String(rotated.secret)).toMatch(/^whsec_/);
          const deleted = await call('deleteWebhook', hook.id);
          expect(deleted.success).toBe(true);
          const [row] = await srv.store.query('SELECT deleted_at FROM webhooks WHERE id = $1', [hook.id]);
          expect(row?.deleted_at).not.toBeNull();
        }

        const cap = await call('setCustomerSpendingCap', customer.id, {
          capType: 'DAILY_CHARGE_LIMIT',
          limitValue: 50,
        });
        expect(cap.limitValue).toBe('50.000000');
        const caps = await call('getCustomerSpendingCaps', customer.id);
        expect((caps.caps as Json[]).map((c) => c.id)).toEqual([cap.id]);
        const ent = await call('checkEntitlement', { customerId: customer.id, featureKey: 'api_calls' });
        expect(ent.allowed).toBe(true);
        expect((await call('removeCustomerSpendingCap', customer.id, cap.id)).success).toBe(true);
        const [capRow] = await srv.store.query('SELECT is_active FROM spending_caps WHERE id = $1', [cap.id]);
        expect(capRow?.is_active).toBe(false);
      });
    }
  });
}
