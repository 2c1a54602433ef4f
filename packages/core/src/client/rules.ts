/**
 * The client's rule tables: the field rules of every method's input (built on the one validation module,
 * `../validation`) and, in {@link ENDPOINTS}, the route, input rules, fields sent, retry safety and response
 * shape of every table-driven method, run by the executor's `callEndpoint`.
 */

import { isRecord } from '../errors';
import {
  type Rule,
  type Rules,
  SLUG_PATTERN,
  bool,
  eventType,
  id,
  idempotencyKey as KEY,
  int,
  matches,
  metadata,
  meter,
  nonNegative,
  oneOf,
  quantity,
  str,
} from '../validation';
import {
  API_KEY,
  API_SECRET,
  CHARGE,
  CUSTOMER,
  type Fields,
  RUN,
  WEBHOOK,
  WORKFLOW,
  EVENT_SHAPE,
  PAGE_OF,
} from './response';

import { MAX_RUN_EVENTS } from '../limits';

/** A decimal string or number of a spending-cap limit (at most 6 decimals, no sign). */
const DECIMAL_RE = /^\d+(\.\d{1,6})?$/;
/** Most items in one `POST /run-events/batch` request (spec §3.6). */
export const BATCH_MAX_ITEMS = 500;
/** Largest `POST /run-events/batch` body, bytes (spec §3.6). */
export const BATCH_MAX_BYTES = 512 * 1024;
/** Most events `POST /runs/record` takes; more go step by step (spec §5.5). */
export const RECORD_RUN_MAX_EVENTS = MAX_RUN_EVENTS;

/**
 * One endpoint of the table-driven methods, run by the executor's `callEndpoint`.
 */
export interface Endpoint {
  /** `METHOD /path`; each `:name` segment takes the next id argument (checked as an id, URL-encoded). */
  route: string;
  /** Rules of the params object, checked after the ids. */
  rules?: Rules;
  /** Params fields sent as the body (the query of a GET). Default: the fields of `rules`; no rules, no body. */
  send?: readonly string[];
  /** Whether the call may be repeated after an unknown outcome (default: the transport's rule, spec §7.2). */
  safe?: boolean;
  /** Fields the result (each item of a list) must have; none: the result is `{ success: true }`. */
  shape?: Fields;
  /** List route: the result is a page whose `data` array holds the items. */
  list?: boolean;
}

export const ID = /* @__PURE__ */ id();
export const OPTIONAL_ID = /* @__PURE__ */ id(false);
export const NAME = /* @__PURE__ */ str(255, 1);
export const TEXT_255 = /* @__PURE__ */ str(255);
export const TEXT_500 = /* @__PURE__ */ str(500);
export const UNITS = /* @__PURE__ */ str(50);
export const ERROR_FIELDS: Rules = {
  errorMessage: /* @__PURE__ */ str(2000),
  errorCode: /* @__PURE__ */ str(100),
};
export const PAGE: Rules = {
  limit: /* @__PURE__ */ int(1, 100),
  offset: /* @__PURE__ */ int(0, 2 ** 53 - 1), // Number.MAX_SAFE_INTEGER, written so bundlers see a constant
};
export const END_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'];
export const END_STATUS = /* @__PURE__ */ oneOf(END_STATUSES, true);
export const SURFACE = /* @__PURE__ */ oneOf(['API', 'RPC', 'WEBHOOK', 'AGENT', 'PIPELINE', 'CUSTOM']);

/** A rule that runs `rule` only when the value is not `undefined` (so `null` is checked). */
export const ifDefined =
  (rule: Rule): Rule =>
  (v) =>
    v === undefined ? undefined : rule(v);

/** `trackUsage`, `charge`, `chargeAsync`, `wrapApiCall`, after the customer reference check. */
export const USAGE: Rules = {
  customerId: /* @__PURE__ */ ifDefined(ID),
  externalCustomerId: NAME,
  meter,
  quantity: /* @__PURE__ */ quantity(true),
  idempotencyKey: KEY,
  units: UNITS,
  description: TEXT_500,
  metadata,
};

