/**
 * Wire types of the Drip API v1 (spec §3). Money is a decimal string, never a `number`. Fields marked
 * optional may be absent or `null` (hosted variants); the client checks only the fields it relies on.
 */

/**
 * A JSON value.
 *
 * @example
 * ```ts
 * const v: JsonValue = { a: [1, 'two', null] };
 * ```
 */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/**
 * A JSON object (`metadata`).
 *
 * @example
 * ```ts
 * const metadata: JsonObject = { route: '/items/:id', plan: 'pro' };
 * ```
 */
export type JsonObject = { [key: string]: JsonValue | undefined };

/**
 * Per-call options every method accepts.
 *
 * @example
 * ```ts
 * await client.getCustomer('cus_1', { timeoutMs: 2000, maxAttempts: 1, signal: AbortSignal.timeout(5000) });
 * ```
 */
export interface CallOptions {
  /** Aborts the call (`ABORTED`, not retried). */
  signal?: AbortSignal | undefined;
  /** Per-attempt timeout in ms. */
  timeoutMs?: number | undefined;
  /** Whole-call deadline in ms. */
  deadlineMs?: number | undefined;
  /** Attempts in all (1 = no retries). */
  maxAttempts?: number | undefined;
  /**
   * Extra request headers for this call, e.g. an adapter naming itself in `X-Drip-Client` when it calls
   * the client on an app's behalf.
   */
  headers?: Record<string, string> | undefined;
}

/**
 * Metadata of the HTTP exchange, attached to results as a non-enumerable `_response` (not sent).
 *
 * @example
 * ```ts
 * getResponseMeta(await client.getCustomer('cus_1')); // { status: 200, requestId: 'req_...', attempts: 1 }
 * ```
 */
export interface ResponseMeta {
  status: number;
  requestId?: string | undefined;
  attempts: number;
}

/**
 * A customer's status.
 *
 * @example
 * ```ts
 * if (customer.status === 'PAUSED') refuse();
 * ```
 */
export type CustomerStatus = 'ACTIVE' | 'LOW_BALANCE' | 'PAUSED';
/**
 * A customer (spec §3.0). Create-only fields appear on `createCustomer` results.
 *
 * @example
 * ```ts
 * const customer: Customer = await client.getCustomer('cus_1');
 * ```
 */
export interface Customer {
  id: string;
  businessId?: string | null;
  externalCustomerId?: string | null;
  onchainAddress?: string | null;
  email?: string | null;
  name?: string | null;
  isInternal: boolean;
  status: CustomerStatus | (string & {});
  metadata?: Record<string, unknown> | null;
  createdAt: string;
  updatedAt?: string;
  /** Create-only fields. */
  provisioningStatus?: string;
  fundingRequired?: boolean;
  _warnings?: string[];
}
/**
 * Body of `createCustomer`: one of `externalCustomerId` and `onchainAddress` is required.
 *
 * @example
 * ```ts
 * await client.createCustomer({ externalCustomerId: 'user_42', email: 'a@example.com' });
 * ```
 */
export interface CreateCustomerParams extends CallOptions {
  externalCustomerId?: string;
  onchainAddress?: string;
  email?: string;
  isInternal?: boolean;
  metadata?: JsonObject;
}
/**
 * Filters and paging of `listCustomers`.
 *
 * @example
 * ```ts
 * await client.listCustomers({ status: 'ACTIVE', limit: 50 });
 * ```
 */
export interface ListCustomersOptions extends CallOptions {
  limit?: number;
  offset?: number;
  status?: CustomerStatus;
  isInternal?: boolean;
  externalCustomerId?: string;
  onchainAddress?: string;
}
/**
 * An offset page.
 *
 * @example
 * ```ts
 * const { data, count } = await client.listCharges({ limit: 10 });
 * ```
 */
export interface ListResult<T> {
  data: T[];
  count: number;
  hasMore?: boolean;
}
/**
 * A customer's balance; amounts are decimal strings of USDC.
 *
 * @example
 * ```ts
 * const { availableUsdc } = await client.getBalance('cus_1');
 * ```
 */
