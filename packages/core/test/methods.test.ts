import { describe, expect, it } from 'vitest';
import { Drip, getResponseMeta } from '../src/client';
import { DripConflictError, type DripError, DripPermissionError, isDripError } from '../src/errors';
import { BASE, PK, makeClient } from './helpers';

const NOW = '2026-03-01T12:00:00.000Z';
const customer = {
  id: 'cus_1',
  businessId: 'prj_1',
  externalCustomerId: 'user_42',
  onchainAddress: null,
  email: null,
  name: null,
  isInternal: false,
  status: 'ACTIVE',
  metadata: null,
  createdAt: NOW,
  updatedAt: NOW,
};
const chargeRow = {
  id: 'chg_1',
  usageId: 'use_1',
  customerId: 'cus_1',
  customer: { id: 'cus_1', onchainAddress: null, externalCustomerId: 'user_42' },
  usageEvent: { id: 'use_1', type: 'api_calls', quantity: '1.000000', metadata: null, createdAt: NOW },
  amountUsdc: '0.001000',
  amountToken: '1000',
  txHash: null,
  blockNumber: null,
  status: 'CONFIRMED',
  failureReason: null,
  createdAt: NOW,
  confirmedAt: NOW,
};
const workflow = {
  id: 'wf_1',
  name: 'Summarise',
  slug: 'summarise',
  productSurface: 'AGENT',
  chain: null,
  description: null,
  metadata: null,
  isActive: true,
  createdAt: NOW,
  updatedAt: NOW,
};
const webhook = {
  id: 'wh_1',
  url: 'https://example.com/hook',
  events: ['charge.failed'],
  description: null,
  filters: null,
  isActive: true,
  healthStatus: 'HEALTHY',
  consecutiveFailures: 0,
  lastHealthChange: null,
  createdAt: NOW,
  updatedAt: NOW,
  stats: { total: 0, delivered: 0, failed: 0, pending: 0 },
};
const apiKey = {
  id: 'key_1',
  name: 'ci',
  mode: 'test',
  publicKey: 'pk_test_x',
  secretKeyHint: 'sk_test_…9fQ2',
  createdAt: NOW,
};

interface Case {
  name: string;
  call: (c: Drip) => Promise<unknown>;
  method: string;
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  reply: { status: number; body?: unknown };
  expected: unknown;
}

