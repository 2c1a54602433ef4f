import type { Drip } from '../src/client';

/**
 * The rows of the "Errors" table in packages/core/README.md. The README test checks both that each
 * row behaves as stated and that the README shows exactly these rows.
 */
export interface BadInputRow {
  /** The call as shown in the README. */
  call: string;
  run: (client: Drip) => Promise<unknown> | unknown;
  /** Expected error code. */
  code: string;
  /** Expected statusCode. */
  status: number;
  /** The field named in `details[0].path` (or `—`). */
  field: string;
}

const circular: Record<string, unknown> = { a: 1 };
circular.self = circular;
const deep = { a: { b: { c: { d: { e: { f: 1 } } } } } };

export const BAD_INPUTS: BadInputRow[] = [
  {
    call: "getCustomer('')",
    run: (c) => c.getCustomer(''),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'customerId',
  },
  {
    call: "getRun('   ')",
    run: (c) => c.getRun('   '),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'runId',
  },
  {
    call: "trackUsage({ customerId: 'cus_1', meter: 'api', quantity: NaN })",
    run: (c) => c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: Number.NaN }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'quantity',
  },
  {
    call: "trackUsage({ customerId: 'cus_1', meter: 'api', quantity: Infinity })",
    run: (c) => c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: Number.POSITIVE_INFINITY }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'quantity',
  },
  {
    call: "trackUsage({ customerId: 'cus_1', meter: 'api', quantity: -1 })",
    run: (c) => c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: -1 }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'quantity',
  },
  {
    call: "charge({ customerId: 'cus_1', meter: 'api', quantity: 2e15 })",
    run: (c) => c.charge({ customerId: 'cus_1', meter: 'api', quantity: 2e15 }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'quantity',
  },
  {
    call: "trackUsage({ customerId: 'cus_1', meter: 'api', quantity: '5' })",
    run: (c) => c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: '5' as unknown as number }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'quantity',
  },
  {
    call: "trackUsage({ customerId: 'cus_1', meter: 'api calls', quantity: 1 })",
    run: (c) => c.trackUsage({ customerId: 'cus_1', meter: 'api calls', quantity: 1 }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'meter',
  },
  {
    call: "trackUsage({ customerId: 'cus_1', meter: '', quantity: 1 })",
    run: (c) => c.trackUsage({ customerId: 'cus_1', meter: '', quantity: 1 }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'meter',
  },
  {
    call: "trackUsage({ customerId: 'cus_1', meter: 'a'.repeat(101), quantity: 1 })",
    run: (c) => c.trackUsage({ customerId: 'cus_1', meter: 'a'.repeat(101), quantity: 1 }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'meter',
  },
  {
    call: "trackUsage({ customerId: 'cus_1', externalCustomerId: 'u1', meter: 'api', quantity: 1 })",
    run: (c) =>
      c.trackUsage({
        customerId: 'cus_1',
        externalCustomerId: 'u1',
        meter: 'api',
        quantity: 1,
      } as unknown as Parameters<Drip['trackUsage']>[0]),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'customerId',
  },
  {
    call: "trackUsage({ meter: 'api', quantity: 1 })",
    run: (c) => c.trackUsage({ meter: 'api', quantity: 1 } as unknown as Parameters<Drip['trackUsage']>[0]),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'customerId',
  },
  {
    call: "trackUsage({ ..., idempotencyKey: '' })",
    run: (c) => c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: 1, idempotencyKey: '' }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'idempotencyKey',
  },
  {
    call: "trackUsage({ ..., idempotencyKey: 'k'.repeat(129) })",
    run: (c) =>
      c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: 1, idempotencyKey: 'k'.repeat(129) }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'idempotencyKey',
  },
  {
    call: 'trackUsage({ ..., metadata: [1, 2] })',
    run: (c) =>
      c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: 1, metadata: [1, 2] as unknown as {} }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'metadata',
  },
  {
    call: "trackUsage({ ..., metadata: 'x' })",
    run: (c) =>
      c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: 1, metadata: 'x' as unknown as {} }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'metadata',
  },
  {
    call: 'trackUsage({ ..., metadata: circular })',
    run: (c) => c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: 1, metadata: circular as {} }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'metadata',
  },
  {
    call: 'trackUsage({ ..., metadata: { n: 1n } })',
    run: (c) =>
      c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: 1, metadata: { n: 1n } as unknown as {} }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'metadata',
  },
  {
    call: 'trackUsage({ ..., metadata: { f: () => 1 } })',
    run: (c) =>
      c.trackUsage({
        customerId: 'cus_1',
        meter: 'api',
        quantity: 1,
        metadata: { f: () => 1 } as unknown as {},
      }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'metadata',
  },
  {
    call: "trackUsage({ ..., metadata: { s: 'x'.repeat(17000) } })",
    run: (c) =>
      c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: 1, metadata: { s: 'x'.repeat(17000) } }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'metadata',
  },
  {
    call: 'trackUsage({ ..., metadata: 6 levels deep })',
    run: (c) => c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: 1, metadata: deep }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'metadata',
  },
  {
    call: 'trackUsage({ ..., metadata: { n: NaN } })',
    run: (c) => c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: 1, metadata: { n: Number.NaN } }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'metadata',
  },
  {
    call: "trackUsage({ ..., units: 'u'.repeat(51) })",
    run: (c) => c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: 1, units: 'u'.repeat(51) }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'units',
  },
  {
    call: "createCustomer({ email: 'a@b.co' })",
    run: (c) => c.createCustomer({ email: 'a@b.co' }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'externalCustomerId',
  },
  {
    call: "createCustomer({ onchainAddress: '0x123' })",
    run: (c) => c.createCustomer({ onchainAddress: '0x123' }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'onchainAddress',
  },
  {
    call: "createWorkflow({ name: 'W', slug: 'Has Spaces' })",
    run: (c) => c.createWorkflow({ name: 'W', slug: 'Has Spaces' }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'slug',
  },
  {
    call: "emitEvent({ runId: 'run_1', eventType: '' })",
    run: (c) => c.emitEvent({ runId: 'run_1', eventType: '' }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'eventType',
  },
  {
    call: "emitEvent({ runId: 'run_1', eventType: 'x', costUnits: -1 })",
    run: (c) => c.emitEvent({ runId: 'run_1', eventType: 'x', costUnits: -1 }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'costUnits',
  },
  {
    call: 'emitEventsBatch([])',
    run: (c) => c.emitEventsBatch([]),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'events',
  },
  {
    call: "endRun('run_1', { status: 'DONE' })",
    run: (c) => c.endRun('run_1', { status: 'DONE' as 'COMPLETED' }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'status',
  },
  {
    call: "recordRun({ customerId: 'cus_1', workflow: 'w', status: 'COMPLETED', events: [{ eventType: 'x', quantity: -5 }] })",
    run: (c) =>
      c.recordRun({
        customerId: 'cus_1',
        workflow: 'w',
        status: 'COMPLETED',
        events: [{ eventType: 'x', quantity: -5 }],
      }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'events.0.quantity',
  },
  {
    call: "setCustomerSpendingCap('cus_1', { capType: 'DAILY_CHARGE_LIMIT', limitValue: '1.1234567' })",
    run: (c) => c.setCustomerSpendingCap('cus_1', { capType: 'DAILY_CHARGE_LIMIT', limitValue: '1.1234567' }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'limitValue',
  },
  {
    call: 'listCustomers({ limit: 500 })',
    run: (c) => c.listCustomers({ limit: 500 }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'limit',
  },
  {
    call: "createWebhook({ url: 'not a url', events: ['*'] })",
    run: (c) => c.createWebhook({ url: 'not a url', events: ['*'] }),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'url',
  },
  {
    call: 'createStreamMeter({ ... }).add(NaN)',
    run: (c) => c.createStreamMeter({ customerId: 'cus_1', meter: 'tokens' }).add(Number.NaN),
    code: 'VALIDATION_ERROR',
    status: 422,
    field: 'quantity',
  },
  {
    call: 'listWebhooks() with a pk_ key',
    run: (c) => c.listWebhooks(),
    code: 'PUBLIC_KEY_NOT_ALLOWED',
    status: 403,
    field: '—',
  },
  {
    call: "new Drip({ apiKey: 'sk_short' })",
    run: () => import('../src/client').then(({ Drip }) => new Drip({ apiKey: 'sk_short' })),
    code: 'CONFIGURATION_ERROR',
    status: 0,
    field: '—',
  },
  {
    call: "new Drip({ apiKey, baseUrl: 'ftp://example.com' })",
    run: () =>
      import('../src/client').then(
        ({ Drip }) => new Drip({ apiKey: 'sk_test_0123456789', baseUrl: 'ftp://example.com' }),
      ),
    code: 'CONFIGURATION_ERROR',
    status: 0,
    field: '—',
  },
];
