/**
 * Wire compatibility with the official client (`@drip-sdk/node` 0.1.2). Both clients are pointed at the
 * same local capture server (node:http on 127.0.0.1) and make the same call; the method, path, query and
 * body fields they send must match. Every deliberate difference is listed in DIFFERENCES below with the
 * section of the API spec that requires it, and is asserted as a difference (so the list stays true).
 */
import { execFile } from 'node:child_process';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { Drip as OfficialDrip } from '@drip-sdk/node';
import { Drip } from '@drip/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const require = createRequire(import.meta.url);

interface Captured {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  rawBody: string;
  body: unknown;
}

const NOW = '2026-03-01T12:00:00.000Z';
const customer = {
  id: 'cus_1',
  externalCustomerId: 'user_42',
  isInternal: false,
  status: 'ACTIVE',
  createdAt: NOW,
  updatedAt: NOW,
};
const chargeRow = {
  id: 'chg_1',
  usageId: 'use_1',
  customerId: 'cus_1',
  amountUsdc: '0.001000',
  amountToken: '1000',
  status: 'CONFIRMED',
  createdAt: NOW,
};
const webhook = { id: 'wh_1', url: 'https://example.com/h', events: ['*'], isActive: true, createdAt: NOW };
const workflow = {
  id: 'wf_1',
  name: 'Summarise',
  slug: 'summarise',
  productSurface: 'CUSTOM',
  isActive: true,
  createdAt: NOW,
};
const usageOk = {
  success: true,
  usageEventId: 'use_1',
  isDuplicate: false,
  customerId: 'cus_1',
  usageType: 'api_calls',
  quantity: 1,
  charge: { id: 'chg_1', amountUsdc: '0.001000', amountToken: '1000', status: 'CONFIRMED' },
};