const cases: Case[] = [
  {
    name: 'createCustomer',
    call: (c) =>
      c.createCustomer({ externalCustomerId: 'user_42', email: 'a@b.co', metadata: { plan: 'pro' } }),
    method: 'POST',
    path: '/v1/customers',
    body: { externalCustomerId: 'user_42', email: 'a@b.co', metadata: { plan: 'pro' } },
    reply: {
      status: 201,
      body: { ...customer, provisioningStatus: 'skipped', fundingRequired: false, _warnings: [] },
    },
    expected: { ...customer, provisioningStatus: 'skipped', fundingRequired: false, _warnings: [] },
  },
  {
    name: 'getCustomer (id is URL-encoded)',
    call: (c) => c.getCustomer('cus/1 2'),
    method: 'GET',
    path: '/v1/customers/cus%2F1%202',
    reply: { status: 200, body: customer },
    expected: customer,
  },
  {
    name: 'listCustomers',
    call: (c) =>
      c.listCustomers({
        limit: 10,
        offset: 20,
        status: 'ACTIVE',
        isInternal: false,
        externalCustomerId: 'u',
      }),
    method: 'GET',
    path: '/v1/customers',
    query: { limit: '10', offset: '20', status: 'ACTIVE', isInternal: 'false', externalCustomerId: 'u' },
    reply: { status: 200, body: { data: [customer], count: 1 } },
    expected: { data: [customer], count: 1 },
  },
  {
    name: 'getBalance',
    call: (c) => c.getBalance('cus_1'),
    method: 'GET',
    path: '/v1/customers/cus_1/balance',
    reply: {
      status: 200,
      body: {
        customerId: 'cus_1',
        balanceUsdc: '100.000000',
        pendingChargesUsdc: '0.000000',
        availableUsdc: '100.000000',
      },
    },
    expected: {
      customerId: 'cus_1',
      balanceUsdc: '100.000000',
      pendingChargesUsdc: '0.000000',
      availableUsdc: '100.000000',
    },
  },
  {
    name: 'getBalance (hosted variant: 2 decimals, lastSyncedAt)',
    call: (c) => c.getBalance('cus_1'),
    method: 'GET',
    path: '/v1/customers/cus_1/balance',
    reply: {
      status: 200,
      body: {
        customerId: 'cus_1',
        onchainAddress: '0xabc',
        balanceUsdc: '5.5',
        pendingChargesUsdc: '0.25',
        availableUsdc: '5.25',
        lastSyncedAt: NOW,
      },
    },
    expected: {
      customerId: 'cus_1',
      onchainAddress: '0xabc',
      balanceUsdc: '5.5',
      pendingChargesUsdc: '0.25',
      availableUsdc: '5.25',
      lastSyncedAt: NOW,
    },
  },
  {
    name: 'trackUsage sync',
    call: (c) =>
      c.trackUsage({
        customerId: 'cus_1',
        meter: 'llm_tokens',
        quantity: 842,
        units: 'tokens',
        description: 'd',
        metadata: { m: 1 },
      }),
    method: 'POST',
    path: '/v1/usage/internal',
    body: {
      customerId: 'cus_1',
      usageType: 'llm_tokens',
      quantity: 842,
      units: 'tokens',
      description: 'd',
      metadata: { m: 1 },
      idempotencyKey: 'track_testinst_1',
    },
    reply: {
      status: 201,
      body: {
        success: true,
        usageEventId: 'use_1',
        customerId: 'cus_1',
        usageType: 'llm_tokens',
        quantity: 842,
        isInternal: true,
        message: 'ok',
        isDuplicate: false,
      },
    },
    expected: {
      success: true,
      usageEventId: 'use_1',
      customerId: 'cus_1',
      usageType: 'llm_tokens',
      quantity: 842,
      isInternal: true,
      message: 'ok',
      isDuplicate: false,
      idempotencyKey: 'track_testinst_1',
    },
  },
  {
    name: 'trackUsage batch with externalCustomerId and own key',
    call: (c) =>
      c.trackUsage({
        externalCustomerId: 'user_42',
        meter: 'api_calls',
        quantity: 1,
        idempotencyKey: 'k-1',
        mode: 'batch',
      }),
    method: 'POST',
    path: '/v1/usage/internal/batch',
    body: { externalCustomerId: 'user_42', usageType: 'api_calls', quantity: 1, idempotencyKey: 'k-1' },
    reply: {
      status: 202,
      body: {
        success: true,
        customerId: 'cus_1',
        usageType: 'api_calls',
        quantity: 1,
        idempotencyKey: 'k-1',
        pendingEvents: 0,
        message: 'queued',
      },
    },
    expected: {
      success: true,
      customerId: 'cus_1',
      usageType: 'api_calls',
      quantity: 1,
      idempotencyKey: 'k-1',
      pendingEvents: 0,
      message: 'queued',
      mode: 'batch',
    },
  },
  {
    name: 'charge',
    call: (c) => c.charge({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 }),
    method: 'POST',
    path: '/v1/usage',
    body: { customerId: 'cus_1', usageType: 'api_calls', quantity: 1, idempotencyKey: 'chg_testinst_1' },
    reply: {
      status: 201,
      body: {
        success: true,
        usageEventId: 'use_1',
        isDuplicate: false,
        charge: {
          id: 'chg_1',
          amountUsdc: '0.001000',
          amountToken: '1000',
          txHash: null,
          status: 'CONFIRMED',
        },
      },
    },
    expected: {
      success: true,
      usageEventId: 'use_1',
      isDuplicate: false,
      charge: { id: 'chg_1', amountUsdc: '0.001000', amountToken: '1000', txHash: null, status: 'CONFIRMED' },
      idempotencyKey: 'chg_testinst_1',
    },
  },
  {
    name: 'charge (internal customer: charge null, hosted auto-promotion fields)',
    call: (c) => c.charge({ customerId: 'cus_1', meter: 'api_calls', quantity: 2 }),
    method: 'POST',
    path: '/v1/usage',
    body: { customerId: 'cus_1', usageType: 'api_calls', quantity: 2, idempotencyKey: 'chg_testinst_1' },
    reply: {
      status: 201,
      body: {
        success: true,
        usageEventId: 'use_2',
        isDuplicate: true,
        charge: null,
        mode: 'internal',
        autoPromoted: true,
        reason: 'INTERNAL_CUSTOMER',
      },
    },
    expected: {
      success: true,
      usageEventId: 'use_2',
      isDuplicate: true,
      charge: null,
      mode: 'internal',
      autoPromoted: true,
      reason: 'INTERNAL_CUSTOMER',
      idempotencyKey: 'chg_testinst_1',
    },
  },
  {
    name: 'chargeAsync',
    call: (c) => c.chargeAsync({ customerId: 'cus_1', meter: 'api_calls', quantity: 3 }),
    method: 'POST',
    path: '/v1/usage/async',
    body: { customerId: 'cus_1', usageType: 'api_calls', quantity: 3, idempotencyKey: 'chga_testinst_1' },
    reply: {
      status: 202,
      body: {
        success: true,
        usageEventId: 'use_3',
        isDuplicate: false,
        charge: { id: 'chg_3', amountUsdc: '0.003000', status: 'PENDING' },
        message: 'queued',
      },
    },
    expected: {
      success: true,
      usageEventId: 'use_3',
      isDuplicate: false,
      charge: { id: 'chg_3', amountUsdc: '0.003000', status: 'PENDING' },
      message: 'queued',
      idempotencyKey: 'chga_testinst_1',
    },
  },
  {
    name: 'getCharge',
    call: (c) => c.getCharge('chg_1'),
    method: 'GET',
    path: '/v1/charges/chg_1',
    reply: { status: 200, body: chargeRow },
    expected: chargeRow,
  },
  {
    name: 'listCharges',
    call: (c) => c.listCharges({ customerId: 'cus_1', status: 'CONFIRMED', limit: 5 }),
    method: 'GET',
    path: '/v1/charges',
    query: { customerId: 'cus_1', status: 'CONFIRMED', limit: '5' },
    reply: { status: 200, body: { data: [chargeRow], count: 1, hasMore: false } },
    expected: { data: [chargeRow], count: 1, hasMore: false },
  },
  {
    name: 'createWorkflow',
    call: (c) => c.createWorkflow({ name: 'Summarise', slug: 'summarise', productSurface: 'AGENT' }),
    method: 'POST',
    path: '/v1/workflows',
    body: { name: 'Summarise', slug: 'summarise', productSurface: 'AGENT' },
    reply: { status: 201, body: workflow },
    expected: workflow,
  },
  {
    name: 'listWorkflows',
    call: (c) => c.listWorkflows({ productSurface: 'AGENT', isActive: true }),
    method: 'GET',
    path: '/v1/workflows',
    query: { productSurface: 'AGENT', isActive: 'true' },
    reply: { status: 200, body: { data: [{ ...workflow, runCount: 3 }], count: 1 } },
    expected: { data: [{ ...workflow, runCount: 3 }], count: 1 },
  },
  {
    name: 'startRun (externalRunId generated)',
    call: (c) => c.startRun({ customerId: 'cus_1', workflowId: 'wf_1', correlationId: 'trace-1' }),
    method: 'POST',
    path: '/v1/runs',
    body: {
      customerId: 'cus_1',
      workflowId: 'wf_1',
      externalRunId: 'run_testinst_1',
      correlationId: 'trace-1',
    },
    reply: {
      status: 201,
      body: {
        id: 'run_1',
        customerId: 'cus_1',
        workflowId: 'wf_1',
        workflowName: 'Summarise',
        status: 'PENDING',
        correlationId: 'trace-1',
        createdAt: NOW,
      },
    },
    expected: {
      id: 'run_1',
      customerId: 'cus_1',
      workflowId: 'wf_1',
      workflowName: 'Summarise',
      status: 'PENDING',
      correlationId: 'trace-1',
      createdAt: NOW,
      externalRunId: 'run_testinst_1',
    },
  },
  {
    name: 'emitEvent (schema-flexible fields pass through)',
    call: (c) =>
      c.emitEvent({
        runId: 'run_1',
        eventType: 'llm.call',
        model: 'gpt-4',
        inputTokens: 500,
        outputTokens: 1200,
        custom: { a: [1] },
      }),
    method: 'POST',
    path: '/v1/run-events',
    body: {
      runId: 'run_1',
      eventType: 'llm.call',
      model: 'gpt-4',
      inputTokens: 500,
      outputTokens: 1200,
      custom: { a: [1] },
      idempotencyKey: 'evt_testinst_1',
    },
    reply: {
      status: 201,
      body: {
        id: 'evt_1',
        runId: 'run_1',
        eventType: 'llm.call',
        quantity: 1,
        isDuplicate: false,
        timestamp: NOW,
      },
    },
    expected: {
      id: 'evt_1',
      runId: 'run_1',
      eventType: 'llm.call',
      quantity: 1,
      isDuplicate: false,
      timestamp: NOW,
      idempotencyKey: 'evt_testinst_1',
    },
  },
  {
    name: 'emitEventsBatch',
    call: (c) =>
      c.emitEventsBatch([
        { runId: 'run_1', eventType: 'tool.call', name: 'web-search', duration: 1500 },
        { customerId: 'cus_1', eventType: 'x', idempotencyKey: 'mine' },
      ]),
    method: 'POST',
    path: '/v1/run-events/batch',
    body: {
      events: [
        {
          runId: 'run_1',
          eventType: 'tool.call',
          name: 'web-search',
          duration: 1500,
          idempotencyKey: 'evt_testinst_1',
        },
        { customerId: 'cus_1', eventType: 'x', idempotencyKey: 'mine' },
      ],
    },
    reply: {
      status: 201,
      body: {
        success: true,
        created: 1,
        duplicates: 0,
        skipped: 1,
        events: [
          { id: 'evt_1', eventType: 'tool.call', isDuplicate: false },
          { id: null, eventType: 'x', isDuplicate: false, skipped: true, reason: 'CUSTOMER_NOT_FOUND' },
        ],
      },
    },
    expected: {
      success: true,
      created: 1,
      duplicates: 0,
      skipped: 1,
      events: [
        { id: 'evt_1', eventType: 'tool.call', isDuplicate: false },
        { id: null, eventType: 'x', isDuplicate: false, skipped: true, reason: 'CUSTOMER_NOT_FOUND' },
      ],
    },
  },
  {
    name: 'endRun',
    call: (c) => c.endRun('run_1', { status: 'FAILED', errorMessage: 'boom', errorCode: 'E1' }),
    method: 'PATCH',
    path: '/v1/runs/run_1',
    body: { status: 'FAILED', errorMessage: 'boom', errorCode: 'E1' },
    reply: {
      status: 200,
      body: {
        id: 'run_1',
        status: 'FAILED',
        startedAt: NOW,
        endedAt: NOW,
        durationMs: 5,
        eventCount: 2,
        totalCostUnits: '0.5',
      },
    },
    expected: {
      id: 'run_1',
      status: 'FAILED',
      startedAt: NOW,
      endedAt: NOW,
      durationMs: 5,
      eventCount: 2,
      totalCostUnits: '0.5',
    },
  },
  {
    name: 'getRun',
    call: (c) => c.getRun('run_1'),
    method: 'GET',
    path: '/v1/runs/run_1',
    reply: {
      status: 200,
      body: {
        id: 'run_1',
        customerId: 'cus_1',
        workflowId: 'wf_1',
        workflowName: 'S',
        status: 'COMPLETED',
        totals: { eventCount: 1, totalQuantity: '1', totalCostUnits: '0' },
        _links: { timeline: '/runs/run_1/timeline' },
      },
    },
    expected: {
      id: 'run_1',
      customerId: 'cus_1',
      workflowId: 'wf_1',
      workflowName: 'S',
      status: 'COMPLETED',
      totals: { eventCount: 1, totalQuantity: '1', totalCostUnits: '0' },
      _links: { timeline: '/runs/run_1/timeline' },
    },
  },
  {
    name: 'listRuns',
    call: (c) => c.listRuns({ customerId: 'cus_1', status: 'FAILED', from: NOW, limit: 2 }),
    method: 'GET',
    path: '/v1/runs',
    query: { customerId: 'cus_1', status: 'FAILED', from: NOW, limit: '2' },
    reply: {
      status: 200,
      body: {
        data: [
          {
            id: 'run_1',
            customerId: 'cus_1',
            workflowId: 'wf_1',
            status: 'FAILED',
            eventCount: 0,
            createdAt: NOW,
          },
        ],
        count: 1,
      },
    },
    expected: {
      data: [
        {
          id: 'run_1',
          customerId: 'cus_1',
          workflowId: 'wf_1',
          status: 'FAILED',
          eventCount: 0,
          createdAt: NOW,
        },
      ],
      count: 1,
    },
  },
  {
    name: 'getRunTimeline (hosted variant without hasMore/nextCursor is normalised)',
    call: (c) => c.getRunTimeline('run_1', { limit: 200, includeAnomalies: false }),
    method: 'GET',
    path: '/v1/runs/run_1/timeline',
    query: { limit: '200', includeAnomalies: 'false' },
    reply: {
      status: 200,
      body: {
        runId: 'run_1',
        customerId: 'cus_1',
        status: 'COMPLETED',
        events: [],
        summary: { totalEvents: 0 },
      },
    },
    expected: {
      runId: 'run_1',
      customerId: 'cus_1',
      status: 'COMPLETED',
      events: [],
      anomalies: [],
      summary: { totalEvents: 0 },
      hasMore: false,
      nextCursor: null,
    },
  },
  {
    name: 'recordRun',
    call: (c) =>
      c.recordRun({
        customerId: 'cus_1',
        workflow: 'summarise',
        status: 'COMPLETED',
        events: [{ eventType: 'llm.call', model: 'gpt-4', inputTokens: 5 }],
      }),
    method: 'POST',
    path: '/v1/runs/record',
    body: {
      customerId: 'cus_1',
      workflow: 'summarise',
      status: 'COMPLETED',
      events: [{ eventType: 'llm.call', model: 'gpt-4', inputTokens: 5 }],
      externalRunId: 'run_testinst_1',
      idempotencyKey: 'rec_testinst_2',
    },
    reply: {
      status: 201,
      body: {
        run: {
          id: 'run_1',
          workflowId: 'wf_1',
          workflowName: 'Summarise',
          status: 'COMPLETED',
          durationMs: 0,
        },
        events: { created: 1, duplicates: 0 },
        totalCostUnits: null,
        summary: 'ok',
        isDuplicate: false,
      },
    },
    expected: {
      run: { id: 'run_1', workflowId: 'wf_1', workflowName: 'Summarise', status: 'COMPLETED', durationMs: 0 },
      events: { created: 1, duplicates: 0 },
      totalCostUnits: null,
      summary: 'ok',
      isDuplicate: false,
    },
  },
  {
    name: 'listEvents (hosted shape: pagination object only)',
    call: (c) => c.listEvents({ runId: 'run_1', limit: 1 }),
    method: 'GET',
    path: '/v1/events',
    query: { runId: 'run_1', limit: '1' },
    reply: {
      status: 200,
      body: {
        data: [
          { id: 'evt_1', customerId: 'cus_1', eventType: 'USAGE', outcome: 'SUCCEEDED', createdAt: NOW },
        ],
        pagination: { total: 7, limit: 1, offset: 0, hasMore: true },
      },
    },
    expected: {
      data: [{ id: 'evt_1', customerId: 'cus_1', eventType: 'USAGE', outcome: 'SUCCEEDED', createdAt: NOW }],
      total: 7,
      limit: 1,
      offset: 0,
      hasMore: true,
    },
  },
  {
    name: 'listEvents (official-client shape: top-level fields only)',
    call: (c) => c.listEvents({ offset: 2 }),
    method: 'GET',
    path: '/v1/events',
    query: { offset: '2' },
    reply: { status: 200, body: { data: [], total: 2, limit: 50, offset: 2 } },
    expected: { data: [], total: 2, limit: 50, offset: 2, hasMore: false },
  },
  {
    name: 'getEvent',
    call: (c) => c.getEvent('evt_1'),
    method: 'GET',
    path: '/v1/events/evt_1',
    reply: {
      status: 200,
      body: {
        id: 'evt_1',
        customerId: 'cus_1',
        eventType: 'llm.call',
        outcome: 'SUCCEEDED',
        createdAt: NOW,
        childEvents: [],
        attributes: { model: 'gpt-4' },
      },
    },
    expected: {
      id: 'evt_1',
      customerId: 'cus_1',
      eventType: 'llm.call',
      outcome: 'SUCCEEDED',
      createdAt: NOW,
      childEvents: [],
      attributes: { model: 'gpt-4' },
    },
  },
  {
    name: 'createWebhook',
    call: (c) =>
      c.createWebhook({
        url: 'https://example.com/hook',
        events: ['charge.failed'],
        filters: { customerIds: ['cus_1'] },
      }),
    method: 'POST',
    path: '/v1/webhooks',
    body: { url: 'https://example.com/hook', events: ['charge.failed'], filters: { customerIds: ['cus_1'] } },
    reply: { status: 201, body: { ...webhook, secret: `whsec_${'a'.repeat(64)}`, message: 'created' } },
    expected: { ...webhook, secret: `whsec_${'a'.repeat(64)}`, message: 'created' },
  },
  {
    name: 'listWebhooks',
    call: (c) => c.listWebhooks(),
    method: 'GET',
    path: '/v1/webhooks',
    reply: { status: 200, body: { data: [webhook], count: 1 } },
    expected: { data: [webhook], count: 1 },
  },
  {
    name: 'getWebhook',
    call: (c) => c.getWebhook('wh_1'),
    method: 'GET',
    path: '/v1/webhooks/wh_1',
    reply: { status: 200, body: webhook },
    expected: webhook,
  },
  {
    name: 'updateWebhook (filters: null clears)',
    call: (c) => c.updateWebhook('wh_1', { isActive: false, filters: null }),
    method: 'PATCH',
    path: '/v1/webhooks/wh_1',
    body: { isActive: false, filters: null },
    reply: { status: 200, body: { ...webhook, isActive: false } },
    expected: { ...webhook, isActive: false },
  },
  {
    name: 'deleteWebhook (204 becomes success)',
    call: (c) => c.deleteWebhook('wh_1'),
    method: 'DELETE',
    path: '/v1/webhooks/wh_1',
    reply: { status: 204 },
    expected: { success: true },
  },
  {
    name: 'testWebhook (inactive: NOT_SENT, no deliveryId field)',
    call: (c) => c.testWebhook('wh_1'),
    method: 'POST',
    path: '/v1/webhooks/wh_1/test',
    reply: { status: 200, body: { message: 'inactive', status: 'NOT_SENT' } },
    expected: { message: 'inactive', status: 'NOT_SENT', deliveryId: null },
  },
  {
    name: 'rotateWebhookSecret',
    call: (c) => c.rotateWebhookSecret('wh_1'),
    method: 'POST',
    path: '/v1/webhooks/wh_1/rotate-secret',
    reply: { status: 200, body: { secret: 'whsec_new', message: 'rotated', previousSecretExpiresAt: NOW } },
    expected: { secret: 'whsec_new', message: 'rotated', previousSecretExpiresAt: NOW },
  },
  {
    name: 'listWebhookDeliveries',
    call: (c) => c.listWebhookDeliveries('wh_1', { status: 'FAILED', limit: 3 }),
    method: 'GET',
    path: '/v1/webhooks/wh_1/deliveries',
    query: { status: 'FAILED', limit: '3' },
    reply: {
      status: 200,
      body: {
        data: [
          { id: 'whd_1', eventId: 'whe_1', eventType: 'x', status: 'FAILED', attempts: 9, createdAt: NOW },
        ],
        count: 1,
      },
    },
    expected: {
      data: [
        { id: 'whd_1', eventId: 'whe_1', eventType: 'x', status: 'FAILED', attempts: 9, createdAt: NOW },
      ],
      count: 1,
    },
  },
  {
    name: 'setCustomerSpendingCap',
    call: (c) =>
      c.setCustomerSpendingCap('cus_1', { capType: 'DAILY_CHARGE_LIMIT', limitValue: 25, autoBlock: false }),
    method: 'PUT',
    path: '/v1/customers/cus_1/spending-cap',
    body: { capType: 'DAILY_CHARGE_LIMIT', limitValue: 25, autoBlock: false },
    reply: {
      status: 200,
      body: {
        id: 'cap_1',
        capType: 'DAILY_CHARGE_LIMIT',
        limitValue: '25.000000',
        currentUsage: '0.000000',
        periodStart: NOW,
        isActive: true,
        autoBlock: false,
        lastAlertLevel: null,
      },
    },
    expected: {
      id: 'cap_1',
      capType: 'DAILY_CHARGE_LIMIT',
      limitValue: '25.000000',
      currentUsage: '0.000000',
      periodStart: NOW,
      isActive: true,
      autoBlock: false,
      lastAlertLevel: null,
    },
  },
  {
    name: 'getCustomerSpendingCaps',
    call: (c) => c.getCustomerSpendingCaps('cus_1'),
    method: 'GET',
    path: '/v1/customers/cus_1/spending-caps',
    reply: { status: 200, body: { caps: [] } },
    expected: { caps: [] },
  },
  {
    name: 'removeCustomerSpendingCap',
    call: (c) => c.removeCustomerSpendingCap('cus_1', 'cap_1'),
    method: 'DELETE',
    path: '/v1/customers/cus_1/spending-caps/cap_1',
    reply: { status: 200, body: { success: true } },
    expected: { success: true },
  },
  {
    name: 'checkEntitlement (quantity defaults to 1 on the wire)',
    call: (c) => c.checkEntitlement({ customerId: 'cus_1', featureKey: 'api_calls' }),
    method: 'POST',
    path: '/v1/entitlements/check',
    body: { customerId: 'cus_1', featureKey: 'api_calls', quantity: 1 },
    reply: {
      status: 200,
      body: {
        allowed: false,
        featureKey: 'api_calls',
        remaining: 0,
        limit: 100,
        unlimited: false,
        period: 'DAILY',
        periodResetsAt: NOW,
        reason: 'LIMIT',
      },
    },
    expected: {
      allowed: false,
      featureKey: 'api_calls',
      remaining: 0,
      limit: 100,
      unlimited: false,
      period: 'DAILY',
      periodResetsAt: NOW,
      reason: 'LIMIT',
    },
  },
  {
    name: 'createApiKey',
    call: (c) => c.createApiKey({ name: 'ci' }),
    method: 'POST',
    path: '/v1/api-keys',
    body: { name: 'ci' },
    reply: { status: 201, body: { ...apiKey, secretKey: 'sk_test_secret', message: 'shown once' } },
    expected: { ...apiKey, secretKey: 'sk_test_secret', message: 'shown once' },
  },
  {
    name: 'listApiKeys',
    call: (c) => c.listApiKeys({ limit: 10 }),
    method: 'GET',
    path: '/v1/api-keys',
    query: { limit: '10' },
    reply: { status: 200, body: { data: [apiKey], count: 1 } },
    expected: { data: [apiKey], count: 1 },
  },
  {
    name: 'rotateApiKey',
    call: (c) => c.rotateApiKey('key_1', { gracePeriodHours: 1 }),
    method: 'POST',
    path: '/v1/api-keys/key_1/rotate',
    body: { gracePeriodHours: 1 },
    reply: {
      status: 200,
      body: {
        id: 'key_1',
        publicKey: 'pk_test_x',
        secretKey: 'sk_test_new',
        previousSecretKeyExpiresAt: NOW,
        message: 'm',
      },
    },
    expected: {
      id: 'key_1',
      publicKey: 'pk_test_x',
      secretKey: 'sk_test_new',
      previousSecretKeyExpiresAt: NOW,
      message: 'm',
    },
  },
  {
    name: 'revokeApiKey',
    call: (c) => c.revokeApiKey('key_1'),
    method: 'POST',
    path: '/v1/api-keys/key_1/revoke',
    reply: { status: 200, body: { ...apiKey, revokedAt: NOW } },
    expected: { ...apiKey, revokedAt: NOW },
  },
];