export interface Balance {
  customerId: string;
  onchainAddress?: string | null;
  balanceUsdc: string;
  pendingChargesUsdc: string;
  availableUsdc: string;
  lastSyncedAt?: string | null;
}

/**
 * Status of a charge.
 *
 * @example
 * ```ts
 * if (charge.status === 'FAILED') notify();
 * ```
 */
export type ChargeStatus =
  | 'PENDING'
  | 'PENDING_SETTLEMENT'
  | 'CONFIRMED'
  | 'FAILED'
  | 'REFUNDED'
  | 'REFUND_PENDING';
/**
 * The charge part of a usage result (`null` when nothing was charged).
 *
 * @example
 * ```ts
 * const { charge } = await client.charge(params); charge?.amountUsdc;
 * ```
 */
export interface ChargeInfo {
  id: string;
  amountUsdc: string;
  amountToken?: string;
  txHash?: string | null;
  status: ChargeStatus | (string & {});
  estimatedConfirmationTime?: string | null;
}
/**
 * A charge as returned by `getCharge` / `listCharges`.
 *
 * @example
 * ```ts
 * const charge: Charge = await client.getCharge('chg_1');
 * ```
 */
export interface Charge {
  id: string;
  usageId: string;
  customerId: string;
  customer?: { id: string; onchainAddress?: string | null; externalCustomerId?: string | null };
  usageEvent?: { id: string; type: string; quantity: string; metadata?: unknown; createdAt: string };
  amountUsdc: string;
  amountToken: string;
  txHash?: string | null;
  blockNumber?: string | number | null;
  status: ChargeStatus | (string & {});
  failureReason?: string | null;
  createdAt: string;
  confirmedAt?: string | null;
}
/**
 * Filters and paging of `listCharges`.
 *
 * @example
 * ```ts
 * await client.listCharges({ customerId: 'cus_1', status: 'CONFIRMED' });
 * ```
 */
export interface ListChargesOptions extends CallOptions {
  customerId?: string;
  status?: ChargeStatus;
  limit?: number;
  offset?: number;
}

/**
 * Who is billed: exactly one of `customerId` and `externalCustomerId`.
 *
 * @example
 * ```ts
 * const who: CustomerRef = { externalCustomerId: 'user_42' };
 * ```
 */
export type CustomerRef =
  | { customerId: string; externalCustomerId?: undefined }
  | { externalCustomerId: string; customerId?: undefined };

interface UsageFields extends CallOptions {
  /** The meter; sent as `usageType`. */
  meter: string;
  /** Finite, 0 <= q <= 1e15 (default 1 on the server). */
  quantity: number;
  /** 1-128 characters; generated when absent. */
  idempotencyKey?: string;
  units?: string;
  description?: string;
  metadata?: JsonObject;
}
/**
 * Parameters of `trackUsage` (no charge; `mode: 'batch'` uses the batch route).
 *
 * @example
 * ```ts
 * await client.trackUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
 * ```
 */
export type TrackUsageParams = CustomerRef & UsageFields & { mode?: 'sync' | 'batch' };
/**
 * Parameters of `charge` and `chargeAsync`.
 *
 * @example
 * ```ts
 * await client.charge({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
 * ```
 */
export type ChargeParams = CustomerRef & UsageFields;

/**
 * Result of `trackUsage`; `idempotencyKey` is the key that was sent.
 *
 * @example
 * ```ts
 * const { usageEventId, isDuplicate } = await client.trackUsage(params);
 * ```
 */
export interface TrackUsageResult {
  success: boolean;
  usageEventId?: string;
  customerId: string;
  usageType: string;
  quantity: number | string;
  isInternal?: boolean;
  message?: string;
  isDuplicate?: boolean;
  /** Batch mode only. */
  mode?: 'batch';
  idempotencyKey: string;
  pendingEvents?: number;
}
/**
 * Result of `charge` / `chargeAsync`; `idempotencyKey` is the key that was sent.
 *
 * @example
 * ```ts
 * const { charge, isDuplicate } = await client.charge(params);
 * ```
 */