/** Canned answers both clients can parse. */
function answer(req: Captured): { status: number; body?: unknown } {
  const { method, path } = req;
  if (path === '/health') return { status: 200, body: { status: 'healthy', timestamp: 1 } };
  if (method === 'DELETE' && path.startsWith('/v1/webhooks/')) return { status: 204 };
  if (method === 'DELETE') return { status: 200, body: { success: true } };
  if (path === '/v1/customers' && method === 'POST') {
    const ext = (req.body as { externalCustomerId?: string }).externalCustomerId;
    if (ext === 'dup_with_id')
      return { status: 409, body: { error: 'dup', code: 'DUPLICATE_CUSTOMER', existingCustomerId: 'cus_1' } };
    if (ext === 'dup_without_id') return { status: 409, body: { error: 'dup', code: 'DUPLICATE_CUSTOMER' } };
    return { status: 201, body: customer };
  }
  if (path === '/v1/customers')
    return { status: 200, body: { data: [{ ...customer, externalCustomerId: 'dup_without_id' }], count: 1 } };
  if (/^\/v1\/customers\/[^/]+$/.test(path)) return { status: 200, body: customer };
  if (path.endsWith('/balance'))
    return {
      status: 200,
      body: {
        customerId: 'cus_1',
        balanceUsdc: '1.000000',
        pendingChargesUsdc: '0.000000',
        availableUsdc: '1.000000',
      },
    };
  if (path.endsWith('/spending-cap'))
    return {
      status: 200,
      body: {
        id: 'cap_1',
        capType: 'DAILY_CHARGE_LIMIT',
        limitValue: '5.000000',
        currentUsage: '0.000000',
        isActive: true,
        autoBlock: true,
      },
    };
  if (path.endsWith('/spending-caps')) return { status: 200, body: { caps: [] } };
  if (path.startsWith('/v1/usage')) return { status: 201, body: usageOk };
  if (path === '/v1/charges') return { status: 200, body: { data: [chargeRow], count: 1 } };
  if (path.startsWith('/v1/charges/')) return { status: 200, body: chargeRow };
  if (path === '/v1/entitlements/check')
    return {
      status: 200,
      body: {
        allowed: true,
        featureKey: 'f',
        remaining: -1,
        limit: -1,
        unlimited: true,
        period: 'DAILY',
        periodResetsAt: NOW,
      },
    };
  if (path === '/v1/webhooks' && method === 'POST')
    return { status: 201, body: { ...webhook, secret: 'whsec_x' } };
  if (path === '/v1/webhooks') return { status: 200, body: { data: [webhook], count: 1 } };
  if (path.endsWith('/test'))
    return { status: 200, body: { message: 'sent', deliveryId: 'whd_1', status: 'DELIVERED' } };
  if (path.endsWith('/rotate-secret'))
    return { status: 200, body: { secret: 'whsec_y', message: 'rotated' } };
  if (path.startsWith('/v1/webhooks/')) return { status: 200, body: webhook };
  if (path === '/v1/workflows' && method === 'POST') return { status: 201, body: workflow };
  if (path === '/v1/workflows') return { status: 200, body: { data: [workflow], count: 1 } };
  if (path === '/v1/runs/record')
    return {
      status: 201,
      body: {
        run: { id: 'run_1', workflowId: 'wf_1', workflowName: 'S', status: 'COMPLETED' },
        events: { created: 1, duplicates: 0 },
        summary: 'ok',
      },
    };
  if (path === '/v1/runs')
    return {
      status: 201,
      body: { id: 'run_1', customerId: 'cus_1', workflowId: 'wf_1', status: 'PENDING', createdAt: NOW },
    };
  if (path.endsWith('/timeline'))
    return {
      status: 200,
      body: {
        runId: 'run_1',
        customerId: 'cus_1',
        status: 'RUNNING',
        events: [],
        anomalies: [],
        summary: {},
        hasMore: false,
        nextCursor: null,
      },
    };
  if (path.startsWith('/v1/runs/'))
    return {
      status: 200,
      body: {
        id: 'run_1',
        customerId: 'cus_1',
        workflowId: 'wf_1',
        status: 'COMPLETED',
        endedAt: NOW,
        eventCount: 0,
      },
    };
  if (path === '/v1/run-events')
    return {
      status: 201,
      body: { id: 'evt_1', runId: 'run_1', eventType: 'llm.call', isDuplicate: false, timestamp: NOW },
    };
  if (path === '/v1/run-events/batch') {
    const n = (req.body as { events: unknown[] }).events.length;
    return {
      status: 201,
      body: {
        success: true,
        created: n,
        duplicates: 0,
        skipped: 0,
        events: Array.from({ length: n }, (_, i) => ({ id: `evt_${i}`, eventType: 'x', isDuplicate: false })),
      },
    };
  }
  if (path === '/v1/events')
    return {
      status: 200,
      body: {
        data: [],
        total: 0,
        limit: 50,
        offset: 0,
        pagination: { total: 0, limit: 50, offset: 0, hasMore: false },
      },
    };
  if (path.startsWith('/v1/events/'))
    return {
      status: 200,
      body: { id: 'evt_1', customerId: 'cus_1', eventType: 'x', outcome: 'SUCCEEDED', createdAt: NOW },
    };
  return { status: 404, body: { error: 'no route', code: 'ROUTE_NOT_FOUND' } };
}

let captured: Captured[] = [];
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let raw = '';
  req.on('data', (c: Buffer) => {
    raw += c.toString();
  });
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://capture');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const entry: Captured = {
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams.entries()),
      headers: req.headers,
      rawBody: raw,
      body,
    };
    captured.push(entry);
    const a = answer(entry);
    res.statusCode = a.status;
    res.setHeader('x-request-id', `req_${captured.length}`);
    if (a.body === undefined) res.end();
    else {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(a.body));
    }
  });
});

let base = '';
const KEY = 'sk_test_wirecompat0123456789';
let ours: Drip;
let official: InstanceType<typeof OfficialDrip>;

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  ours = new Drip({ apiKey: KEY, baseUrl: base });
  official = new OfficialDrip({ apiKey: KEY, baseUrl: base });
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  captured = [];
});

async function capture(fn: () => Promise<unknown>): Promise<Captured[]> {
  captured = [];
  await fn();
  const out = captured;
  captured = [];
  return out;
}

type Shape = Pick<Captured, 'method' | 'path' | 'query' | 'body'>;
const shape = (c: Captured): Shape => ({ method: c.method, path: c.path, query: c.query, body: c.body });

/**
 * Deliberate differences, each required by the API spec (docs: spec/drip-api-v1.md). Each entry names
 * the field or behaviour, the section, and the test below that checks it.
 */
