// @drip/core's gate with the app's own customer ids, against the real server: the gate asks about the
// Drip customer the own id maps to (the API's checks take Drip ids), and under `provision: false` an
// unknown id is refused without creating anything. Each result is checked in the server's database.
import { createRequestMeter, Drip } from '@drip/core';
import { describe, expect, it } from 'vitest';
import { useServer } from './helpers';

type Req = { user: string };
const begin = (meter: ReturnType<typeof createRequestMeter<Req>>, user: string) =>
  meter.begin({ method: 'GET', path: '/items', route: '/items', header: () => undefined, raw: { user } });

describe('@drip/core gate with own customer ids, against the server', () => {
  const ctx = useServer('pglite', { asyncSettleDelayMs: 10, workerIntervalMs: 50 });

  it('checks the balance of the mapped customer; with provision: false an unknown id is refused and not created', async () => {
    const { srv } = ctx;
    const keys = await srv.store.createProject();
    const client = new Drip({ apiKey: keys.apiKey, baseUrl: srv.url, maxAttempts: 1 });
    const acme = await client.createCustomer({ externalCustomerId: 'acme' });
    const { availableUsdc } = await client.getBalance(acme.id);
    const meter = createRequestMeter<Req>({
      client,
      customer: (req) => ({ externalCustomerId: req.user }),
      customers: { provision: false },
      gate: { balance: { minUsdc: '1000000000' } },
      outbox: { shutdownHooks: false },
    });
    // Below the minimum: refused with the balance of the Drip customer "acme" maps to.
    expect(await begin(meter, 'acme')).toMatchObject({
      kind: 'respond',
      status: 402,
      body: { code: 'PAYMENT_REQUIRED', availableUsdc },
    });
    expect(await begin(meter, 'ghost')).toMatchObject({
      kind: 'respond',
      status: 402,
      body: { code: 'CUSTOMER_NOT_FOUND' },
    });
    const customers = await srv.store.listCustomers(keys.projectId);
    expect(customers.map((c) => c.externalCustomerId)).toEqual(['acme']);
    await meter.close();
  });

  it('with provisioning on, the gate creates the customer once and delivery bills it under the same id', async () => {
    const { srv } = ctx;
    const keys = await srv.store.createProject();
    const client = new Drip({ apiKey: keys.apiKey, baseUrl: srv.url, maxAttempts: 1 });
    const meter = createRequestMeter<Req>({
      client,
      customer: (req) => ({ externalCustomerId: req.user }),
      gate: { entitlement: true },
      outbox: { shutdownHooks: false },
    });
    for (let i = 0; i < 2; i++) {
      const r = await begin(meter, 'zoe');
      if (r.kind !== 'continue') throw new Error(`expected continue, got ${JSON.stringify(r)}`);
      r.handle.finish({ status: 200 });
    }
    expect((await meter.close(10_000)).delivered).toBe(true);
    const customers = await srv.store.listCustomers(keys.projectId);
    expect(customers.map((c) => c.externalCustomerId)).toEqual(['zoe']);
    const usage = await srv.store.listUsageEvents(keys.projectId, { customerId: String(customers[0]?.id) });
    expect(usage).toHaveLength(2);
  });
});