export interface ChargeResult {
  success: boolean;
  usageEventId: string;
  isDuplicate: boolean;
  charge: ChargeInfo | null;
  mode?: string;
  autoPromoted?: boolean;
  reason?: string;
  message?: string;
  /** The key used (supplied or generated). */
  idempotencyKey: string;
}

/**
 * Where a workflow is exposed.
 *
 * @example
 * ```ts
 * await client.createWorkflow({ name: 'Chat', slug: 'chat', productSurface: 'AGENT' });
 * ```
 */
export type ProductSurface = 'API' | 'RPC' | 'WEBHOOK' | 'AGENT' | 'PIPELINE' | 'CUSTOM';
/**
 * Settlement chain of a workflow.
 *
 * @example
 * ```ts
 * await client.createWorkflow({ name: 'Pay', slug: 'pay', chain: 'BASE' });
 * ```
 */
export type Chain =
  | 'ETHEREUM'
  | 'SOLANA'
  | 'POLYGON'
  | 'ARBITRUM'
  | 'OPTIMISM'
  | 'BASE'
  | 'AVALANCHE'
  | 'BSC';
/**
 * A workflow (spec §3.4); lists add `runCount`.
 *
 * @example
 * ```ts
 * const wf: Workflow = await client.createWorkflow({ name: 'Summarise', slug: 'summarise' });
 * ```
 */
export interface Workflow {
  id: string;
  name: string;
  slug: string;
  productSurface: ProductSurface | (string & {});
  chain?: string | null;
  description?: string | null;
  metadata?: Record<string, unknown> | null;
  isActive: boolean;
  createdAt: string;
  updatedAt?: string;
  runCount?: number;
}
/**
 * Body of `createWorkflow`.
 *
 * @example
 * ```ts
 * await client.createWorkflow({ name: 'Summarise', slug: 'summarise' });
 * ```
 */
export interface CreateWorkflowParams extends CallOptions {
  name: string;
  slug: string;
  productSurface?: ProductSurface;
  chain?: Chain;
  description?: string;
  metadata?: JsonObject;
}
/**
 * Filters and paging of `listWorkflows`.
 *
 * @example
 * ```ts
 * await client.listWorkflows({ isActive: true });
 * ```
 */
export interface ListWorkflowsOptions extends CallOptions {
  productSurface?: ProductSurface;
  isActive?: boolean;
  limit?: number;
  offset?: number;
}

/**
 * Status of a run; the last four are terminal.
 *
 * @example
 * ```ts
 * if (run.status === 'RUNNING') wait();
 * ```
 */
export type RunStatus = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMEOUT';
/**
 * Statuses a run can end with.
 *
 * @example
 * ```ts
 * await client.endRun(run.id, { status: 'COMPLETED' satisfies RunEndStatus });
 * ```
 */
export type RunEndStatus = 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMEOUT';
/**
 * Body of `startRun`.
 *
 * @example
 * ```ts
 * await client.startRun({ customerId: 'cus_1', workflowId: 'wf_1', correlationId: traceId });
 * ```
 */
export interface StartRunParams extends CallOptions {
  customerId: string;
  workflowId: string;
  /** Dedupes the run; generated (`run_...`) when absent. */
  externalRunId?: string;
  correlationId?: string;
  parentRunId?: string;
  metadata?: JsonObject;
}
/**
 * Result of `startRun`; `externalRunId` is the value sent.
 *
 * @example
 * ```ts
 * const { id } = await client.startRun(params);
 * ```
 */
export interface RunStarted {
  id: string;
  customerId: string;
  workflowId: string;
  workflowName?: string;
  status: RunStatus | (string & {});
  correlationId?: string | null;
  createdAt: string;
  /** The `externalRunId` sent. */
  externalRunId?: string;
}
/**
 * Body of `endRun`.
 *
 * @example
 * ```ts
 * await client.endRun(runId, { status: 'FAILED', errorCode: 'TIMEOUT_UPSTREAM' });
 * ```
 */
export interface EndRunParams extends CallOptions {
  status: RunEndStatus;
  errorMessage?: string;
  errorCode?: string;
  metadata?: JsonObject;
}
/**
 * Result of `endRun`.
 *
 * @example
 * ```ts
 * const { durationMs, eventCount } = await client.endRun(runId, { status: 'COMPLETED' });
 * ```
 */