const DIFFERENCES = {
  autoKeyValues:
    '§5.2, §9 row 1: automatic idempotency keys are <prefix>_<16 random base32>_<base36 counter>; the official client hashes the call arguments with a per-process counter that has no random part, so its keys repeat across processes and restarts. Both send the field; only the value differs.',
  recordRunKeys:
    '§5.5: recordRun always sends externalRunId (generated run_... when absent) and idempotencyKey (rec_...); the official client sends neither unless given externalRunId.',
  startRunExternalId: '§5.4: startRun fills externalRunId (run_...) so a retry cannot start a second run.',
  batchItemKeys:
    '§5.2/§5.3, §9 row 11: every batch item gets an evt_ key from our generator (official: a hash of its fields).',
  streamFlushKeys:
    '§5.6: StreamMeter flush keys are <base>:flush:<n> with n from 1 (official: <base>_flush_<n> from 0).',
  pathEncoding: '§2.10, §9 row 14: path segments are URL-encoded (official interpolates them raw).',
  headers:
    '§2.3: we send Accept, X-Drip-Client and User-Agent naming @drip/core, and Content-Type only with a body (official: Content-Type on every request, no client header).',
  getOrCreateLookup:
    '§4, §9 row 20: on a 409 without existingCustomerId we query ?externalCustomerId= and check it client-side, then walk every page (official: first 100 customers, then GET by id).',
  listCustomersFilters: '§4: listCustomers forwards isInternal and externalCustomerId (official drops them).',
  chargeUnits: '§3.3/§4: charge and chargeAsync send units and description when given (official drops them).',
} as const;

interface Case {
  name: string;
  ours: () => Promise<unknown>;
  official: () => Promise<unknown>;
  /** Removes the fields that differ on purpose (named in DIFFERENCES) before comparing. */
  normalise?: (s: Shape, who: 'ours' | 'official') => Shape;
}

const dropKey = (s: Shape): Shape => {
  const b = { ...(s.body as Record<string, unknown>) };
  expect(typeof b.idempotencyKey).toBe('string');
  delete b.idempotencyKey;
  return { ...s, body: b };
};

