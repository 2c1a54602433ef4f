export { VERSION } from './version';
export {
  ROUTE_SCOPES,
  scopeForPath,
  scopeForSentPath,
  normalizeApiPath,
  keyTypeOf,
  keyModeOf,
  isAllowed,
} from './scopes';
export type { KeyScope, KeyType, KeyMode } from './scopes';
export { Drip, DEFAULT_BASE_URL, getResponseMeta } from './client';
export type { DripOptions, WrapApiCallParams, WrapApiCallResult } from './client';
export { drip, getDrip, resetDrip } from './singleton';
export {
  DripError,
  DripValidationError,
  DripAuthenticationError,
  DripPaymentRequiredError,
  DripPermissionError,
  DripNotFoundError,
  DripConflictError,
  DripIdempotencyError,
  DripRateLimitError,
  DripServerError,
  DripTimeoutError,
  DripNetworkError,
  isDripError,
  createDripError,
  errorFromResponse,
  validationError,
  configurationError,
} from './errors';
export type { DripErrorDetail, DripErrorInit } from './errors';
export {
  Transport,
  DEFAULT_RETRY_POLICY,
  normalizeBaseUrl,
  healthUrlFor,
  parseRetryAfter,
  isRetryable,
} from './transport';
export type {
  DripLogger,
  FetchLike,
  QueryValue,
  RequestOptions,
  RequestResult,
  RetryPolicy,
  TransportConfig,
} from './transport';
export { systemClock, sleep } from './clock';
export type { Clock } from './clock';
export {
  generateIdempotencyKey,
  createIdempotencyKeyGenerator,
  createInstanceId,
  getIdempotencyInstanceId,
  MODEL_CALL_RUN_SLOT,
  modelCallKey,
  requestIdentity,
  runExternalId,
  usageKey,
} from './keys';
export type { IdempotencyKeyGenerator, IdempotencyKeyGeneratorOptions, ModelCallKeyScope } from './keys';
export {
  generateWebhookSignature,
  verifyWebhookSignature,
  constructWebhookEvent,
  isWebhookEventType,
} from './webhooks';
export type {
  WebhookPayload,
  VerifyWebhookOptions,
  DripWebhookEvent,
  DripWebhookEventMap,
  KnownDripWebhookEvent,
  SpendingAlertData,
  RunEndedData,
} from './webhooks';
export { StreamMeter } from './stream-meter';
export type { StreamMeterOptions, StreamFlushResult } from './stream-meter';
export {
  METER_PATTERN,
  SLUG_PATTERN,
  MAX_QUANTITY,
  MAX_METADATA_BYTES,
  MAX_METADATA_DEPTH,
  MAX_METER_LENGTH,
  MAX_ID_LENGTH,
  MAX_EVENT_TYPE_LENGTH,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  meterNameProblem,
  isValidMeterName,
  assertMeterName,
  quantityProblem,
  isValidQuantity,
  assertQuantity,
  idProblem,
  isValidCustomerId,
  assertCustomerId,
  eventTypeProblem,
  isValidEventType,
  assertEventType,
  isValidIdempotencyKey,
  metadataProblem,
  isValidMetadata,
  assertMetadata,
} from './validation';
export { detectRuntime } from './runtime';
export type * from './types';
export { createOutbox } from './outbox/outbox';
export type { Outbox } from './outbox/outbox';
export { createClientTransport } from './outbox/client-transport';
export { createMemoryOutboxStore } from './outbox/memory-store';
export type {
  AggregateOptions,
  ClientLike,
  DeadLetter,
  DeliveryResponse,
  DeliveryTransport,
  DropInfo,
  DropReason,
  FlushResult,
  OutboxInput,
  OutboxOptions,
  OutboxRecord,
  OutboxRunBody,
  OutboxRunEvent,
  OutboxStats,
  OutboxStore,
  OutboxUsageBody,
} from './outbox/types';
export type { ChargeOption, CustomerProvisioningOptions } from './outbox/customers';
export { createRequestMeter, isPromiseLike } from './pipeline/request-meter';
export { billsOutcome, runStatusOf } from './pipeline/outcome';
export type { UsageBillOn, UsageOptions } from './pipeline/outcome';
export {
  endsWithBody,
  meterResponse,
  nodeHeaderReader,
  onNodeResponseEnd,
  webHeaderReader,
} from './adapter-kit';
export type { NodeResponseLike, ObservedEnd } from './adapter-kit';
export { getCurrentRun, getDripContext, setDripContextStorage } from './pipeline/context-storage';
export type { DripContextStorage } from './pipeline/context-storage';
export { normalizePath, workflowSlug } from './pipeline/route';
export type {
  BillOn,
  CustomerResolver,
  GateDecision,
  GateOptions,
  MeteringErrorInfo,
  MetadataOptions,
  PipelineStats,
  QuantityInput,
  QuantitySpec,
  RequestMeter,
  RequestMeterOptions,
  RequestMeterStats,
  RouteRule,
} from './pipeline/options';
export type {
  BeginResult,
  DripRequestContext,
  DripRunContext,
  HeaderReader,
  MaybePromise,
  FinishOptions,
  RequestHandle,
  RequestOutcome,
  RequestRunEvent,
  RequestView,
} from './pipeline/types';
