// @drip/core's delivery against the real server (issue 15): the app's own customer ids are provisioned
// once (or required with `customers: { provision: false }`), charged meters move the balance, and every
// failure is a line a user can act on. Each result is checked in the server's database.
import { createOutbox, Drip } from '@drip/core';
import { describe, expect, it } from 'vitest';
import { useServer } from './helpers';

function capture() {
  const lines: string[] = [];
  return { lines, logger: { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) } };
}

/** The report groups lines and writes them on the next timer tick. */
const tick = () => new Promise((r) => setTimeout(r, 10));

describe('@drip/core delivery with own customer ids, against the server', () => {
  const ctx = useServer('pglite', { asyncSettleDelayMs: 10, workerIntervalMs: 50 });

  it('provisions an unknown own id once, even across outboxes, and bills usage and runs to it', async () => {
    const { srv } = ctx;
    const keys = await srv.store.createProject();
    const client = new Drip({ apiKey: keys.apiKey, baseUrl: srv.url });
    for (const round of [1, 2]) {
      // A second outbox starts with an empty cache: the server's 409 leads to the same customer.
      const outbox = createOutbox({ client, shutdownHooks: false });
      for (let i = 0; i < 3; i++) {
        outbox.enqueue({ type: 'usage', externalCustomerId: 'alice', meter: 'api_calls', quantity: 1 });
      }
      outbox.enqueue({ type: 'run', externalCustomerId: 'alice', workflow: 'chat', status: 'COMPLETED' });
      expect((await outbox.close(10_000)).delivered).toBe(true);
      expect(outbox.stats().deadLettered).toBe(0);
      const customers = await srv.store.listCustomers(keys.projectId);
      expect(customers.map((c) => c.externalCustomerId)).toEqual(['alice']);
      const id = String(customers[0]?.id);
      const usage = await srv.store.listUsageEvents(keys.projectId, { customerId: id });
      expect(usage).toHaveLength(3 * round);
      expect(await srv.store.listRuns(keys.projectId, { customerId: id })).toHaveLength(round);
    }
  });

  it('with provision: false, unknown ids become dead letters with a readable line; known ones are billed', async () => {
    const { srv } = ctx;
    const keys = await srv.store.createProject();
    const client = new Drip({ apiKey: keys.apiKey, baseUrl: srv.url });
    const acme = await client.createCustomer({ externalCustomerId: 'acme' });
    const { lines, logger } = capture();
    const outbox = createOutbox({ client, logger, shutdownHooks: false, customers: { provision: false } });
    outbox.enqueue({ type: 'usage', externalCustomerId: 'ghost', meter: 'api_calls', quantity: 1 });
    outbox.enqueue({ type: 'usage', externalCustomerId: 'ghost', meter: 'api_calls', quantity: 1 });
    outbox.enqueue({ type: 'usage', externalCustomerId: 'acme', meter: 'api_calls', quantity: 5 });
    await outbox.flush(10_000);
    await tick();
    expect(lines.filter((l) => l.includes('ghost'))).toEqual([
      'drip outbox: usage not delivered: CUSTOMER_NOT_FOUND for customer "ghost" (2 usage records): ' +
        'Customer "ghost" does not exist and customers.provision is false; kept in deadLetters(). ' +
        'Hint: create the customer first, or leave customers.provision on to create it on first use',
    ]);
    expect(outbox.stats().problems).toEqual({ 'rejected:CUSTOMER_NOT_FOUND': 2 });
    expect(outbox.deadLetters().map((d) => d.record.body)).toMatchObject([
      { externalCustomerId: 'ghost' },
      { externalCustomerId: 'ghost' },
    ]);
    expect((await srv.store.listCustomers(keys.projectId)).map((c) => c.externalCustomerId)).toEqual([
      'acme',
    ]);
    const usage = await srv.store.listUsageEvents(keys.projectId, { customerId: acme.id });
    expect(usage.map((u) => u.quantity)).toEqual(['5.000000']);
    await outbox.close();
  });

  it('a key the server does not know: one line with the status and the server message', async () => {
    const { srv } = ctx;
    const client = new Drip({ apiKey: 'sk_test_NOTaKEYofTHISserverNOTaKEYofTH', baseUrl: srv.url });
    const { lines, logger } = capture();
    const outbox = createOutbox({ client, logger, shutdownHooks: false });
    outbox.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
    await outbox.flush(10_000);
    await tick();
    // (The outbox also says once that the bulk route was refused and it sends per item.)
    const refused = lines.filter((l) => l.includes('not delivered'));
    expect(refused, lines.join('\n')).toHaveLength(1);
    expect(refused[0]).toMatch(
      /^drip outbox: usage not delivered: 401 Unknown API key \(UNAUTHORIZED, 1 usage record\); kept in deadLetters\(\)\. Hint: check DRIP_API_KEY: http:\/\/127\.0\.0\.1:\d+\/v1 does not accept this key/,
    );
    await outbox.close();
  });

  it('charged meters go to POST /usage and debit the balance; the others are only recorded', async () => {
    const { srv } = ctx;
    const keys = await srv.store.createProject();
    const client = new Drip({ apiKey: keys.apiKey, baseUrl: srv.url });
    const outbox = createOutbox({ client, shutdownHooks: false, charge: ['llm_tokens'] });
    outbox.enqueue({ type: 'usage', externalCustomerId: 'bob', meter: 'llm_tokens', quantity: 100 });
    outbox.enqueue({ type: 'usage', externalCustomerId: 'bob', meter: 'api_calls', quantity: 1 });
    expect((await outbox.close(10_000)).delivered).toBe(true);
    expect(outbox.stats().deadLettered).toBe(0);
    const [bob] = await srv.store.listCustomers(keys.projectId);
    const charges = await srv.store.listCharges(keys.projectId, { customerId: String(bob?.id) });
    expect(charges).toHaveLength(1);
    const usage = await srv.store.listUsageEvents(keys.projectId, { customerId: String(bob?.id) });
    expect(usage.map((u) => u.usageType).sort()).toEqual(['api_calls', 'llm_tokens']);
  });
});