const sameCases: Case[] = [
  { name: 'ping', ours: () => ours.ping(), official: () => official.ping() },
  {
    name: 'createCustomer',
    ours: () =>
      ours.createCustomer({ externalCustomerId: 'user_42', email: 'a@b.co', metadata: { plan: 'pro' } }),
    official: () =>
      official.createCustomer({
        externalCustomerId: 'user_42',
        email: 'a@b.co',
        metadata: { plan: 'pro' },
      } as never),
  },
  {
    name: 'getCustomer',
    ours: () => ours.getCustomer('cus_1'),
    official: () => official.getCustomer('cus_1'),
  },
  {
    name: 'listCustomers',
    ours: () => ours.listCustomers({ limit: 10, offset: 5, status: 'ACTIVE' }),
    official: () => official.listCustomers({ limit: 10, offset: 5, status: 'ACTIVE' }),
  },
  {
    name: 'getOrCreateCustomer (409 with existingCustomerId)',
    ours: () => ours.getOrCreateCustomer('dup_with_id', { a: 1 }),
    official: () => official.getOrCreateCustomer('dup_with_id', { a: 1 }),
  },
  { name: 'getBalance', ours: () => ours.getBalance('cus_1'), official: () => official.getBalance('cus_1') },
  {
    name: 'trackUsage (sync, caller key)',
    ours: () =>
      ours.trackUsage({
        customerId: 'cus_1',
        meter: 'api_calls',
        quantity: 3,
        idempotencyKey: 'k1',
        units: 'req',
        description: 'd',
        metadata: { r: '/x' },
      }),
    official: () =>
      official.trackUsage({
        customerId: 'cus_1',
        meter: 'api_calls',
        quantity: 3,
        idempotencyKey: 'k1',
        units: 'req',
        description: 'd',
        metadata: { r: '/x' },
      }),
  },
  {
    name: 'trackUsage (batch, caller key)',
    ours: () =>
      ours.trackUsage({
        customerId: 'cus_1',
        meter: 'api_calls',
        quantity: 1,
        idempotencyKey: 'k2',
        mode: 'batch',
      }),
    official: () =>
      official.trackUsage({
        customerId: 'cus_1',
        meter: 'api_calls',
        quantity: 1,
        idempotencyKey: 'k2',
        mode: 'batch',
      }),
  },
  {
    name: 'trackUsage (automatic key)',
    ours: () => ours.trackUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 }),
    official: () => official.trackUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 }),
    normalise: dropKey, // DIFFERENCES.autoKeyValues
  },
  {
    name: 'charge (caller key)',
    ours: () =>
      ours.charge({
        customerId: 'cus_1',
        meter: 'api_calls',
        quantity: 2,
        idempotencyKey: 'k3',
        metadata: { m: 1 },
      }),
    official: () =>
      official.charge({
        customerId: 'cus_1',
        meter: 'api_calls',
        quantity: 2,
        idempotencyKey: 'k3',
        metadata: { m: 1 },
      }),
  },
  {
    name: 'charge (automatic key)',
    ours: () => ours.charge({ customerId: 'cus_1', meter: 'api_calls', quantity: 2 }),
    official: () => official.charge({ customerId: 'cus_1', meter: 'api_calls', quantity: 2 }),
    normalise: dropKey,
  },
  {
    name: 'chargeAsync (caller key)',
    ours: () =>
      ours.chargeAsync({ customerId: 'cus_1', meter: 'api_calls', quantity: 4, idempotencyKey: 'k4' }),
    official: () =>
      official.chargeAsync({ customerId: 'cus_1', meter: 'api_calls', quantity: 4, idempotencyKey: 'k4' }),
  },
  {
    name: 'wrapApiCall (caller key)',
    ours: () =>
      ours.wrapApiCall({
        customerId: 'cus_1',
        meter: 'tokens',
        idempotencyKey: 'k5',
        call: async () => 7,
        extractUsage: (n: number) => n,
      }),
    official: () =>
      official.wrapApiCall({
        customerId: 'cus_1',
        meter: 'tokens',
        idempotencyKey: 'k5',
        call: async () => 7,
        extractUsage: (n: number) => n,
      }),
  },
  { name: 'getCharge', ours: () => ours.getCharge('chg_1'), official: () => official.getCharge('chg_1') },
  {
    name: 'listCharges',
    ours: () => ours.listCharges({ customerId: 'cus_1', status: 'CONFIRMED', limit: 5, offset: 10 }),
    official: () => official.listCharges({ customerId: 'cus_1', status: 'CONFIRMED', limit: 5, offset: 10 }),
  },
  {
    name: 'createWorkflow',
    ours: () =>
      ours.createWorkflow({
        name: 'Summarise',
        slug: 'summarise',
        productSurface: 'AGENT',
        description: 'd',
      }),
    official: () =>
      official.createWorkflow({
        name: 'Summarise',
        slug: 'summarise',
        productSurface: 'AGENT',
        description: 'd',
      }),
  },
  { name: 'listWorkflows', ours: () => ours.listWorkflows(), official: () => official.listWorkflows() },
  {
    name: 'startRun (caller externalRunId)',
    ours: () =>
      ours.startRun({
        customerId: 'cus_1',
        workflowId: 'wf_1',
        externalRunId: 'ext-1',
        correlationId: 'c',
        metadata: { a: 1 },
      }),
    official: () =>
      official.startRun({
        customerId: 'cus_1',
        workflowId: 'wf_1',
        externalRunId: 'ext-1',
        correlationId: 'c',
        metadata: { a: 1 },
      }),
  },
  {
    name: 'emitEvent (caller key, schema-flexible fields)',
    ours: () =>
      ours.emitEvent({
        runId: 'run_1',
        eventType: 'llm.call',
        model: 'gpt-4',
        inputTokens: 500,
        outputTokens: 1200,
        idempotencyKey: 'k6',
      }),
    official: () =>
      official.emitEvent({
        runId: 'run_1',
        eventType: 'llm.call',
        idempotencyKey: 'k6',
        ...{ model: 'gpt-4', inputTokens: 500, outputTokens: 1200 },
      } as never),
  },
  {
    name: 'emitEventsBatch (caller keys)',
    ours: () =>
      ours.emitEventsBatch([
        {
          runId: 'run_1',
          eventType: 'tool.call',
          quantity: 1,
          idempotencyKey: 'b1',
          name: 'web-search',
          duration: 1500,
        },
        { runId: 'run_1', eventType: 'llm.call', quantity: 2, idempotencyKey: 'b2' },
      ]),
    official: () =>
      official.emitEventsBatch([
        {
          runId: 'run_1',
          eventType: 'tool.call',
          quantity: 1,
          idempotencyKey: 'b1',
          ...{ name: 'web-search', duration: 1500 },
        } as never,
        { runId: 'run_1', eventType: 'llm.call', quantity: 2, idempotencyKey: 'b2' },
      ]),
  },
  {
    name: 'endRun',
    ours: () => ours.endRun('run_1', { status: 'FAILED', errorMessage: 'boom', errorCode: 'E' }),
    official: () => official.endRun('run_1', { status: 'FAILED', errorMessage: 'boom', errorCode: 'E' }),
  },
  { name: 'getRun', ours: () => ours.getRun('run_1'), official: () => official.getRun('run_1') },
  {
    name: 'getRunTimeline',
    ours: () =>
      ours.getRunTimeline('run_1', {
        limit: 20,
        cursor: 'c1',
        includeAnomalies: false,
        collapseRetries: true,
      }),
    official: () =>
      official.getRunTimeline('run_1', {
        limit: 20,
        cursor: 'c1',
        includeAnomalies: false,
        collapseRetries: true,
      }),
  },
  {
    name: 'recordRun (caller externalRunId)',
    ours: () =>
      ours.recordRun({
        customerId: 'cus_1',
        workflow: 'summarise',
        status: 'COMPLETED',
        externalRunId: 'ext-2',
        correlationId: 'c',
        events: [{ eventType: 'llm.call', quantity: 1 }],
      }),
    official: () =>
      official.recordRun({
        customerId: 'cus_1',
        workflow: 'summarise',
        status: 'COMPLETED',
        externalRunId: 'ext-2',
        correlationId: 'c',
        events: [{ eventType: 'llm.call', quantity: 1 }],
      }),
    normalise: (s, who) => {
      // DIFFERENCES.recordRunKeys: only ours sends idempotencyKey.
      const b = { ...(s.body as Record<string, unknown>) };
      if (who === 'ours') {
        expect(b.idempotencyKey).toMatch(/^rec_[a-z2-7]{16}_[0-9a-z]+$/);
        delete b.idempotencyKey;
      }
      return { ...s, body: b };
    },
  },
  {
    name: 'listEvents',
    ours: () =>
      ours.listEvents({
        customerId: 'cus_1',
        runId: 'run_1',
        eventType: 'x',
        outcome: 'SUCCEEDED',
        limit: 10,
        offset: 0,
      }),
    official: () =>
      official.listEvents({
        customerId: 'cus_1',
        runId: 'run_1',
        eventType: 'x',
        outcome: 'SUCCEEDED',
        limit: 10,
        offset: 0,
      } as never),
  },
  { name: 'getEvent', ours: () => ours.getEvent('evt_1'), official: () => official.getEvent('evt_1') },
  {
    name: 'createWebhook',
    ours: () =>
      ours.createWebhook({ url: 'https://example.com/h', events: ['charge.failed'], description: 'd' }),
    official: () =>
      official.createWebhook({
        url: 'https://example.com/h',
        events: ['charge.failed'],
        description: 'd',
      } as never),
  },
  { name: 'listWebhooks', ours: () => ours.listWebhooks(), official: () => official.listWebhooks() },
  { name: 'getWebhook', ours: () => ours.getWebhook('wh_1'), official: () => official.getWebhook('wh_1') },
  {
    name: 'updateWebhook',
    ours: () => ours.updateWebhook('wh_1', { isActive: false, description: 'x' }),
    official: () => official.updateWebhook('wh_1', { isActive: false, description: 'x' } as never),
  },
  {
    name: 'deleteWebhook',
    ours: () => ours.deleteWebhook('wh_1'),
    official: () => official.deleteWebhook('wh_1'),
  },
  { name: 'testWebhook', ours: () => ours.testWebhook('wh_1'), official: () => official.testWebhook('wh_1') },
  {
    name: 'rotateWebhookSecret',
    ours: () => ours.rotateWebhookSecret('wh_1'),
    official: () => official.rotateWebhookSecret('wh_1'),
  },
  {
    name: 'setCustomerSpendingCap',
    ours: () =>
      ours.setCustomerSpendingCap('cus_1', { capType: 'DAILY_CHARGE_LIMIT', limitValue: 5, autoBlock: true }),
    official: () =>
      official.setCustomerSpendingCap('cus_1', {
        capType: 'DAILY_CHARGE_LIMIT',
        limitValue: 5,
        autoBlock: true,
      } as never),
  },
  {
    name: 'getCustomerSpendingCaps',
    ours: () => ours.getCustomerSpendingCaps('cus_1'),
    official: () => official.getCustomerSpendingCaps('cus_1'),
  },
  {
    name: 'removeCustomerSpendingCap',
    ours: () => ours.removeCustomerSpendingCap('cus_1', 'cap_1'),
    official: () => official.removeCustomerSpendingCap('cus_1', 'cap_1'),
  },
  {
    name: 'checkEntitlement (quantity defaults to 1 in both)',
    ours: () => ours.checkEntitlement({ customerId: 'cus_1', featureKey: 'api_calls' }),
    official: () => official.checkEntitlement({ customerId: 'cus_1', featureKey: 'api_calls' }),
  },
];