export const EVENT_TYPE = eventType;
export const OPTIONAL_QUANTITY = /* @__PURE__ */ quantity();
/** The named fields of a run event; any other field is schema-flexible data (spec §2.4.1). */
export const EVENT: Rules = {
  eventType: EVENT_TYPE,
  quantity: OPTIONAL_QUANTITY,
  units: UNITS,
  description: TEXT_500,
  costUnits: nonNegative,
  costCurrency: /* @__PURE__ */ str(10),
  correlationId: TEXT_255,
  parentEventId: OPTIONAL_ID,
  spanId: /* @__PURE__ */ str(64),
  metadata,
  idempotencyKey: KEY,
};
/** The checked fields of a `recordRun` event (the others pass through). */
export const RECORD_EVENT: Rules = {
  eventType: EVENT_TYPE,
  quantity: OPTIONAL_QUANTITY,
  units: UNITS,
  description: TEXT_500,
  costUnits: nonNegative,
  metadata,
};
/** The references of a batch event item (one of `runId` and `customerId` is required). */
export const BATCH_REFS: Rules = { runId: OPTIONAL_ID, customerId: OPTIONAL_ID, workflowId: OPTIONAL_ID };

export const START_RUN: Rules = {
  customerId: ID,
  workflowId: ID,
  externalRunId: NAME,
  correlationId: TEXT_255,
  parentRunId: OPTIONAL_ID,
  metadata,
};

const URL_RE = /^https?:\/\/[^\s]+$/;
const URL_TEXT = /* @__PURE__ */ str(2048, 1, true);
export const WEBHOOK_URL: Rule = (v) =>
  URL_TEXT(v) ?? (URL_RE.test(v as string) ? undefined : 'must be an absolute http(s) URL');
export const WEBHOOK_EVENTS: Rule = (v) =>
  !Array.isArray(v) || v.length < 1 || v.length > 50
    ? 'must be an array of 1-50 event types'
    : v.some((e) => typeof e !== 'string' || e.length === 0)
      ? 'must hold non-empty strings'
      : undefined;
export const WEBHOOK_REST: Rules = {
  description: TEXT_500,
  isActive: bool,
  filters: (v) => (v === undefined || v === null || isRecord(v) ? undefined : 'must be an object or null'),
};

/** A spending cap limit: a number or decimal string in (0, 1e9] with at most 6 decimals. */
export const LIMIT_VALUE: Rule = (v) =>
  v === undefined || v === null
    ? 'is required'
    : (typeof v === 'number' || typeof v === 'string') &&
        DECIMAL_RE.test(String(v)) &&
        Number(v) > 0 &&
        Number(v) <= 1e9
      ? undefined
      : 'must be a number or decimal string in (0, 1e9], 6 decimals at most';

/**
 * The table-driven methods, by method name: each is one call of the executor's `callEndpoint`.
 */