describe('each method sends the exact request and parses the result', () => {
  for (const tc of cases) {
    it(tc.name, async () => {
      const { client, calls } = makeClient([tc.reply]);
      const result = await tc.call(client);
      expect(calls).toHaveLength(1);
      const req = calls[0]!;
      expect(req.method).toBe(tc.method);
      expect(req.path).toBe(tc.path);
      expect(req.query).toEqual(tc.query ?? {});
      expect(req.body).toEqual(tc.body);
      expect(req.headers.authorization).toBe('Bearer sk_test_abcdefghijklmnop');
      expect(req.headers.accept).toBe('application/json');
      expect(req.headers['x-drip-client']).toMatch(/^@drip\/core@\d+\.\d+\.\d+; runtime=node\/\d+/);
      expect(req.headers['user-agent']).toBe(req.headers['x-drip-client']);
      if (tc.body === undefined) expect(req.headers['content-type']).toBeUndefined();
      else expect(req.headers['content-type']).toBe('application/json');
      expect(result).toEqual(tc.expected);
      if (tc.reply.status !== 204) expect(getResponseMeta(result)?.requestId).toBe('req_1');
    });
  }
});

describe('ping', () => {
  it('GET /health at the origin; ok only for 2xx + healthy; never retried', async () => {
    const { client, calls } = makeClient([
      { status: 200, body: { status: 'healthy', timestamp: 123, version: '1', server: 'drip-local' } },
    ]);
    expect(await client.ping()).toEqual({ ok: true, status: 'healthy', latencyMs: 0, timestamp: 123 });
    expect(calls[0]!.url).toBe('http://127.0.0.1:3001/health');
    expect(calls[0]!.headers.authorization).toBe('Bearer sk_test_abcdefghijklmnop');

    const down = makeClient([{ status: 503, body: { status: 'unhealthy', timestamp: 5, error: 'db' } }]);
    expect(await down.client.ping()).toEqual({ ok: false, status: 'unhealthy', latencyMs: 0, timestamp: 5 });
    expect(down.calls).toHaveLength(1);

    const odd = makeClient([{ status: 200, body: { status: 'degraded', timestamp: 5 } }]);
    expect((await odd.client.ping()).ok).toBe(false);
  });
});

