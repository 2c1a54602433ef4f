/**
 * Admission rules of the outbox: what a valid record is, the wire body it becomes (keys fixed or left for
 * the outbox to make), its approximate size (the memory bound's currency) and its aggregation group.
 */

import { isValidQuantity, MAX_RUN_EVENTS } from '../limits';
import {
  idempotencyKey as idempotencyKeyRule,
  isValidIdempotencyKey,
  meterNameProblem,
  quantityProblem,
} from '../validation';
import { customerProblem } from './customers';
import type { OutboxInput, OutboxRunBody, OutboxUsageBody } from './types';

/** Final run statuses a record may carry. */
export const RUN_STATUSES = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT']);

/** A quantity rounded to 6 decimals (shared with the request meter). */
export function round6(q: number): number {
  return Math.round(q * 1e6) / 1e6;
}

function canonical(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Approximate JSON size of a value (strings by length, numbers as 8), walking at most 6 levels. */
function estimateBytes(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
      return 8;
    case 'boolean':
      return 5;
    case 'object': {
      if (value === null) return 4;
      if (depth > 6) return 64;
      let n = 2;
      if (Array.isArray(value)) {
        for (const v of value) n += estimateBytes(v, depth + 1) + 1;
        return n;
      }
      for (const k in value) {
        const v = (value as Record<string, unknown>)[k];
        if (v !== undefined) n += k.length + 4 + estimateBytes(v, depth + 1);
      }
      return n;
    }
    default:
      return 0;
  }
}

/**
 * `estimateBytes` of a usage body, field by field (the same sum, without walking the object): this runs
 * for every usage record.
 */
function usageBytes(b: OutboxUsageBody): number {
  // 2 for the braces; per field: key length + 4, then the value.
  let n = 2 + (10 + 4 + b.customerId.length + 2) + (9 + 4 + b.usageType.length + 2) + (8 + 4 + 8);
  n += 14 + 4 + b.idempotencyKey.length + 2;
  if (b.units !== undefined) n += 5 + 4 + estimateBytes(b.units, 1);
  if (b.description !== undefined) n += 11 + 4 + estimateBytes(b.description, 1);
  if (b.metadata !== undefined) n += 8 + 4 + estimateBytes(b.metadata, 1);
  return n;
}

/** A string of `min`-`max` characters (shared with the request meter). */
export function validString(v: unknown, min: number, max: number): v is string {
  return typeof v === 'string' && v.length >= min && v.length <= max;
}

/** A finite quantity in [0, 1e15] (shared with the request meter; the rule lives in `limits.ts`). */
export const validQuantity: (q: unknown) => q is number = isValidQuantity;

/** `field problem`, or `undefined` when there is no problem. */
function named(field: string, problem: string | undefined): string | undefined {
  return problem === undefined ? undefined : `${field} ${problem}`;
}

// The checks below run in order and stop at the first problem (the message names that field). Written as
// early returns rather than a list of [field, problem] pairs: they run for every record, and the list cost
// a handful of allocations per record.

/** Why a usage input is refused (the API's own rules, from `validation.ts`), or `undefined` when valid. */
export function usageProblem(input: OutboxInput & { type: 'usage' }): string | undefined {
  return (
    customerProblem(input) ??
    named('meter', meterNameProblem(input.meter)) ??
    named('quantity', quantityProblem(input.quantity)) ??
    named('idempotencyKey', keyProblem(input.idempotencyKey))
  );
}

/** Why a run input is refused, or `undefined` when it is valid. */
export function runProblem(input: OutboxInput & { type: 'run' }): string | undefined {
  const customer = customerProblem(input);
  if (customer !== undefined) return customer;
  if (!validString(input.workflow, 1, 100)) return 'workflow must be 1-100 characters';
  if (!RUN_STATUSES.has(input.status)) return 'status must be COMPLETED, FAILED, CANCELLED or TIMEOUT';
  const events = input.events ?? [];
  if (!Array.isArray(events) || events.length > MAX_RUN_EVENTS) {
    return `events must be an array of at most ${MAX_RUN_EVENTS} items`;
  }
  // An empty run key means "make one" (`runBodyOf`), as before.
  return named('idempotencyKey', keyProblem(input.idempotencyKey || undefined));
}

/** A caller's key, when given, follows the API's key rule. */
function keyProblem(key: unknown): string | undefined {
  return key === undefined || isValidIdempotencyKey(key) ? undefined : idempotencyKeyRule(key);
}

