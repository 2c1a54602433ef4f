/** Row → wire shape formatters (spec §3.0). Rows come from plain SQL; columns are snake_case. */
import { formatMicros, iso, numericNumber, numericText, toBig } from './util';

type Row = Record<string, unknown>;
const s = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function customerOut(r: Row): Record<string, unknown> {
  return {
    id: r.id,
    businessId: r.project_id,
    externalCustomerId: s(r.external_customer_id),
    onchainAddress: s(r.onchain_address),
    email: s(r.email),
    name: s(r.name),
    isInternal: Boolean(r.is_internal),
    status: r.status,
    metadata: r.metadata ?? null,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

export function balanceOut(r: Row): Record<string, unknown> {
  const bal = toBig(r.balance_micros);
  const pending = toBig(r.pending_micros);
  return {
    customerId: r.id,
    onchainAddress: s(r.onchain_address),
    balanceUsdc: formatMicros(bal),
    pendingChargesUsdc: formatMicros(pending),
    availableUsdc: formatMicros(bal - pending),
    lastSyncedAt: iso(r.updated_at),
  };
}

export function chargeInfoOut(r: Row): Record<string, unknown> {
  const amt = toBig(r.amount_micros);
  return {
    id: r.id,
    amountUsdc: formatMicros(amt),
    amountToken: amt.toString(),
    txHash: null,
    status: r.status,
  };
}

/** A charge row joined with its customer (`c_*`) and usage event (`u_*`) columns. */
export function chargeOut(r: Row): Record<string, unknown> {
  const amt = toBig(r.amount_micros);
  return {
    id: r.id,
    usageId: r.usage_id,
    customerId: r.customer_id,
    customer: {
      id: r.customer_id,
      onchainAddress: s(r.c_onchain_address),
      externalCustomerId: s(r.c_external_customer_id),
    },
    usageEvent: {
      id: r.usage_id,
      type: s(r.u_usage_type),
      quantity: numericText(r.u_quantity),
      metadata: r.u_metadata ?? null,
      createdAt: iso(r.u_created_at),
    },
    amountUsdc: formatMicros(amt),
    amountToken: amt.toString(),
    txHash: null,
    blockNumber: null,
    status: r.status,
    failureReason: s(r.failure_reason),
    createdAt: iso(r.created_at),
    confirmedAt: iso(r.confirmed_at),
  };
}

/** SQL selecting a charge with the columns `chargeOut` needs (alias `ch`). */
export const CHARGE_SELECT = `SELECT ch.*, c.onchain_address AS c_onchain_address, c.external_customer_id AS c_external_customer_id,
  u.usage_type AS u_usage_type, u.quantity AS u_quantity, u.metadata AS u_metadata, u.created_at AS u_created_at
  FROM charges ch JOIN customers c ON c.id = ch.customer_id LEFT JOIN events u ON u.id = ch.usage_id`;

export function workflowOut(r: Row): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    slug: r.slug,
    productSurface: r.product_surface,
    chain: s(r.chain),
    description: s(r.description),
    metadata: r.metadata ?? null,
    isActive: Boolean(r.is_active),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    ...(r.run_count !== undefined ? { runCount: Number(r.run_count) } : {}),
  };
}

export function eventOut(r: Row): Record<string, unknown> {
  return {
    id: r.id,
    customerId: r.customer_id,
    runId: s(r.run_id),
    workflowId: s(r.workflow_id),
    eventType: r.event_type,
    actionName: s(r.action_name),
    outcome: r.outcome,
    explanation: s(r.explanation),
    idempotencyKey: s(r.idempotency_key),
    parentEventId: s(r.parent_event_id),
    retryOfEventId: s(r.retry_of_event_id),
    attemptNumber: Number(r.attempt_number ?? 1),
    usageType: s(r.usage_type),
    quantity: numericText(r.quantity),
    units: s(r.units),
    description: s(r.description),
    costUnits: numericText(r.cost_units),
    costUsdc: null,
    chargeId: s(r.charge_id),
    metadata: r.metadata ?? null,
    attributes: r.attributes ?? null,
    correlationId: s(r.correlation_id),
    spanId: s(r.span_id),
    createdAt: iso(r.created_at),
  };
}

const TIMELINE_OUTCOME: Record<string, string> = {
  SUCCEEDED: 'SUCCESS',
  RETRIED: 'RETRYING',
  SKIPPED: 'FAILED',
  CANCELLED: 'FAILED',
};

export function timelineEventOut(r: Row): Record<string, unknown> {
  const outcome = String(r.outcome);
  return {
    id: r.id,
    eventType: r.event_type,
    actionName: s(r.action_name),
    outcome: TIMELINE_OUTCOME[outcome] ?? outcome,
    explanation: s(r.explanation),
    description: s(r.description),
    timestamp: iso(r.created_at),
    durationMs: null,
    parentEventId: s(r.parent_event_id),
    retryOfEventId: s(r.retry_of_event_id),
    attemptNumber: Number(r.attempt_number ?? 1),
    retriedByEventId: null,
    costUsdc: null,
    costUnits: numericText(r.cost_units),
    isRetry: r.retry_of_event_id !== null && r.retry_of_event_id !== undefined,
    metadata: {
      usageType: s(r.usage_type) ?? String(r.event_type),
      quantity: numericNumber(r.quantity) ?? 0,
      units: s(r.units),
    },
    eventMetadata: r.metadata ?? null,
    attributes: r.attributes ?? null,
  };
}

export function durationMs(r: Row): number | null {
  if (!r.started_at || !r.ended_at) return null;
  return new Date(String(iso(r.ended_at))).getTime() - new Date(String(iso(r.started_at))).getTime();
}

export function webhookOut(r: Row): Record<string, unknown> {
  return {
    id: r.id,
    url: r.url,
    events: r.events,
    description: s(r.description),
    filters: r.filters ?? null,
    isActive: Boolean(r.is_active),
    healthStatus: r.health_status,
    consecutiveFailures: Number(r.consecutive_failures ?? 0),
    lastHealthChange: iso(r.last_health_change),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    stats: {
      total: Number(r.st_total ?? 0),
      delivered: Number(r.st_delivered ?? 0),
      failed: Number(r.st_failed ?? 0),
      pending: Number(r.st_pending ?? 0),
    },
  };
}

export const WEBHOOK_SELECT = `SELECT w.*,
  (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id) AS st_total,
  (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'DELIVERED') AS st_delivered,
  (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'FAILED') AS st_failed,
  (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'PENDING') AS st_pending
  FROM webhooks w`;

export function deliveryOut(r: Row): Record<string, unknown> {
  return {
    id: r.id,
    eventId: r.event_id,
    eventType: r.event_type,
    status: r.status,
    attempts: Number(r.attempts ?? 0),
    lastAttemptAt: iso(r.last_attempt_at),
    nextAttemptAt: r.status === 'PENDING' ? iso(r.next_attempt_at) : null,
    responseCode: r.response_code === null || r.response_code === undefined ? null : Number(r.response_code),
    lastError: s(r.last_error),
    createdAt: iso(r.created_at),
  };
}

export function apiKeyOut(r: Row): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    mode: r.mode,
    publicKey: r.public_key,
    secretKeyHint: r.secret_key_hint,
    createdAt: iso(r.created_at),
    lastUsedAt: iso(r.last_used_at),
    rotatedAt: iso(r.rotated_at),
    previousSecretKeyExpiresAt: iso(r.previous_secret_key_expires_at),
    revokedAt: iso(r.revoked_at),
  };
}