export interface RunEnded {
  id: string;
  status: RunStatus | (string & {});
  startedAt?: string | null;
  endedAt: string;
  durationMs?: number | null;
  eventCount: number;
  totalCostUnits?: string | null;
}
/**
 * Result of `getRun`.
 *
 * @example
 * ```ts
 * const { totals } = await client.getRun('run_1');
 * ```
 */
export interface RunDetails {
  id: string;
  customerId: string;
  customerName?: string | null;
  workflowId: string;
  workflowName?: string;
  status: RunStatus | (string & {});
  startedAt?: string | null;
  endedAt?: string | null;
  durationMs?: number | null;
  errorMessage?: string | null;
  errorCode?: string | null;
  correlationId?: string | null;
  metadata?: Record<string, unknown> | null;
  totals?: { eventCount: number; totalQuantity: string; totalCostUnits: string };
  _links?: { timeline: string };
}
/**
 * One row of `listRuns`.
 *
 * @example
 * ```ts
 * for await (const run of client.listAllRuns()) console.log(run.status);
 * ```
 */
export interface RunSummary {
  id: string;
  customerId: string;
  customerName?: string | null;
  workflowId: string;
  workflowName?: string;
  status: RunStatus | (string & {});
  eventCount: number;
  totalCostUnits?: string | null;
  durationMs?: number | null;
  startedAt?: string | null;
  endedAt?: string | null;
  createdAt: string;
  errorMessage?: string | null;
  errorCode?: string | null;
}
/**
 * Filters and paging of `listRuns`.
 *
 * @example
 * ```ts
 * await client.listRuns({ customerId: 'cus_1', status: 'FAILED' });
 * ```
 */
export interface ListRunsOptions extends CallOptions {
  customerId?: string;
  workflowId?: string;
  status?: RunStatus;
  from?: string;
  to?: string;
  limit?: number;
  offset?: number;
}
/**
 * One event of a run timeline.
 *
 * @example
 * ```ts
 * for await (const ev of client.listAllTimelineEvents('run_1')) console.log(ev.outcome);
 * ```
 */
export interface TimelineEvent {
  id: string;
  eventType: string;
  actionName?: string | null;
  outcome: string;
  explanation?: string | null;
  description?: string | null;
  timestamp: string;
  durationMs?: number | null;
  parentEventId?: string | null;
  retryOfEventId?: string | null;
  attemptNumber?: number;
  retriedByEventId?: string | null;
  costUsdc?: string | null;
  isRetry?: boolean;
  retryChain?: { totalAttempts: number; finalOutcome: string; events: string[] } | null;
  metadata?: Record<string, unknown> | null;
  [extra: string]: unknown;
}
/**
 * One page of `getRunTimeline` (`hasMore` and `nextCursor` normalised).
 *
 * @example
 * ```ts
 * const { events, nextCursor } = await client.getRunTimeline('run_1');
 * ```
 */
export interface RunTimeline {
  runId: string;
  workflowId?: string | null;
  workflowName?: string | null;
  customerId: string;
  status: RunStatus | (string & {});
  correlationId?: string | null;
  metadata?: Record<string, unknown> | null;
  errorMessage?: string | null;
  errorCode?: string | null;
  startedAt?: string | null;
  endedAt?: string | null;
  durationMs?: number | null;
  events: TimelineEvent[];
  anomalies: Array<Record<string, unknown>>;
  summary: Record<string, unknown>;
  /** Normalised: `false` when the server omits it. */
  hasMore: boolean;
  nextCursor: string | null;
}
/**
 * Paging and options of `getRunTimeline`.
 *
 * @example
 * ```ts
 * await client.getRunTimeline('run_1', { limit: 200, collapseRetries: false });
 * ```
 */
export interface TimelineOptions extends CallOptions {
  limit?: number;
  cursor?: string;
  includeAnomalies?: boolean;
  collapseRetries?: boolean;
}