export const ENDPOINTS = {
  createCustomer: {
    route: 'POST /customers',
    rules: {
      externalCustomerId: NAME,
      onchainAddress: matches(/^0x[a-fA-F0-9]{40}$/, 'must match ^0x[a-fA-F0-9]{40}$'),
      email: matches(
        /^(?=.{1,320}$)[^\s@]+@[^\s@]+\.[^\s@]+$/,
        'must be an email address (320 characters at most)',
      ),
      isInternal: bool,
      metadata,
    },
    safe: true,
    shape: CUSTOMER,
  },
  getCustomer: { route: 'GET /customers/:customerId', shape: CUSTOMER },
  listCustomers: {
    route: 'GET /customers',
    rules: { ...PAGE, status: oneOf(['ACTIVE', 'LOW_BALANCE', 'PAUSED']), isInternal: bool },
    send: ['limit', 'offset', 'status', 'isInternal', 'externalCustomerId', 'onchainAddress'],
    list: true,
    shape: CUSTOMER,
  },
  getBalance: {
    route: 'GET /customers/:customerId/balance',
    shape: {
      customerId: 'string',
      balanceUsdc: 'money',
      pendingChargesUsdc: 'money?',
      availableUsdc: 'money?',
    },
  },
  getCharge: { route: 'GET /charges/:chargeId', shape: CHARGE },
  listCharges: {
    route: 'GET /charges',
    rules: {
      ...PAGE,
      status: oneOf(['PENDING', 'PENDING_SETTLEMENT', 'CONFIRMED', 'FAILED', 'REFUNDED', 'REFUND_PENDING']),
    },
    send: ['customerId', 'status', 'limit', 'offset'],
    list: true,
    shape: CHARGE,
  },
  createWorkflow: {
    route: 'POST /workflows',
    rules: {
      name: str(255, 1, true),
      slug: (v) =>
        typeof v === 'string' && SLUG_PATTERN.test(v) ? undefined : 'must be 1-100 characters of [a-z0-9_-]',
      productSurface: SURFACE,
      chain: oneOf(['ETHEREUM', 'SOLANA', 'POLYGON', 'ARBITRUM', 'OPTIMISM', 'BASE', 'AVALANCHE', 'BSC']),
      description: str(1000),
      metadata,
    },
    safe: true,
    shape: WORKFLOW,
  },
  listWorkflows: {
    route: 'GET /workflows',
    rules: { ...PAGE, productSurface: SURFACE, isActive: bool },
    list: true,
    shape: WORKFLOW,
  },
  startRun: { route: 'POST /runs', send: Object.keys(START_RUN), safe: true, shape: RUN },
  endRun: {
    route: 'PATCH /runs/:runId',
    rules: { status: END_STATUS, ...ERROR_FIELDS, metadata },
    shape: RUN,
  },
  getRun: { route: 'GET /runs/:runId', shape: RUN },
  listRuns: {
    route: 'GET /runs',
    rules: { ...PAGE, status: oneOf(['PENDING', 'RUNNING', ...END_STATUSES]) },
    send: ['customerId', 'workflowId', 'status', 'from', 'to', 'limit', 'offset'],
    list: true,
    shape: RUN,
  },
  getRunTimeline: {
    route: 'GET /runs/:runId/timeline',
    rules: { limit: int(1, 500), includeAnomalies: bool, collapseRetries: bool },
    send: ['limit', 'cursor', 'includeAnomalies', 'collapseRetries'],
    shape: { events: 'array' },
  },
  listEvents: {
    route: 'GET /events',
    rules: PAGE,
    send: [
      'customerId',
      'runId',
      'workflowId',
      'eventType',
      'outcome',
      'actionName',
      'parentEventId',
      'idempotencyKey',
      'from',
      'to',
      'limit',
      'offset',
    ],
    shape: PAGE_OF,
  },
  getEvent: { route: 'GET /events/:eventId', shape: EVENT_SHAPE },
  createWebhook: {
    route: 'POST /webhooks',
    rules: { url: WEBHOOK_URL, events: WEBHOOK_EVENTS, ...WEBHOOK_REST },
    send: ['url', 'events', 'description', 'filters'],
    safe: false,
    shape: { id: 'string', secret: 'string' },
  },
  listWebhooks: { route: 'GET /webhooks', list: true, shape: WEBHOOK },
  getWebhook: { route: 'GET /webhooks/:webhookId', shape: WEBHOOK },
  updateWebhook: {
    route: 'PATCH /webhooks/:webhookId',
    rules: { url: ifDefined(WEBHOOK_URL), events: ifDefined(WEBHOOK_EVENTS), ...WEBHOOK_REST },
    shape: WEBHOOK,
  },
  testWebhook: {
    route: 'POST /webhooks/:webhookId/test',
    safe: false,
    shape: { status: 'string' },
  },
  rotateWebhookSecret: {
    route: 'POST /webhooks/:webhookId/rotate-secret',
    safe: false,
    shape: { secret: 'string' },
  },
  listWebhookDeliveries: {
    route: 'GET /webhooks/:webhookId/deliveries',
    rules: { ...PAGE, status: oneOf(['PENDING', 'DELIVERED', 'FAILED']) },
    list: true,
    shape: RUN,
  },
  setCustomerSpendingCap: {
    route: 'PUT /customers/:customerId/spending-cap',
    rules: {
      capType: oneOf(['DAILY_CHARGE_LIMIT', 'MONTHLY_CHARGE_LIMIT', 'SINGLE_CHARGE_LIMIT'], true),
      limitValue: LIMIT_VALUE,
      autoBlock: bool,
    },
    shape: { id: 'string', capType: 'string' },
  },
  getCustomerSpendingCaps: { route: 'GET /customers/:customerId/spending-caps', shape: { caps: 'array' } },
  checkEntitlement: {
    route: 'POST /entitlements/check',
    rules: { customerId: ID, featureKey: str(100, 1, true), quantity: OPTIONAL_QUANTITY },
    safe: true,
    shape: { allowed: 'boolean' },
  },
  createApiKey: {
    route: 'POST /api-keys',
    rules: { name: str(100, 1, true) },
    safe: false,
    shape: API_SECRET,
  },
  listApiKeys: { route: 'GET /api-keys', rules: PAGE, list: true, shape: API_KEY },
  rotateApiKey: {
    route: 'POST /api-keys/:keyId/rotate',
    rules: { gracePeriodHours: int(0, 168) },
    safe: false,
    shape: API_SECRET,
  },
  revokeApiKey: { route: 'POST /api-keys/:keyId/revoke', safe: true, shape: API_KEY },
} satisfies Record<string, Endpoint>;
