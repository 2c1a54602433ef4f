/**
 * What a metered request's records say besides quantities: metadata (allowlisted headers, your fields,
 * redaction by key name), the run's default metadata and workflow slug per route, its correlation id
 * (W3C `traceparent` or the active OpenTelemetry span) and its timestamps.
 */

import { isRecord } from '../errors';
import { workflowSlug } from './route';
import type { MeterState, RouteInfo } from './state';
import type { RequestView } from './types';

/** Metadata keys redacted by default (one pattern: any of these words, any case). */
export const DEFAULT_REDACT = /authorization|cookie|password|secret|token|api[-_]?key/i;
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/;
/** The all-zero trace id, which W3C Trace Context defines as invalid. */
const ZERO_TRACE = '00000000000000000000000000000000';
const OTEL_API = Symbol.for('opentelemetry.js.api.1');
const OTEL_SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');

/** The trace id of a W3C `traceparent` header, else of the active OpenTelemetry span, if any. */
export function traceIdFrom(view: RequestView): string | undefined {
  const tp = view.header('traceparent');
  if (tp) {
    const m = TRACEPARENT.exec(tp.trim().toLowerCase());
    if (m?.[1] && m[1] !== ZERO_TRACE) return m[1];
  }
  const api = (globalThis as Record<symbol, unknown>)[OTEL_API] as
    | { context?: { active?: () => { getValue?: (k: symbol) => unknown } } }
    | undefined;
  if (!api?.context?.active) return undefined;
  try {
    const span = api.context.active()?.getValue?.(OTEL_SPAN_KEY) as
      | { spanContext?: () => { traceId?: string } }
      | undefined;
    const id = span?.spanContext?.().traceId;
    return id && id !== ZERO_TRACE ? id : undefined;
  } catch {
    return undefined;
  }
}

let isoMs: number | undefined;
let isoText = '';
let isoPrevMs: number | undefined;
let isoPrevText = '';
/**
 * ISO 8601 of an epoch ms, remembering the last two: a request asks for its start and its end, and under
 * load requests start and end in the same few milliseconds, so one remembered value would be replaced on
 * every call (start, end, next start...) and miss.
 */
export function isoTime(ms: number): string {
  if (ms === isoMs) return isoText;
  if (ms === isoPrevMs) return isoPrevText;
  isoPrevMs = isoMs;
  isoPrevText = isoText;
  isoText = new Date(ms).toISOString();
  isoMs = ms;
  return isoText;
}

/** Workflow slug of a route, cached on the route. */
export function routeSlug(info: RouteInfo): string {
  if (info.slug === undefined) info.slug = workflowSlug(info.method, info.route);
  return info.slug;
}

/** Default run metadata of a route and status, cached on the route. */
export function runMeta(info: RouteInfo, status: number): Readonly<Record<string, unknown>> {
  let byStatus = info.byStatus;
  if (byStatus === undefined) {
    byStatus = new Map();
    info.byStatus = byStatus;
  }
  let m = byStatus.get(status);
  if (m === undefined) {
    m = Object.freeze({ ...info.meta, status });
    if (byStatus.size < 100) byStatus.set(status, m);
  }
  return m;
}

function redact(value: unknown, rules: Array<string | RegExp>, depth: number): unknown {
  if (!isRecord(value) || depth > 5) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const hit = rules.some((r) => (typeof r === 'string' ? r.toLowerCase() === k.toLowerCase() : r.test(k)));
    out[k] = hit ? '[redacted]' : redact(v, rules, depth + 1);
  }
  return out;
}

/**
 * Metadata of a request's records: `undefined` under `metadata: false`, the route's shared frozen
 * `{ method, route }` by default, else the allowlisted headers and your fields, redacted.
 */
export function recordMetadata<Req>(
  state: MeterState<Req>,
  view: RequestView<Req>,
  info: RouteInfo,
): Record<string, unknown> | undefined {
  const opt = state.options.metadata;
  if (opt === false) return undefined;
  if (!opt) return info.meta;
  const meta: Record<string, unknown> = { method: view.method, route: info.route };
  for (const h of state.metaHeaders) {
    const v = view.header(h);
    if (v !== undefined) meta[h] = v;
  }
  if (opt.fields) {
    try {
      const extra = opt.fields(view.raw, view);
      if (isRecord(extra)) Object.assign(meta, extra);
    } catch (err) {
      state.error(err, 'finish');
    }
  }
  return redact(meta, state.redact, 0) as Record<string, unknown>;
}