describe('X-Drip-Client with an adapter', () => {
  it('adds ; adapter=... before the runtime', async () => {
    const { client, calls } = makeClient([{ status: 200, body: customer }], {
      sdk: { adapter: '@drip/express@0.1.0' },
    });
    await client.getCustomer('cus_1');
    expect(calls[0]!.headers['x-drip-client']).toMatch(
      /^@drip\/core@[\d.]+; adapter=@drip\/express@0\.1\.0; runtime=node\//,
    );
  });
});

describe('result checks (PARSE_ERROR)', () => {
  const bad: Array<[string, (c: Drip) => Promise<unknown>, unknown]> = [
    ['customer without id', (c) => c.getCustomer('cus_1'), { name: 'x' }],
    ['charge with a numeric amount', (c) => c.getCharge('chg_1'), { ...chargeRow, amountUsdc: 0.001 }],
    ['charge amount with 7 decimals', (c) => c.getCharge('chg_1'), { ...chargeRow, amountUsdc: '0.0010000' }],
    ['balance as number', (c) => c.getBalance('cus_1'), { customerId: 'cus_1', balanceUsdc: 100 }],
    ['list without data array', (c) => c.listCustomers(), { customers: [] }],
    [
      'usage result without usageEventId',
      (c) => c.trackUsage({ customerId: 'c', meter: 'm', quantity: 1 }),
      { success: true },
    ],
    [
      'charge info without status',
      (c) => c.charge({ customerId: 'c', meter: 'm', quantity: 1 }),
      { success: true, usageEventId: 'u', charge: { id: 'x', amountUsdc: '1.0' } },
    ],
    ['run without status', (c) => c.getRun('run_1'), { id: 'run_1' }],
    ['array instead of object', (c) => c.getWebhook('wh_1'), [webhook]],
  ];
  for (const [name, call, body] of bad) {
    it(name, async () => {
      const { client, calls } = makeClient([{ status: 200, body }]);
      const err = await call(client).catch((e: unknown) => e);
      expect(isDripError(err)).toBe(true);
      expect((err as DripError).code).toBe('PARSE_ERROR');
      expect((err as DripError).statusCode).toBe(200);
      expect(calls).toHaveLength(1); // never retried
    });
  }
  it('a non-JSON 2xx body is PARSE_ERROR', async () => {
    const { client } = makeClient([{ status: 200, text: '<html>ok</html>' }]);
    await expect(client.getCustomer('cus_1')).rejects.toMatchObject({ code: 'PARSE_ERROR', statusCode: 200 });
  });
});

