/**
 * Wire types of the Drip API v1 (spec §3). Money is a decimal string, never a `number`. Fields marked
 * optional may be absent or `null` (hosted variants); the client checks only the fields it relies on.
 */

/** A JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object (`metadata`). */
export type JsonObject = { [key: string]: JsonValue | undefined };

/** Per-call options every method accepts. */
export interface CallOptions {
  /** Aborts the call (`ABORTED`, not retried). */
  signal?: AbortSignal | undefined;
  /** Per-attempt timeout in ms. */
  timeoutMs?: number | undefined;
  /** Whole-call deadline in ms. */
  deadlineMs?: number | undefined;
  /** Attempts in all (1 = no retries). */
  maxAttempts?: number | undefined;
}

/** Metadata of the HTTP exchange, attached to results as a non-enumerable `_response` (not sent). */
export interface ResponseMeta {
  status: number;
  requestId?: string | undefined;
  attempts: number;
}

export type CustomerStatus = 'ACTIVE' | 'LOW_BALANCE' | 'PAUSED';
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
export interface CreateCustomerParams extends CallOptions {
  externalCustomerId?: string;
  onchainAddress?: string;
  email?: string;
  isInternal?: boolean;
  metadata?: JsonObject;
}
export interface ListCustomersOptions extends CallOptions {
  limit?: number;
  offset?: number;
  status?: CustomerStatus;
  isInternal?: boolean;
  externalCustomerId?: string;
  onchainAddress?: string;
}
/** An offset page. */
export interface ListResult<T> {
  data: T[];
  count: number;
  hasMore?: boolean;
}
export interface Balance {
  customerId: string;
  onchainAddress?: string | null;
  balanceUsdc: string;
  pendingChargesUsdc: string;
  availableUsdc: string;
  lastSyncedAt?: string | null;
}

export type ChargeStatus =
  | 'PENDING'
  | 'PENDING_SETTLEMENT'
  | 'CONFIRMED'
  | 'FAILED'
  | 'REFUNDED'
  | 'REFUND_PENDING';
export interface ChargeInfo {
  id: string;
  amountUsdc: string;
  amountToken?: string;
  txHash?: string | null;
  status: ChargeStatus | (string & {});
  estimatedConfirmationTime?: string | null;
}
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
export interface ListChargesOptions extends CallOptions {
  customerId?: string;
  status?: ChargeStatus;
  limit?: number;
  offset?: number;
}

/** Who is billed: exactly one of `customerId` and `externalCustomerId`. */
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
export type TrackUsageParams = CustomerRef & UsageFields & { mode?: 'sync' | 'batch' };
export type ChargeParams = CustomerRef & UsageFields;

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

export type ProductSurface = 'API' | 'RPC' | 'WEBHOOK' | 'AGENT' | 'PIPELINE' | 'CUSTOM';
export type Chain =
  | 'ETHEREUM'
  | 'SOLANA'
  | 'POLYGON'
  | 'ARBITRUM'
  | 'OPTIMISM'
  | 'BASE'
  | 'AVALANCHE'
  | 'BSC';
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
export interface CreateWorkflowParams extends CallOptions {
  name: string;
  slug: string;
  productSurface?: ProductSurface;
  chain?: Chain;
  description?: string;
  metadata?: JsonObject;
}
export interface ListWorkflowsOptions extends CallOptions {
  productSurface?: ProductSurface;
  isActive?: boolean;
  limit?: number;
  offset?: number;
}

export type RunStatus = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMEOUT';
export type RunEndStatus = 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMEOUT';
export interface StartRunParams extends CallOptions {
  customerId: string;
  workflowId: string;
  /** Dedupes the run; generated (`run_...`) when absent. */
  externalRunId?: string;
  correlationId?: string;
  parentRunId?: string;
  metadata?: JsonObject;
}
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
export interface EndRunParams extends CallOptions {
  status: RunEndStatus;
  errorMessage?: string;
  errorCode?: string;
  metadata?: JsonObject;
}
export interface RunEnded {
  id: string;
  status: RunStatus | (string & {});
  startedAt?: string | null;
  endedAt: string;
  durationMs?: number | null;
  eventCount: number;
  totalCostUnits?: string | null;
}
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
export interface ListRunsOptions extends CallOptions {
  customerId?: string;
  workflowId?: string;
  status?: RunStatus;
  from?: string;
  to?: string;
  limit?: number;
  offset?: number;
}
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
export interface TimelineOptions extends CallOptions {
  limit?: number;
  cursor?: string;
  includeAnomalies?: boolean;
  collapseRetries?: boolean;
}

/**
 * A run event. Fields beyond the named ones pass through unchanged (spec §2.4.1); the type stays open.
 * Known conventions: `llm.call` (`model`, `inputTokens`, `outputTokens`), `tool.call` (`name`, `duration`).
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
export interface EmitEventParams extends RunEventFields {
  runId: string;
}
export interface BatchEventItem extends RunEventFields {
  runId?: string;
  customerId?: string;
  workflowId?: string;
}
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
export interface RecordRunEvent {
  eventType: string;
  quantity?: number;
  units?: string;
  description?: string;
  costUnits?: number;
  metadata?: JsonObject;
  [extra: string]: JsonValue | JsonObject | undefined;
}
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
export interface ListEventsResult {
  data: ExecutionEvent[];
  total: number;
  limit: number;
  offset: number;
  hasMore: boolean;
}

export interface WebhookFilters {
  usageTypes?: string[];
  customerIds?: string[];
  severities?: Array<'low' | 'medium' | 'high' | 'critical'>;
}
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
export interface CreateWebhookParams extends CallOptions {
  url: string;
  events: string[];
  description?: string;
  filters?: WebhookFilters;
}
export interface UpdateWebhookParams extends CallOptions {
  url?: string;
  events?: string[];
  description?: string;
  isActive?: boolean;
  /** `null` clears the filters. */
  filters?: WebhookFilters | null;
}
export interface WebhookTestResult {
  message: string;
  deliveryId: string | null;
  status: 'DELIVERED' | 'FAILED' | 'NOT_SENT' | (string & {});
  responseCode?: number | null;
}
export interface WebhookSecretRotation {
  secret: string;
  message: string;
  previousSecretExpiresAt?: string | null;
}
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
export interface ListDeliveriesOptions extends CallOptions {
  limit?: number;
  offset?: number;
  status?: 'PENDING' | 'DELIVERED' | 'FAILED';
}

export type CapType = 'DAILY_CHARGE_LIMIT' | 'MONTHLY_CHARGE_LIMIT' | 'SINGLE_CHARGE_LIMIT';
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
export interface SetSpendingCapParams extends CallOptions {
  capType: CapType;
  /** USDC, > 0, at most 1e9, at most 6 decimals. */
  limitValue: number | string;
  autoBlock?: boolean;
}
export interface EntitlementCheckParams extends CallOptions {
  customerId: string;
  featureKey: string;
  quantity?: number;
}
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
export interface ApiKeyRotation {
  id: string;
  publicKey: string;
  secretKey: string;
  previousSecretKeyExpiresAt: string;
  message: string;
}

export interface PingResult {
  ok: boolean;
  /** The body's `status` (`healthy` / `unhealthy`), or the HTTP status text when absent. */
  status: string;
  latencyMs: number;
  timestamp: number | null;
}
