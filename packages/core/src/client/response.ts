/**
 * What the client does with a response: checks the fields a method relies on (`PARSE_ERROR` naming the
 * request and the field otherwise) and attaches the HTTP metadata (status, request id, attempts) to the
 * result, readable with {@link getResponseMeta}.
 */

import { DripError, isRecord } from '../errors';
import type { RequestResult } from '../transport';
import type { ResponseMeta } from '../types';

const RESPONSE_META = /* @__PURE__ */ Symbol.for('drip.response');
/** A decimal money string of a response: optional sign, at most 6 decimals (spec §2.9). */
const MONEY_RE = /^-?\d+(\.\d{1,6})?$/;

/**
 * The HTTP status, request id and attempt count of the response a result came from.
 *
 * @example
 * ```ts
 * const customer = await client.getCustomer('cus_1');
 * getResponseMeta(customer)?.requestId; // 'req_...'
 * ```
 */
export function getResponseMeta(result: unknown): ResponseMeta | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  return (result as Record<symbol, ResponseMeta | undefined>)[RESPONSE_META];
}

/** Attaches the response metadata to an object result (non-enumerable, so never serialised). */
export function attachMeta<T>(value: T, meta: ResponseMeta | undefined): T {
  if (meta && typeof value === 'object' && value !== null && Object.isExtensible(value)) {
    Object.defineProperty(value, RESPONSE_META, { value: meta, configurable: true });
  }
  return value;
}

export function metaOf(res: RequestResult<unknown>): ResponseMeta {
  return { status: res.status, requestId: res.requestId, attempts: res.attempts };
}

/** Response field kinds: `typeof` names, a decimal `money` string, `array`, `object`; `?` when optional. */
export type FieldKind =
  | 'string'
  | 'string?'
  | 'boolean'
  | 'boolean?'
  | 'money'
  | 'money?'
  | 'array'
  | 'object';

export type Fields = Readonly<Record<string, FieldKind>>;

export const CUSTOMER: Fields = { id: 'string', isInternal: 'boolean?', status: 'string?' };
export const CHARGE: Fields = { id: 'string', amountUsdc: 'money', status: 'string' };
export const WORKFLOW: Fields = { id: 'string', slug: 'string?', name: 'string?' };
export const WEBHOOK: Fields = { id: 'string', url: 'string' };
export const RUN: Fields = { id: 'string', status: 'string' };
export const API_KEY: Fields = { id: 'string' };
export const API_SECRET: Fields = { id: 'string', secretKey: 'string' };
export const PAGE_OF: Fields = { data: 'array' };
export const EVENT_SHAPE: Fields = { id: 'string', eventType: 'string' };

export function parseError(message: string, meta: ResponseMeta, data: unknown): DripError {
  const err = new DripError(message, meta.status, 'PARSE_ERROR', { body: data }, meta.requestId);
  err.attempts = meta.attempts;
  return err;
}

/**
 * Checks the response fields a method relies on (`PARSE_ERROR` naming the request and the field otherwise),
 * then attaches the metadata.
 */
export function shaped<T>(meta: ResponseMeta, data: unknown, fields: Fields, what: string): T {
  if (!isRecord(data)) throw parseError(`${what}: response is not a JSON object`, meta, data);
  for (const [name, kind] of Object.entries(fields)) {
    const v = data[name];
    const base = kind.replace('?', '');
    if (base !== kind && (v === undefined || v === null)) continue;
    // `string` and `boolean` are `typeof` names.
    const ok =
      base === 'money'
        ? typeof v === 'string' && MONEY_RE.test(v)
        : base === 'array'
          ? Array.isArray(v)
          : base === 'object'
            ? isRecord(v)
            : typeof v === base;
    if (!ok) throw parseError(`${what}: field "${name}" is missing or not a ${base}`, meta, data);
  }
  return attachMeta(data as T, meta);
}

/** `{ ...from, ...extra }` keeping the response metadata of `from`. */
export function extend<T>(from: object, extra: object): T {
  return attachMeta({ ...from, ...extra } as T, getResponseMeta(from));
}
