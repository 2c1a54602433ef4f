// Webhooks (spec §8): deliveries are signed (verified with @drip/core's verifier), retried on the
// schedule, logged, rotated with an overlap; failures never affect ingestion.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '@drip/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, eventually, type Json, project, useServer } from './helpers';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  path: string;
}

let receiver: Server;
let base = '';
const received: Received[] = [];
/** Status to answer per path: a list consumed one by one, then 200. */
const plan = new Map<string, number[]>();

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ headers: req.headers, body, path });
      const next = plan.get(path)?.shift() ?? 200;
      res.writeHead(next).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

for (const backend of BACKENDS) {
  describe(`webhooks (${backend})`, () => {
    const ctx = useServer(backend, {
      webhookRetryScheduleMs: [50, 50, 50, 50, 50, 50, 50, 50],
      workerIntervalMs: 50,
    });

    it('signs every delivery; retries failures on the schedule until delivered; logs attempts', async () => {
      const p = await project(ctx.srv);
      const path = `/${backend}/retry`;
      plan.set(path, [500, 503, 302]);
      const hook = await p.call('POST', '/webhooks', { url: `${base}${path}`, events: ['usage.recorded'] });
      const secret = String(hook.body.secret);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'w1' });
      const usage = await p.call('POST', '/usage/internal', {
        customerId: cu.body.id,
        usageType: 'api_calls',
        quantity: 2,
        idempotencyKey: 'w-1',
      });
      expect(usage.status).toBe(201);
      const attempts = await eventually(async () => {
        const got = received.filter((r) => r.path === path);
        return got.filter((r) => r.headers['x-drip-event'] === 'usage.recorded').length >= 4
          ? got
          : undefined;
      });
      const usageAttempts = attempts.filter((r) => r.headers['x-drip-event'] === 'usage.recorded');
      const ids = new Set(usageAttempts.map((r) => JSON.parse(r.body).id));
      expect(ids.size).toBe(1);
      for (const a of attempts) {
        expect(await verifyWebhookSignature(a.body, String(a.headers['x-drip-signature']), secret)).toBe(
          true,
        );
        expect(
          await verifyWebhookSignature(a.body, String(a.headers['x-drip-signature']), 'whsec_wrong'),
        ).toBe(false);
      }
      const payload = JSON.parse(usageAttempts[0]?.body ?? '{}');
      expect(payload).toMatchObject({
        type: 'usage.recorded',
        data: { usageEventId: usage.body.usageEventId, customerId: cu.body.id, quantity: 2 },
      });
      const log = await eventually(async () => {
        const res = await p.call('GET', `/webhooks/${hook.body.id}/deliveries`);
        const rows = res.body.data as Json[];
        return rows.every((d) => d.status === 'DELIVERED') ? rows : undefined;
      });
      const usageRow = log.find((d) => d.eventType === 'usage.recorded');
      expect(usageRow).toMatchObject({ status: 'DELIVERED', responseCode: 200 });
      expect(usageAttempts.map((r) => Number(r.headers['x-drip-delivery-attempt']))).toEqual([1, 2, 3, 4]);
      expect(usageRow?.attempts).toBe(4);
      const wh = await p.call('GET', `/webhooks/${hook.body.id}`);
      expect(wh.body.consecutiveFailures).toBe(0);
      expect(wh.body.stats).toMatchObject({ total: 1, delivered: 1, failed: 0, pending: 0 });
    });

    it('gives up after the schedule (FAILED), stops on 410, and ingestion never waits or fails', async () => {
      const p = await project(ctx.srv);
      const deadPath = `/${backend}/dead`;
      const gonePath = `/${backend}/gone`;
      plan.set(deadPath, Array(20).fill(500));
      plan.set(gonePath, [410]);
      const dead = await p.call('POST', '/webhooks', {
        url: `${base}${deadPath}`,
        events: ['customer.created'],
      });
      const gone = await p.call('POST', '/webhooks', {
        url: `${base}${gonePath}`,
        events: ['customer.created'],
      });
      const unreachable = await p.call('POST', '/webhooks', {
        url: 'http://127.0.0.1:1/none',
        events: ['*'],
      });
      const started = Date.now();
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'w2' });
      expect(cu.status).toBe(201);
      expect(Date.now() - started).toBeLessThan(5000);
      const final = async (id: unknown) =>
        eventually(async () => {
          const res = await p.call('GET', `/webhooks/${id}/deliveries`);
          const row = (res.body.data as Json[])[0];
          return row && row.status !== 'PENDING' ? row : undefined;
        }, 20_000);
      expect(await final(dead.body.id)).toMatchObject({ status: 'FAILED', attempts: 9, responseCode: 500 });
      expect(await final(gone.body.id)).toMatchObject({ status: 'FAILED', attempts: 1, responseCode: 410 });
      expect((await final(unreachable.body.id)).status).toBe('FAILED');
      const deadHook = await p.call('GET', `/webhooks/${dead.body.id}`);
      expect(deadHook.body).toMatchObject({ healthStatus: 'DEGRADED', consecutiveFailures: 9 });
      expect(received.filter((r) => r.path === deadPath)).toHaveLength(9);
    });

    it('filters select deliveries; test sends webhook.test; rotation signs with both secrets', async () => {
      const p = await project(ctx.srv);
      const path = `/${backend}/filtered`;
      const hook = await p.call('POST', '/webhooks', {
        url: `${base}${path}`,
        events: ['usage.recorded'],
        filters: { usageTypes: ['llm_tokens'] },
      });
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'w3' });
      await p.call('POST', '/usage/internal', {
        customerId: cu.body.id,
        usageType: 'api_calls',
        idempotencyKey: 'f-1',
      });
      const rotated = await p.call('POST', `/webhooks/${hook.body.id}/rotate-secret`);
      expect(rotated.status).toBe(200);
      await p.call('POST', '/usage/internal', {
        customerId: cu.body.id,
        usageType: 'llm_tokens',
        idempotencyKey: 'f-2',
      });
      const got = await eventually(async () =>
        received.find((r) => r.path === path && r.headers['x-drip-event'] === 'usage.recorded'),
      );
      expect(JSON.parse(got.body).data.usageType).toBe('llm_tokens');
      const sig = String(got.headers['x-drip-signature']);
      expect(sig.match(/v1=/g)).toHaveLength(2);
      expect(await verifyWebhookSignature(got.body, sig, String(rotated.body.secret))).toBe(true);
      expect(await verifyWebhookSignature(got.body, sig, String(hook.body.secret))).toBe(true);
      const test = await p.call('POST', `/webhooks/${hook.body.id}/test`, '');
      expect(test.body).toMatchObject({ status: 'DELIVERED', responseCode: 200 });
      expect(received.some((r) => r.path === path && r.headers['x-drip-event'] === 'webhook.test')).toBe(
        true,
      );
      const cleared = await p.call('PATCH', `/webhooks/${hook.body.id}`, { filters: null, isActive: false });
      expect(cleared.body).toMatchObject({ filters: null, isActive: false });
      const inactive = await p.call('POST', `/webhooks/${hook.body.id}/test`);
      expect(inactive.body).toMatchObject({ status: 'NOT_SENT', deliveryId: null });
      expect((await p.call('DELETE', `/webhooks/${hook.body.id}`)).status).toBe(204);
      expect((await p.call('GET', `/webhooks/${hook.body.id}`)).status).toBe(404);
    });
  });
}