/**
 * A run event. Fields beyond the named ones pass through unchanged (spec §2.4.1); the type stays open.
 * Known conventions: `llm.call` (`model`, `inputTokens`, `outputTokens`), `tool.call` (`name`, `duration`).
 *
 * @example
 * ```ts
 * const ev: RunEventFields = { eventType: 'llm.call', model: 'gpt-4', inputTokens: 500, outputTokens: 1200 };
 * ```
 */
export interface RunEventFields {
  eventType: string;
  quantity?: number;
  units?: string;
  description?: string;
  costUnits?: number;
  costCurrency?: string;
  correlationId?: string;
  parentEventId?: string;
  spanId?: string;
  metadata?: JsonObject;
  idempotencyKey?: string;
  /** `llm.call` convention. */
  model?: string;
  /** `llm.call` convention. */
  inputTokens?: number;
  /** `llm.call` convention. */
  outputTokens?: number;
  /** `tool.call` convention. */
  name?: string;
  /** `tool.call` convention (ms). */
  duration?: number;
  [extra: string]: JsonValue | JsonObject | undefined;
}
/**
 * Body of `emitEvent`: a run event plus its `runId`.
 *
 * @example
 * ```ts
 * await client.emitEvent({ runId, eventType: 'tool.call', name: 'web-search', duration: 1500 });
 * ```
 */
export interface EmitEventParams extends RunEventFields {
  runId: string;
}
/**
 * One item of `emitEventsBatch` (`runId` or `customerId` required).
 *
 * @example
 * ```ts
 * await client.emitEventsBatch([{ runId, eventType: 'llm.call' }]);
 * ```
 */
export interface BatchEventItem extends RunEventFields {
  runId?: string;
  customerId?: string;
  workflowId?: string;
}
/**
 * Result of `emitEvent`; `idempotencyKey` is the key sent.
 *
 * @example
 * ```ts
 * const { id, isDuplicate } = await client.emitEvent(event);
 * ```
 */
export interface EmitEventResult {
  id: string;
  runId: string;
  eventType: string;
  quantity?: number | string;
  costUnits?: number | null;
  isDuplicate: boolean;
  timestamp: string;
  idempotencyKey: string;
}
/**
 * Result of `emitEventsBatch`, merged over chunks in input order.
 *
 * @example
 * ```ts
 * const { created, skipped, events } = await client.emitEventsBatch(items);
 * ```
 */
export interface BatchEventResult {
  success: boolean;
  created: number;
  duplicates: number;
  skipped: number;
  events: Array<{
    id: string | null;
    eventType: string;
    isDuplicate: boolean;
    skipped?: boolean;
    reason?: string;
  }>;
}
/**
 * One event of `recordRun`; extra fields pass through.
 *
 * @example
 * ```ts
 * const ev: RecordRunEvent = { eventType: 'llm.call', model: 'gpt-4' };
 * ```
 */
export interface RecordRunEvent {
  eventType: string;
  quantity?: number;
  units?: string;
  description?: string;
  costUnits?: number;
  metadata?: JsonObject;
  [extra: string]: JsonValue | JsonObject | undefined;
}
/**
 * Body of `recordRun`.
 *
 * @example
 * ```ts
 * await client.recordRun({ customerId: 'cus_1', workflow: 'summarise', status: 'COMPLETED', events });
 * ```
 */
export interface RecordRunParams extends CallOptions {
  customerId: string;
  /** Workflow id, or a slug (auto-created by the server). */
  workflow: string;
  events?: RecordRunEvent[];
  status: RunEndStatus;
  errorMessage?: string;
  errorCode?: string;
  externalRunId?: string;
  correlationId?: string;
  metadata?: JsonObject;
  idempotencyKey?: string;
  startedAt?: string;
  endedAt?: string;
}
/**
 * Result of `recordRun`.
 *
 * @example
 * ```ts
 * const { run, events } = await client.recordRun(params);
 * ```
 */
export interface RecordRunResult {
  run: {
    id: string;
    workflowId: string;
    workflowName?: string;
    status: RunStatus | (string & {});
    durationMs?: number | null;
  };
  events: { created: number; duplicates: number };
  totalCostUnits?: string | null;
  summary: string;
  isDuplicate?: boolean;
}

/**
 * An event of the execution ledger (usage and run events).
 *
 * @example
 * ```ts
 * const ev: ExecutionEvent = await client.getEvent('evt_1');
 * ```
 */