/** The wire body of a valid usage input; `idempotencyKey` is `''` when the outbox must make it. */
export function usageBodyOf(input: OutboxInput & { type: 'usage' }): OutboxUsageBody {
  let body: OutboxUsageBody;
  if (input.units === undefined && input.description === undefined && input.metadata !== undefined) {
    // The request meter's shape, as one literal: adding a field later would give the body (kept until
    // delivery) a separate property store. Same fields in the same order as below.
    body = {
      customerId: input.customerId ?? '',
      usageType: input.meter,
      quantity: input.quantity,
      idempotencyKey: input.idempotencyKey ?? '',
      metadata: input.metadata,
    };
  } else {
    body = {
      customerId: input.customerId ?? '',
      usageType: input.meter,
      quantity: input.quantity,
      idempotencyKey: input.idempotencyKey ?? '',
    };
    if (input.units !== undefined) body.units = input.units;
    if (input.description !== undefined) body.description = input.description;
    if (input.metadata !== undefined) body.metadata = input.metadata;
  }
  if (input.externalCustomerId !== undefined) body.externalCustomerId = input.externalCustomerId;
  return body;
}

/** The wire body of a valid run input, with its keys (made by `keyFor` when not given). */
export function runBodyOf(
  input: OutboxInput & { type: 'run' },
  keyFor: (prefix: string) => string,
): OutboxRunBody {
  const events = input.events ?? [];
  // Built field by field (no rest/spread): this runs once per metered request.
  let body: OutboxRunBody;
  if (
    input.correlationId === undefined &&
    input.errorMessage === undefined &&
    input.errorCode === undefined &&
    input.metadata !== undefined &&
    input.startedAt !== undefined &&
    input.endedAt !== undefined
  ) {
    // The request meter's usual shape as one literal (no separate property store on a body kept until
    // delivery); same fields in the same order as below.
    body = {
      customerId: input.customerId ?? '',
      workflow: input.workflow,
      status: input.status,
      events,
      externalRunId: input.externalRunId || keyFor('run'),
      idempotencyKey: input.idempotencyKey || keyFor('rec'),
      metadata: input.metadata,
      startedAt: input.startedAt,
      endedAt: input.endedAt,
    };
  } else {
    body = {
      customerId: input.customerId ?? '',
      workflow: input.workflow,
      status: input.status,
      events,
      externalRunId: input.externalRunId || keyFor('run'),
      idempotencyKey: input.idempotencyKey || keyFor('rec'),
    };
    if (input.correlationId !== undefined) body.correlationId = input.correlationId;
    if (input.errorMessage !== undefined) body.errorMessage = input.errorMessage;
    if (input.errorCode !== undefined) body.errorCode = input.errorCode;
    if (input.metadata !== undefined) body.metadata = input.metadata;
    if (input.startedAt !== undefined) body.startedAt = input.startedAt;
    if (input.endedAt !== undefined) body.endedAt = input.endedAt;
  }
  if (input.externalCustomerId !== undefined) body.externalCustomerId = input.externalCustomerId;
  return body;
}

/**
 * Whether the input's key was derived from the request (given by the caller and not marked `localKey`):
 * its record gets `requestKey`, which `answers.ts` reads.
 */
export function isRequestKey(input: OutboxInput): boolean {
  return input.idempotencyKey !== undefined && input.idempotencyKey !== '' && input.localKey !== true;
}

/** Bytes of an optional string field (`key` of `keyLength` characters), as `estimateBytes` counts it. */
function optional(keyLength: number, v: string | undefined): number {
  return v === undefined ? 0 : keyLength + 4 + v.length + 2;
}

/**
 * `estimateBytes` of a run body, field by field (the same sum, without walking the body: this runs for every
 * run record); only the events and the metadata are walked.
 */
function runBytes(b: OutboxRunBody): number {
  // 2 for the braces; per field: key length + 4, then the value (a string by its length + 2).
  let n =
    2 + (10 + 4 + b.customerId.length + 2) + (8 + 4 + b.workflow.length + 2) + (6 + 4 + b.status.length + 2);
  n += 6 + 4 + estimateBytes(b.events, 1);
  n += 13 + 4 + b.externalRunId.length + 2;
  n += optional(18, b.externalCustomerId) + optional(14, b.idempotencyKey) + optional(13, b.correlationId);
  n +=
    optional(12, b.errorMessage) +
    optional(9, b.errorCode) +
    optional(9, b.startedAt) +
    optional(7, b.endedAt);
  if (b.metadata !== undefined) n += 8 + 4 + estimateBytes(b.metadata, 1);
  return n;
}

/** Approximate JSON size of a record (body plus the record's own fields), computed without serialising. */
export function recordBytes(kind: 'usage' | 'run', body: OutboxUsageBody | OutboxRunBody): number {
  return (kind === 'usage' ? usageBytes(body as OutboxUsageBody) : runBytes(body as OutboxRunBody)) + 48;
}

/** Usage with the same group (customer, meter, units, description, metadata) may be summed. */
export function aggregateGroupOf(body: OutboxUsageBody): string {
  return `${body.externalCustomerId ?? ''}\u0000${body.customerId}\u0000${body.usageType}\u0000${body.units ?? ''}\u0000${body.description ?? ''}\u0000${canonical(body.metadata)}`;
}
