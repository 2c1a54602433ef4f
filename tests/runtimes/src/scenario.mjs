// The scenario every runtime runs: plain JavaScript on the packages' built entries (what users install),
// so Node, Bun, Deno and workerd load the same files. Each step returns what the runtime saw; the test
// (running on Node) asserts on what reached the Drip API.
import { Drip, createOutbox, detectRuntime } from '@drip/core';
import { drip } from '@drip/hono';
import { Hono } from 'hono';

/**
 * @typedef {{ apiUrl: string; apiKey: string; customer: string }} Target
 */

/**
 * A Hono app metered by @drip/hono: two good requests and one that throws, then the meter is closed
 * (its final flush is what a serverless or shutting-down app relies on).
 * @param {Target} target
 */
export async function honoApp(target) {
  const metering = drip({ client: new Drip({ apiKey: target.apiKey, baseUrl: target.apiUrl }) });
  /** @type {Hono<{ Variables: { user: { customerId: string } } }>} */
  const app = new Hono();
  app.use('*', async (c, next) => {
    const user = c.req.header('x-user');
    if (user !== undefined) c.set('user', { customerId: user });
    await next();
  });
  app.use('*', metering);
  app.get('/items/:id', (c) => {
    const id = c.req.param('id');
    c.get('drip')?.run.event({ eventType: 'kv.read', key: `item:${id}` });
    c.get('drip')?.usage('tokens', 5);
    return c.json({ id });
  });
  app.get('/fail', () => {
    throw new TypeError('handler broke');
  });
  const statuses = [];
  for (const path of ['/items/1', '/items/2', '/fail']) {
    const res = await app.request(path, { headers: { 'x-user': target.customer } });
    // A response bills when its body has been sent (read here, as a server does for its client).
    await res.text();
    statuses.push(res.status);
  }
  const closed = await metering.meter.close();
  return { runtime: detectRuntime(), statuses, closed };
}

/**
 * Core's default entry used directly: a synchronous usage call and a webhook signature round trip.
 * @param {Target} target
 */
export async function coreClient(target) {
  const client = new Drip({ apiKey: target.apiKey, baseUrl: target.apiUrl });
  const tracked = await client.trackUsage({
    customerId: target.customer,
    meter: 'direct_calls',
    quantity: 3,
  });
  const { generateWebhookSignature, verifyWebhookSignature } = await import('@drip/core');
  const signature = await generateWebhookSignature('{"a":1}', 'whsec_runtime', 100);
  const verified = await verifyWebhookSignature('{"a":1}', signature, 'whsec_runtime', { now: 100 });
  return { runtime: detectRuntime(), success: tracked.success, verified, clientHeader: client.clientHeader };
}

/**
 * The outbox on its own: records enqueued, then `close()` delivers them all before it resolves.
 * @param {Target} target
 */
export async function outboxClose(target) {
  const outbox = createOutbox({
    client: new Drip({ apiKey: target.apiKey, baseUrl: target.apiUrl }),
    shutdownHooks: false,
    flushIntervalMs: 60_000,
  });
  for (let i = 1; i <= 4; i++) {
    outbox.enqueue({ type: 'usage', customerId: target.customer, meter: 'outbox_units', quantity: i });
  }
  const closed = await outbox.close(10_000);
  return { runtime: detectRuntime(), closed, stats: outbox.stats() };
}

/**
 * Records left in the outbox when the process is told to stop: the outbox's shutdown hook must deliver
 * them. Returns once the records wait; the caller keeps the process alive until the signal arrives.
 * @param {Target} target
 */
export function outboxPending(target) {
  const outbox = createOutbox({
    client: new Drip({ apiKey: target.apiKey, baseUrl: target.apiUrl }),
    flushIntervalMs: 60_000,
  });
  for (let i = 1; i <= 3; i++) {
    outbox.enqueue({ type: 'usage', customerId: target.customer, meter: 'shutdown_units', quantity: 10 * i });
  }
  return { runtime: detectRuntime(), queued: outbox.stats().queued };
}