describe('public key guard (spec §6)', () => {
  const secretOnly: Array<[string, (c: Drip) => Promise<unknown>]> = [
    ['createWebhook', (c) => c.createWebhook({ url: 'https://e.com', events: ['*'] })],
    ['listWebhooks', (c) => c.listWebhooks()],
    ['getWebhook', (c) => c.getWebhook('wh_1')],
    ['updateWebhook', (c) => c.updateWebhook('wh_1', { isActive: true })],
    ['deleteWebhook', (c) => c.deleteWebhook('wh_1')],
    ['testWebhook', (c) => c.testWebhook('wh_1')],
    ['rotateWebhookSecret', (c) => c.rotateWebhookSecret('wh_1')],
    ['listWebhookDeliveries', (c) => c.listWebhookDeliveries('wh_1')],
    ['createApiKey', (c) => c.createApiKey({ name: 'x' })],
    ['listApiKeys', (c) => c.listApiKeys()],
    ['rotateApiKey', (c) => c.rotateApiKey('key_1')],
    ['revokeApiKey', (c) => c.revokeApiKey('key_1')],
    ['request() to /webhooks', (c) => c.request('GET', '/webhooks')],
  ];
  for (const [name, call] of secretOnly) {
    it(`${name} with pk_ throws 403 PUBLIC_KEY_NOT_ALLOWED and sends nothing`, async () => {
      const { client, calls } = makeClient([{ status: 200, body: {} }], { apiKey: PK });
      const err = await call(client).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DripPermissionError);
      expect(err).toMatchObject({ statusCode: 403, code: 'PUBLIC_KEY_NOT_ALLOWED' });
      expect(calls).toHaveLength(0);
    });
  }
  it('pk_ keys still send customer, usage and run calls', async () => {
    const { client, calls } = makeClient([{ status: 200, body: customer }], { apiKey: PK });
    await client.getCustomer('cus_1');
    expect(calls).toHaveLength(1);
    expect(client.keyType).toBe('public');
    expect(client.mode).toBe('test');
  });
});