export interface ExecutionEvent {
  id: string;
  customerId: string;
  runId?: string | null;
  workflowId?: string | null;
  eventType: string;
  actionName?: string | null;
  outcome: string;
  explanation?: string | null;
  idempotencyKey?: string | null;
  parentEventId?: string | null;
  retryOfEventId?: string | null;
  attemptNumber?: number;
  usageType?: string | null;
  quantity?: string | null;
  units?: string | null;
  description?: string | null;
  costUnits?: string | null;
  costUsdc?: string | null;
  chargeId?: string | null;
  metadata?: Record<string, unknown> | null;
  attributes?: Record<string, unknown> | null;
  createdAt: string;
  childEvents?: ExecutionEvent[];
  [extra: string]: unknown;
}
/**
 * Filters and paging of `listEvents`.
 *
 * @example
 * ```ts
 * await client.listEvents({ runId: 'run_1', limit: 100 });
 * ```
 */
export interface ListEventsOptions extends CallOptions {
  customerId?: string;
  runId?: string;
  workflowId?: string;
  eventType?: string;
  outcome?: string;
  actionName?: string;
  parentEventId?: string;
  idempotencyKey?: string;
  from?: string;
  to?: string;
  limit?: number;
  offset?: number;
}
/**
 * A normalised page of `listEvents`.
 *
 * @example
 * ```ts
 * const { data, total, hasMore } = await client.listEvents();
 * ```
 */
export interface ListEventsResult {
  data: ExecutionEvent[];
  total: number;
  limit: number;
  offset: number;
  hasMore: boolean;
}

/**
 * Which events a webhook receives (AND across keys, OR within a list).
 *
 * @example
 * ```ts
 * await client.createWebhook({ url, events: ['*'], filters: { customerIds: ['cus_1'] } });
 * ```
 */
export interface WebhookFilters {
  usageTypes?: string[];
  customerIds?: string[];
  severities?: Array<'low' | 'medium' | 'high' | 'critical'>;
}
/**
 * A webhook endpoint.
 *
 * @example
 * ```ts
 * const wh: Webhook = await client.getWebhook('wh_1');
 * ```
 */
export interface Webhook {
  id: string;
  url: string;
  events: string[];
  description?: string | null;
  filters?: WebhookFilters | null;
  isActive: boolean;
  healthStatus?: 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY' | (string & {});
  consecutiveFailures?: number;
  lastHealthChange?: string | null;
  createdAt: string;
  updatedAt?: string;
  stats?: { total: number; delivered: number; failed: number; pending: number };
}
/**
 * Body of `createWebhook`.
 *
 * @example
 * ```ts
 * await client.createWebhook({ url: 'https://example.com/drip', events: ['charge.failed'] });
 * ```
 */
export interface CreateWebhookParams extends CallOptions {
  url: string;
  events: string[];
  description?: string;
  filters?: WebhookFilters;
}
/**
 * Body of `updateWebhook`.
 *
 * @example
 * ```ts
 * await client.updateWebhook('wh_1', { isActive: false, filters: null });
 * ```
 */
export interface UpdateWebhookParams extends CallOptions {
  url?: string;
  events?: string[];
  description?: string;
  isActive?: boolean;
  /** `null` clears the filters. */
  filters?: WebhookFilters | null;
}
/**
 * Result of `testWebhook`.
 *
 * @example
 * ```ts
 * const { status } = await client.testWebhook('wh_1');
 * ```
 */
export interface WebhookTestResult {
  message: string;
  deliveryId: string | null;
  status: 'DELIVERED' | 'FAILED' | 'NOT_SENT' | (string & {});
  responseCode?: number | null;
}
/**
 * Result of `rotateWebhookSecret`.
 *
 * @example
 * ```ts
 * const { secret, previousSecretExpiresAt } = await client.rotateWebhookSecret('wh_1');
 * ```
 */
export interface WebhookSecretRotation {
  secret: string;
  message: string;
  previousSecretExpiresAt?: string | null;
}
/**
 * One delivery of a webhook.
 *
 * @example
 * ```ts
 * const { data } = await client.listWebhookDeliveries('wh_1');
 * ```
 */