describe('both clients send the same method, path, query and body', () => {
  for (const tc of sameCases) {
    it(tc.name, async () => {
      const a = await capture(tc.ours);
      const b = await capture(tc.official);
      expect(a.length).toBeGreaterThan(0);
      const norm = (list: Captured[], who: 'ours' | 'official') =>
        list.map((c) => (tc.normalise ? tc.normalise(shape(c), who) : shape(c)));
      expect(norm(a, 'ours')).toEqual(norm(b, 'official'));
    });
  }
});

describe('deliberate differences (each required by the spec)', () => {
  it(`autoKeyValues — ${DIFFERENCES.autoKeyValues}`, async () => {
    // Two real processes (as after a restart, or two instances) make the same first call.
    const firstKey = async (pkg: '@drip/core' | '@drip-sdk/node') => {
      const script = `const { Drip } = require(${JSON.stringify(require.resolve(pkg))});
        new Drip({ apiKey: ${JSON.stringify(KEY)}, baseUrl: ${JSON.stringify(base)} })
          .trackUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 })
          .then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`;
      const before = captured.length;
      await execFileAsync(process.execPath, ['-e', script], { timeout: 20_000 });
      const req = captured.slice(before).find((c) => c.path === '/v1/usage/internal');
      return (req!.body as { idempotencyKey: string }).idempotencyKey;
    };
    const o1 = await firstKey('@drip/core');
    const o2 = await firstKey('@drip/core');
    expect(o1).toMatch(/^track_[a-z2-7]{16}_1$/);
    expect(o1).not.toBe(o2); // a random per-process instance id
    const f1 = await firstKey('@drip-sdk/node');
    const f2 = await firstKey('@drip-sdk/node');
    expect(f1).toBe(f2); // the official client's keys repeat across processes (§9 row 1)
  });

  it(`startRunExternalId — ${DIFFERENCES.startRunExternalId}`, async () => {
    const [a] = await capture(() => ours.startRun({ customerId: 'cus_1', workflowId: 'wf_1' }));
    const [b] = await capture(() => official.startRun({ customerId: 'cus_1', workflowId: 'wf_1' }));
    expect((a!.body as { externalRunId: string }).externalRunId).toMatch(/^run_[a-z2-7]{16}_/);
    expect(b!.body).toEqual({ customerId: 'cus_1', workflowId: 'wf_1' });
  });

  it(`recordRunKeys — ${DIFFERENCES.recordRunKeys}`, async () => {
    const p = { customerId: 'cus_1', workflow: 'summarise', status: 'COMPLETED' as const, events: [] };
    const [a] = await capture(() => ours.recordRun(p));
    const [b] = await capture(() => official.recordRun(p));
    expect(a!.body).toMatchObject({
      externalRunId: expect.stringMatching(/^run_/),
      idempotencyKey: expect.stringMatching(/^rec_/),
    });
    expect(b!.body).not.toHaveProperty('externalRunId');
    expect(b!.body).not.toHaveProperty('idempotencyKey');
  });

  it(`batchItemKeys — ${DIFFERENCES.batchItemKeys}`, async () => {
    const items = [{ runId: 'run_1', eventType: 'x' }];
    const [a] = await capture(() => ours.emitEventsBatch(items));
    const [b] = await capture(() => official.emitEventsBatch(items));
    const key = (c: Captured) =>
      (c.body as { events: Array<{ idempotencyKey: string }> }).events[0]!.idempotencyKey;
    expect(key(a!)).toMatch(/^evt_[a-z2-7]{16}_/);
    expect(key(b!)).not.toMatch(/^evt_[a-z2-7]{16}_/);
  });

  it(`streamFlushKeys — ${DIFFERENCES.streamFlushKeys}`, async () => {
    const o = ours.createStreamMeter({ customerId: 'cus_1', meter: 'tokens', idempotencyKey: 'sm' });
    o.add(5);
    const [a] = await capture(() => o.flush());
    const f = official.createStreamMeter({ customerId: 'cus_1', meter: 'tokens', idempotencyKey: 'sm' });
    await f.add(5);
    const [b] = await capture(() => f.flush());
    expect({ ...(a!.body as object), idempotencyKey: undefined }).toEqual({
      ...(b!.body as object),
      idempotencyKey: undefined,
    });
    expect((a!.body as { idempotencyKey: string }).idempotencyKey).toBe('sm:flush:1');
    expect((b!.body as { idempotencyKey: string }).idempotencyKey).toBe('sm_flush_0');
  });

  it(`pathEncoding — ${DIFFERENCES.pathEncoding}`, async () => {
    const [a] = await capture(() => ours.getCustomer('a b'));
    const [b] = await capture(() => official.getCustomer('a b'));
    expect(a!.path).toBe('/v1/customers/a%20b');
    expect(b!.path).toBe('/v1/customers/a%20b'); // fetch encodes the space itself; a slash would not be
    const [c] = await capture(() => ours.getRun('x/y').catch(() => undefined));
    expect(c!.path).toBe('/v1/runs/x%2Fy');
    const [d] = await capture(() => official.getRun('x/y').catch(() => undefined));
    expect(d!.path).toBe('/v1/runs/x/y');
  });

  it(`headers — ${DIFFERENCES.headers}`, async () => {
    const [a] = await capture(() => ours.getCustomer('cus_1'));
    const [b] = await capture(() => official.getCustomer('cus_1'));
    expect(a!.headers.authorization).toBe(b!.headers.authorization);
    expect(a!.headers['x-drip-client']).toMatch(/^@drip\/core@[\d.]+; runtime=node\//);
    expect(a!.headers['user-agent']).toBe(a!.headers['x-drip-client']);
    expect(a!.headers['content-type']).toBeUndefined();
    expect(a!.headers.accept).toBe('application/json');
    expect(b!.headers['x-drip-client']).toBeUndefined();
    expect(b!.headers['content-type']).toBe('application/json');
  });

  it(`getOrCreateLookup — ${DIFFERENCES.getOrCreateLookup}`, async () => {
    const a = await capture(() => ours.getOrCreateCustomer('dup_without_id'));
    const b = await capture(() => official.getOrCreateCustomer('dup_without_id'));
    expect(a.map((c) => `${c.method} ${c.path} ${JSON.stringify(c.query)}`)).toEqual([
      'POST /v1/customers {}',
      'GET /v1/customers {"limit":"100","externalCustomerId":"dup_without_id"}',
    ]);
    expect(b.map((c) => `${c.method} ${c.path} ${JSON.stringify(c.query)}`)).toEqual([
      'POST /v1/customers {}',
      'GET /v1/customers {"limit":"100"}',
      'GET /v1/customers/cus_1 {}',
    ]);
  });

  it(`listCustomersFilters — ${DIFFERENCES.listCustomersFilters}`, async () => {
    const [a] = await capture(() => ours.listCustomers({ isInternal: true, externalCustomerId: 'u' }));
    const [b] = await capture(() =>
      official.listCustomers({ isInternal: true, externalCustomerId: 'u' } as never),
    );
    expect(a!.query).toEqual({ isInternal: 'true', externalCustomerId: 'u' });
    expect(b!.query).toEqual({});
  });

  it(`chargeUnits — ${DIFFERENCES.chargeUnits}`, async () => {
    const p = {
      customerId: 'cus_1',
      meter: 'api_calls',
      quantity: 1,
      idempotencyKey: 'u1',
      units: 'req',
      description: 'd',
    };
    const [a] = await capture(() => ours.charge(p));
    const [b] = await capture(() => official.charge(p as never));
    expect(a!.body).toMatchObject({ units: 'req', description: 'd' });
    expect(b!.body).not.toHaveProperty('units');
  });
});