describe('keyType, mode, configuration', () => {
  it('derives key type and mode', () => {
    expect(new Drip({ apiKey: 'sk_live_0123456789', baseUrl: BASE })).toMatchObject({
      keyType: 'secret',
      mode: 'live',
    });
    expect(new Drip({ apiKey: 'pk_test_0123456789', baseUrl: BASE })).toMatchObject({
      keyType: 'public',
      mode: 'test',
    });
    expect(new Drip({ apiKey: 'sk_0123456789abc', baseUrl: BASE })).toMatchObject({
      keyType: 'secret',
      mode: 'unknown',
    });
  });
  it.each([
    ['missing', undefined],
    ['wrong prefix', 'xk_test_0123456789'],
    ['too short', 'sk_12345'],
  ])('rejects a %s key with CONFIGURATION_ERROR (statusCode 0)', (_n, apiKey) => {
    const saved = process.env.DRIP_API_KEY;
    delete process.env.DRIP_API_KEY;
    try {
      expect(() => new Drip({ apiKey, baseUrl: BASE })).toThrow(
        expect.objectContaining({ code: 'CONFIGURATION_ERROR', statusCode: 0 }),
      );
    } finally {
      if (saved !== undefined) process.env.DRIP_API_KEY = saved;
    }
  });
  it.each([
    ['https://api.drippay.dev', 'https://api.drippay.dev/v1'],
    ['http://localhost:3001/', 'http://localhost:3001/v1'],
    ['http://localhost:3001/v1/', 'http://localhost:3001/v1'],
    ['https://gw.example.com/drip/v1', 'https://gw.example.com/drip/v1'],
    ['https://gw.example.com/drip', 'https://gw.example.com/drip'],
  ])('base URL %s → %s', (raw, expected) => {
    expect(new Drip({ apiKey: 'sk_test_0123456789', baseUrl: raw }).baseUrl).toBe(expected);
  });
  it.each([
    ['https://gw.example.com/drip/v1', 'https://gw.example.com/drip/health'],
    ['https://gw.example.com/drip', 'https://gw.example.com/drip/health'],
    ['http://localhost:3001/', 'http://localhost:3001/health'],
  ])('health URL for %s is %s', async (raw, expected) => {
    const { client, calls } = makeClient([{ status: 200, body: { status: 'healthy', timestamp: 1 } }], {
      baseUrl: raw,
    });
    await client.ping();
    expect(calls[0]!.url).toBe(expected);
  });
  it.each(['ftp://x.com', 'not a url', 'https://x.com/v1?a=1', 'https://x.com/v1#f', '/v1'])(
    'rejects base URL %s',
    (raw) => {
      expect(() => new Drip({ apiKey: 'sk_test_0123456789', baseUrl: raw })).toThrow(
        expect.objectContaining({ code: 'CONFIGURATION_ERROR' }),
      );
    },
  );
  it('reads DRIP_API_URL before DRIP_BASE_URL, and the option before both', () => {
    const saved = { a: process.env.DRIP_API_URL, b: process.env.DRIP_BASE_URL };
    process.env.DRIP_API_URL = 'http://a.example:1';
    process.env.DRIP_BASE_URL = 'http://b.example:2';
    try {
      expect(new Drip({ apiKey: 'sk_test_0123456789' }).baseUrl).toBe('http://a.example:1/v1');
      delete process.env.DRIP_API_URL;
      expect(new Drip({ apiKey: 'sk_test_0123456789' }).baseUrl).toBe('http://b.example:2/v1');
      expect(new Drip({ apiKey: 'sk_test_0123456789', baseUrl: 'http://c.example' }).baseUrl).toBe(
        'http://c.example/v1',
      );
      delete process.env.DRIP_BASE_URL;
      expect(new Drip({ apiKey: 'sk_test_0123456789' }).baseUrl).toBe('https://api.drippay.dev/v1');
    } finally {
      for (const [k, v] of [
        ['DRIP_API_URL', saved.a],
        ['DRIP_BASE_URL', saved.b],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('getOrCreateCustomer (spec §4, §9 row 20)', () => {
  it('creates when new', async () => {
    const { client, calls } = makeClient([{ status: 201, body: customer }]);
    expect(await client.getOrCreateCustomer('user_42', { plan: 'pro' })).toEqual(customer);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /v1/customers']);
    expect(calls[0]!.body).toEqual({ externalCustomerId: 'user_42', metadata: { plan: 'pro' } });
  });
  it('409 with existingCustomerId → GET /customers/{id}', async () => {
    const { client, calls } = makeClient([
      { status: 409, body: { error: 'dup', code: 'DUPLICATE_CUSTOMER', existingCustomerId: 'cus_1' } },
      { status: 200, body: customer },
    ]);
    expect((await client.getOrCreateCustomer('user_42')).id).toBe('cus_1');
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /v1/customers',
      'GET /v1/customers/cus_1',
    ]);
  });
  it('409 without id → externalCustomerId filter, checked client-side, then every page', async () => {
    const other = { ...customer, id: 'cus_9', externalCustomerId: 'someone' };
    const page1 = Array.from({ length: 100 }, (_, i) => ({ ...other, id: `cus_p${i}` }));
    const { client, calls } = makeClient((req) => {
      if (req.method === 'POST') return { status: 409, body: { error: 'dup', code: 'DUPLICATE_CUSTOMER' } };
      if (req.query.externalCustomerId) return { status: 200, body: { data: [other], count: 1 } }; // filter ignored by server
      if ((req.query.offset ?? '0') === '0') return { status: 200, body: { data: page1, count: 101 } };
      return { status: 200, body: { data: [customer], count: 101 } };
    });
    expect((await client.getOrCreateCustomer('user_42')).id).toBe('cus_1');
    expect(calls.map((c) => `${c.method} ${c.path} ${JSON.stringify(c.query)}`)).toEqual([
      'POST /v1/customers {}',
      'GET /v1/customers {"limit":"100","externalCustomerId":"user_42"}',
      'GET /v1/customers {"limit":"100","offset":"0"}',
      'GET /v1/customers {"limit":"100","offset":"100"}',
    ]);
  });
  it('not found anywhere → 409 CUSTOMER_RESOLUTION_FAILED', async () => {
    const { client } = makeClient((req) =>
      req.method === 'POST'
        ? { status: 409, body: { error: 'dup', code: 'DUPLICATE_CUSTOMER' } }
        : { status: 200, body: { data: [], count: 0 } },
    );
    await expect(client.getOrCreateCustomer('user_42')).rejects.toMatchObject({
      statusCode: 409,
      code: 'CUSTOMER_RESOLUTION_FAILED',
    });
  });
});

describe('list iterators (spec §2.8)', () => {
  it('walk every page, stop on a short page, drop repeated ids', async () => {
    const mk = (ids: string[]) => ids.map((id) => ({ ...customer, id }));
    const { client, calls } = makeClient((req) => {
      const off = Number(req.query.offset ?? 0);
      if (off === 0) return { status: 200, body: { data: mk(['a', 'b']), count: 999 } };
      if (off === 2) return { status: 200, body: { data: mk(['b', 'c']), count: 999 } }; // shifted page repeats b
      return { status: 200, body: { data: mk(['d']), count: 999 } };
    });
    const ids: string[] = [];
    for await (const c of client.listAllCustomers({ limit: 2 })) ids.push(c.id);
    expect(ids).toEqual(['a', 'b', 'c', 'd']);
    expect(calls.map((c) => c.query.offset)).toEqual(['0', '2', '4']);
  });
  it('stop on hasMore: false even with a full page', async () => {
    const { client, calls } = makeClient([
      { status: 200, body: { data: [chargeRow], count: 50, hasMore: false } },
    ]);
    const got = [];
    for await (const c of client.listAllCharges({ limit: 1 })) got.push(c);
    expect(got).toHaveLength(1);
    expect(calls).toHaveLength(1);
  });
  it('listAllEvents reads hasMore from pagination; listAllRuns and listAllWorkflows page too', async () => {
    const ev = (id: string) => ({
      id,
      customerId: 'c',
      eventType: 'x',
      outcome: 'SUCCEEDED',
      createdAt: NOW,
    });
    const e = makeClient([
      {
        status: 200,
        body: { data: [ev('1')], pagination: { total: 2, limit: 1, offset: 0, hasMore: true } },
      },
      {
        status: 200,
        body: { data: [ev('2')], pagination: { total: 2, limit: 1, offset: 1, hasMore: false } },
      },
    ]);
    const ids = [];
    for await (const x of e.client.listAllEvents({ limit: 1 })) ids.push(x.id);
    expect(ids).toEqual(['1', '2']);
    const r = makeClient([{ status: 200, body: { data: [{ id: 'run_1', status: 'RUNNING' }], count: 1 } }]);
    for await (const x of r.client.listAllRuns()) expect(x.id).toBe('run_1');
    expect(r.calls[0]!.query).toEqual({ limit: '50', offset: '0' });
    const w = makeClient([{ status: 200, body: { data: [workflow], count: 1 } }]);
    for await (const x of w.client.listAllWorkflows()) expect(x.slug).toBe('summarise');
    expect(w.calls).toHaveLength(1);
  });
  it('listAllTimelineEvents follows cursors', async () => {
    const tev = (id: string) => ({ id, eventType: 'x', outcome: 'SUCCESS', timestamp: NOW });
    const { client, calls } = makeClient([
      {
        status: 200,
        body: { runId: 'run_1', events: [tev('1'), tev('2')], hasMore: true, nextCursor: 'c1' },
      },
      { status: 200, body: { runId: 'run_1', events: [tev('3')], hasMore: false, nextCursor: null } },
    ]);
    const ids = [];
    for await (const x of client.listAllTimelineEvents('run_1')) ids.push(x.id);
    expect(ids).toEqual(['1', '2', '3']);
    expect(calls.map((c) => c.query.cursor)).toEqual([undefined, 'c1']);
  });
});

describe('retry-time conflicts resolve to the resource (spec §5.4)', () => {
  it('createCustomer: 409 on a retry after a 503 resolves via existingCustomerId', async () => {
    const { client, calls, clock } = makeClient([
      { status: 503, body: { error: 'busy', code: 'SERVICE_UNAVAILABLE' } },
      { status: 409, body: { error: 'dup', code: 'DUPLICATE_CUSTOMER', existingCustomerId: 'cus_1' } },
      { status: 200, body: customer },
    ]);
    const got = await clock.run(client.createCustomer({ externalCustomerId: 'user_42' }));
    expect(got.id).toBe('cus_1');
    expect(calls.map((c) => c.method)).toEqual(['POST', 'POST', 'GET']);
  });
  it('createCustomer: 409 on the first attempt is thrown', async () => {
    const { client } = makeClient([
      { status: 409, body: { error: 'dup', code: 'DUPLICATE_CUSTOMER', existingCustomerId: 'cus_1' } },
    ]);
    const err = await client.createCustomer({ externalCustomerId: 'user_42' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DripConflictError);
    expect((err as DripConflictError).existingId).toBe('cus_1');
  });
  it('startRun: 409 DUPLICATE_RUN on a retry → GET /runs/{existingRunId}, same externalRunId on both attempts', async () => {
    const { client, calls, clock } = makeClient([
      'network-error',
      { status: 409, body: { error: 'dup', code: 'DUPLICATE_RUN', existingRunId: 'run_7' } },
      {
        status: 200,
        body: {
          id: 'run_7',
          customerId: 'cus_1',
          workflowId: 'wf_1',
          workflowName: 'S',
          status: 'PENDING',
          startedAt: null,
        },
      },
    ]);
    const run = await clock.run(client.startRun({ customerId: 'cus_1', workflowId: 'wf_1' }));
    expect(run.id).toBe('run_7');
    expect((calls[0]!.body as { externalRunId: string }).externalRunId).toBe('run_testinst_1');
    expect((calls[1]!.body as { externalRunId: string }).externalRunId).toBe('run_testinst_1');
    expect(calls[2]!.path).toBe('/v1/runs/run_7');
  });
  it('createWorkflow: 409 on a retry resolves by slug', async () => {
    const { client, calls, clock } = makeClient([
      { status: 502, body: { error: 'gw', code: 'BAD_GATEWAY' } },
      { status: 409, body: { error: 'dup', code: 'DUPLICATE_WORKFLOW' } },
      { status: 200, body: { data: [workflow], count: 1 } },
    ]);
    const wf = await clock.run(client.createWorkflow({ name: 'Summarise', slug: 'summarise' }));
    expect(wf.id).toBe('wf_1');
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /v1/workflows',
      'POST /v1/workflows',
      'GET /v1/workflows',
    ]);
  });
  it('deleteWebhook: 404 on a retry counts as success; 404 first is thrown', async () => {
    const a = makeClient([
      'network-error',
      { status: 404, body: { error: 'nf', code: 'WEBHOOK_NOT_FOUND' } },
    ]);
    expect(await a.clock.run(a.client.deleteWebhook('wh_1'))).toEqual({ success: true });
    const b = makeClient([{ status: 404, body: { error: 'nf', code: 'WEBHOOK_NOT_FOUND' } }]);
    await expect(b.client.deleteWebhook('wh_1')).rejects.toMatchObject({ code: 'WEBHOOK_NOT_FOUND' });
  });
});

describe('the gate checks through the client’s own methods (issue 12)', () => {
  const gateOptions = {
    maxAttempts: 1,
    timeoutMs: 2_000,
    deadlineMs: 2_500,
    headers: { 'X-Drip-Client': '@drip/core@0; adapter=@drip/express@0' },
  };

  it('checkEntitlement, getBalance and getCustomerSpendingCaps take one attempt and extra headers', async () => {
    const { client, calls } = makeClient([
      {
        status: 200,
        body: { allowed: false, featureKey: 'api_calls', remaining: 0, limit: 10, reason: 'LIMIT_REACHED' },
      },
      { status: 200, body: { customerId: 'cus_1', balanceUsdc: '1.000000', availableUsdc: '0.500000' } },
      { status: 200, body: { caps: [] } },
    ]);
    const decision = await client.checkEntitlement({
      customerId: 'cus_1',
      featureKey: 'api_calls',
      ...gateOptions,
    });
    expect(decision.allowed).toBe(false);
    expect((await client.getBalance('cus_1', gateOptions)).availableUsdc).toBe('0.500000');
    expect((await client.getCustomerSpendingCaps('cus_1', gateOptions)).caps).toEqual([]);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /v1/entitlements/check',
      'GET /v1/customers/cus_1/balance',
      'GET /v1/customers/cus_1/spending-caps',
    ]);
    expect(calls[0]?.body).toEqual({ customerId: 'cus_1', featureKey: 'api_calls', quantity: 1 });
    for (const call of calls) {
      expect(call.headers['x-drip-client']).toBe('@drip/core@0; adapter=@drip/express@0');
    }
  });

  it('one attempt means one attempt: a 503 is not retried, a 404 is a DripError with statusCode 404', async () => {
    const { client, calls } = makeClient([
      { status: 503, body: { error: 'down', code: 'SERVICE_UNAVAILABLE' } },
      { status: 404, body: { error: 'no customer', code: 'CUSTOMER_NOT_FOUND' } },
    ]);
    await expect(
      client.checkEntitlement({ customerId: 'cus_1', featureKey: 'f', ...gateOptions }),
    ).rejects.toMatchObject({
      statusCode: 503,
    });
    await expect(
      client.checkEntitlement({ customerId: 'cus_1', featureKey: 'f', ...gateOptions }),
    ).rejects.toMatchObject({
      statusCode: 404,
      code: 'CUSTOMER_NOT_FOUND',
    });
    expect(calls).toHaveLength(2);
  });

  it('headers are a call option, never event data sent in a body', async () => {
    const { client, calls } = makeClient([{ status: 200, body: { id: 'cus_1' } }]);
    await client.getCustomer('cus_1', { headers: { 'X-Extra': '1' } });
    expect(calls[0]?.headers['x-extra']).toBe('1');
    expect(calls[0]?.body).toBeUndefined();
  });
});