export interface WebhookDelivery {
  id: string;
  eventId: string;
  eventType: string;
  status: 'PENDING' | 'DELIVERED' | 'FAILED' | (string & {});
  attempts: number;
  lastAttemptAt?: string | null;
  nextAttemptAt?: string | null;
  responseCode?: number | null;
  createdAt: string;
}
/**
 * Filters and paging of `listWebhookDeliveries`.
 *
 * @example
 * ```ts
 * await client.listWebhookDeliveries('wh_1', { status: 'FAILED' });
 * ```
 */
export interface ListDeliveriesOptions extends CallOptions {
  limit?: number;
  offset?: number;
  status?: 'PENDING' | 'DELIVERED' | 'FAILED';
}

/**
 * Kinds of spending cap.
 *
 * @example
 * ```ts
 * await client.setCustomerSpendingCap('cus_1', { capType: 'MONTHLY_CHARGE_LIMIT', limitValue: '100' });
 * ```
 */
export type CapType = 'DAILY_CHARGE_LIMIT' | 'MONTHLY_CHARGE_LIMIT' | 'SINGLE_CHARGE_LIMIT';
/**
 * A customer's spending cap.
 *
 * @example
 * ```ts
 * const { caps } = await client.getCustomerSpendingCaps('cus_1');
 * ```
 */
export interface SpendingCap {
  id: string;
  capType: CapType | (string & {});
  limitValue: string;
  currentUsage: string;
  periodStart?: string;
  isActive: boolean;
  autoBlock: boolean;
  lastAlertLevel?: '50' | '80' | '95' | '100' | null;
}
/**
 * Body of `setCustomerSpendingCap`.
 *
 * @example
 * ```ts
 * await client.setCustomerSpendingCap('cus_1', { capType: 'DAILY_CHARGE_LIMIT', limitValue: 25 });
 * ```
 */
export interface SetSpendingCapParams extends CallOptions {
  capType: CapType;
  /** USDC, > 0, at most 1e9, at most 6 decimals. */
  limitValue: number | string;
  autoBlock?: boolean;
}
/**
 * Body of `checkEntitlement`.
 *
 * @example
 * ```ts
 * await client.checkEntitlement({ customerId: 'cus_1', featureKey: 'api_calls' });
 * ```
 */
export interface EntitlementCheckParams extends CallOptions {
  customerId: string;
  featureKey: string;
  quantity?: number;
}
/**
 * Result of `checkEntitlement` (`-1` means unlimited).
 *
 * @example
 * ```ts
 * const { allowed, remaining } = await client.checkEntitlement(params);
 * ```
 */
export interface EntitlementCheckResult {
  allowed: boolean;
  featureKey: string;
  remaining: number;
  limit: number;
  unlimited: boolean;
  period: 'DAILY' | 'MONTHLY' | (string & {});
  periodResetsAt: string;
  reason?: string;
}

/**
 * An API key pair (the secret is never returned after creation).
 *
 * @example
 * ```ts
 * const { data } = await client.listApiKeys();
 * ```
 */
export interface ApiKey {
  id: string;
  name: string;
  mode: 'test' | 'live';
  publicKey: string;
  secretKeyHint: string;
  createdAt: string;
  lastUsedAt?: string | null;
  rotatedAt?: string | null;
  previousSecretKeyExpiresAt?: string | null;
  revokedAt?: string | null;
}
/**
 * Result of `rotateApiKey`.
 *
 * @example
 * ```ts
 * const { secretKey } = await client.rotateApiKey('key_1');
 * ```
 */
export interface ApiKeyRotation {
  id: string;
  publicKey: string;
  secretKey: string;
  previousSecretKeyExpiresAt: string;
  message: string;
}

/**
 * Result of `ping`.
 *
 * @example
 * ```ts
 * const { ok, latencyMs } = await client.ping();
 * ```
 */
export interface PingResult {
  ok: boolean;
  /** The body's `status` (`healthy` / `unhealthy`), or the HTTP status text when absent. */
  status: string;
  latencyMs: number;
  timestamp: number | null;
}
