/**
 * The dashboard's token panel (issue 14): input, output, cached and reasoning tokens per model and per
 * customer over a period, read from the `llm.call` run events that `@drip/ai` records (one per model
 * call, spec §2.4.1 field names).
 *
 * Why the run events and not the `llm_tokens` usage: the usage carries one number per meter (by default
 * `input + output` on `llm_tokens`; with the `meters` option, each kind on a meter the app names), so
 * the split into input, output, cached and reasoning tokens is gone, and which meter means what depends
 * on the app's options. The `llm.call` event carries every kind, the model and the latency of the one
 * call, whatever the meters are, and it is recorded exactly once per call: it travels in the run record
 * whose idempotency key is derived from the call (a retried request or a redelivered record is stored
 * once). Usage still decides what is billed; this panel shows where the tokens went.
 */

import { escapeHtml as h, formatDuration, formatQuantity, formatTime } from './format';
import type { DashboardDb } from './queries';
import type { DashboardScope } from './sessions';

const DAY_MS = 86_400_000;

/**
 * The periods the panel offers (`?tokens=<period>` on the overview), in milliseconds before now;
 * `all` has no lower bound.
 *
 * @example
 * ```ts
 * TOKEN_PERIODS['7d']; // { label: 'last 7 days', ms: 604800000 }
 * ```
 */
export const TOKEN_PERIODS = {
  '24h': { label: 'last 24 hours', ms: DAY_MS },
  '7d': { label: 'last 7 days', ms: 7 * DAY_MS },
  '30d': { label: 'last 30 days', ms: 30 * DAY_MS },
  all: { label: 'all time', ms: null },
} as const satisfies Record<string, { label: string; ms: number | null }>;

/**
 * A period of the token panel.
 *
 * @example
 * ```ts
 * const period: TokenPeriod = parseTokenPeriod(c.req.query('tokens'));
 * ```
 */
export type TokenPeriod = keyof typeof TOKEN_PERIODS;

/**
 * The panel's period when the page names none: a week covers a demo and a working week alike, and keeps
 * the read bounded on a server that has been running for months.
 *
 * @example
 * ```ts
 * parseTokenPeriod(undefined) === DEFAULT_TOKEN_PERIOD; // true
 * ```
 */
export const DEFAULT_TOKEN_PERIOD: TokenPeriod = '7d';

/**
 * Reads the `tokens` query parameter; anything unknown is the default period.
 *
 * @example
 * ```ts
 * parseTokenPeriod('30d'); // '30d'
 * parseTokenPeriod('<x>'); // '7d'
 * ```
 */
export function parseTokenPeriod(value: string | undefined): TokenPeriod {
  return value !== undefined && Object.hasOwn(TOKEN_PERIODS, value)
    ? (value as TokenPeriod)
    : DEFAULT_TOKEN_PERIOD;
}

/**
 * Token sums of a group of model calls. Token counts are decimal strings (sums of stored JSON numbers,
 * exact at any size); `latencyMsAvg` is `null` when no call carried a latency.
 *
 * @example
 * ```ts
 * const t: TokenTotals = usage.total;
 * `${t.calls} calls, ${t.inputTokens} in, ${t.outputTokens} out`;
 * ```
 */
export interface TokenTotals {
  calls: number;
  /** Calls whose counts are estimates (`estimated: true`, e.g. an aborted stream). */
  estimatedCalls: number;
  inputTokens: string;
  outputTokens: string;
  /** Part of `inputTokens` read from the provider's cache. */
  cachedInputTokens: string;
  /** Part of `inputTokens` written to the provider's cache. */
  cacheWriteTokens: string;
  /** Part of `outputTokens` spent on reasoning. */
  reasoningTokens: string;
  /** `inputTokens + outputTokens`. */
  totalTokens: string;
  latencyMsAvg: number | null;
}

/**
 * Tokens of one model (`model` is `null` for `llm.call` events without a string `model`).
 *
 * @example
 * ```ts
 * usage.models.map((m: ModelTokens) => `${m.model}: ${m.totalTokens}`);
 * ```
 */
export interface ModelTokens extends TokenTotals {
  model: string | null;
}

/**
 * Tokens of one customer, with its models.
 *
 * @example
 * ```ts
 * usage.customers.find((c: CustomerTokens) => c.externalCustomerId === 'acme')?.models;
 * ```
 */
export interface CustomerTokens extends TokenTotals {
  customerId: string;
  customerLabel: string;
  externalCustomerId: string | null;
  models: ModelTokens[];
}

/**
 * What the token panel shows.
 *
 * @example
 * ```ts
 * const usage: TokenUsage = await loadTokenUsage(db, scope, '7d', Date.now());
 * ```
 */
export interface TokenUsage {
  period: TokenPeriod;
  /** Start of the period (epoch ms), `null` for `all`. */
  sinceMs: number | null;
  /**
   * Set when the period held more than {@link TOKEN_CALL_LIMIT} calls: the numbers then cover the calls
   * recorded after this time (epoch ms), every one of them.
   */
  cutAtMs: number | null;
  total: TokenTotals;
  /** The {@link TOKEN_MODEL_LIMIT} models with the most tokens. */
  models: ModelTokens[];
  modelCount: number;
  /** The {@link TOKEN_CUSTOMER_LIMIT} customers with the most tokens, each with its models. */
  customers: CustomerTokens[];
  customerCount: number;
}

/**
 * Most models listed in the panel (the totals cover all of them).
 *
 * @example
 * ```ts
 * usage.models.length <= TOKEN_MODEL_LIMIT; // true
 * ```
 */
export const TOKEN_MODEL_LIMIT = 50;
/**
 * Most customers listed in the panel, those with the most tokens first (the totals cover all of them).
 *
 * @example
 * ```ts
 * usage.customers.length <= TOKEN_CUSTOMER_LIMIT; // true
 * ```
 */
export const TOKEN_CUSTOMER_LIMIT = 50;
/** Most (customer, model) rows: a customer calls few models, but model names come from users. */
const PAIR_LIMIT = 500;

type Row = Record<string, unknown>;

// A token field as a number, or 0: run events are schema-flexible, so any client may send an `llm.call`
// whose fields are strings, objects or missing, and one such event must not fail the page (a cast of a
// non-number would).
const n = (field: string) =>
  `CASE WHEN jsonb_typeof(attributes->'${field}') = 'number' THEN (attributes->>'${field}')::numeric ELSE 0 END`;

const msOf = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;

const SUMS = `sum(calls)::text AS calls, sum(estimated)::text AS estimated, sum(input)::text AS input,
  sum(output)::text AS output, sum(cached)::text AS cached, sum(cache_write)::text AS cache_write,
  sum(reasoning)::text AS reasoning, sum(latency_sum)::text AS latency_sum, sum(latency_n)::text AS latency_n`;

/**
 * Most `llm.call` events one page load sums. The panel reads the most recent calls of the period through
 * the partial index `events_llm_calls` (newest first, so the read is bounded whatever the table holds);
 * when the period has more, it sums the calls recorded after the time of the oldest call it read, and
 * says from when. That window is exact: every call after that time is among those read.
 *
 * @example
 * ```ts
 * usage.cutAtMs !== null; // the period held more than TOKEN_CALL_LIMIT calls
 * ```
 */
export const TOKEN_CALL_LIMIT = 10_000;

/**
 * The newest calls of the period (at most {@link TOKEN_CALL_LIMIT} + 1), cut at a time boundary, grouped
 * by customer and model; the models, the top customers, their models and the totals are then read from
 * that small grouped set. The lower bound is a parameter (`-infinity` for all time) so that every period
 * has the same plan.
 */
const TOKENS_SQL = `WITH recent AS MATERIALIZED (
  SELECT customer_id, attributes, created_at FROM events
  WHERE project_id = $1 AND mode = $2 AND kind = 'run' AND event_type = 'llm.call' AND created_at >= $3::timestamptz
  ORDER BY created_at DESC LIMIT ${TOKEN_CALL_LIMIT + 1}
),
cut AS (
  SELECT CASE WHEN count(*) > ${TOKEN_CALL_LIMIT} THEN min(created_at) END AS at FROM recent
),
g AS MATERIALIZED (
  SELECT customer_id,
    CASE WHEN jsonb_typeof(attributes->'model') = 'string' THEN attributes->>'model' END AS model,
    count(*) AS calls,
    count(*) FILTER (WHERE attributes->'estimated' = 'true'::jsonb) AS estimated,
    sum(${n('inputTokens')}) AS input,
    sum(${n('outputTokens')}) AS output,
    sum(${n('cachedInputTokens')}) AS cached,
    sum(${n('cacheWriteTokens')}) AS cache_write,
    sum(${n('reasoningTokens')}) AS reasoning,
    sum(${n('latencyMs')}) AS latency_sum,
    count(*) FILTER (WHERE jsonb_typeof(attributes->'latencyMs') = 'number') AS latency_n
  FROM recent WHERE created_at > coalesce((SELECT at FROM cut), '-infinity'::timestamptz)
  GROUP BY 1, 2
),
top_c AS (
  SELECT customer_id FROM g GROUP BY customer_id
  ORDER BY sum(input + output) DESC, customer_id LIMIT ${TOKEN_CUSTOMER_LIMIT}
)
(SELECT 'total' AS level, NULL::text AS customer_id, NULL::text AS model, ${SUMS},
   (SELECT count(*) FROM (SELECT DISTINCT model FROM g) m)::text AS models_n,
   (SELECT count(DISTINCT customer_id) FROM g)::text AS customers_n,
   (SELECT ${msOf('at')} FROM cut)::text AS cut_ms
 FROM g)
UNION ALL
(SELECT 'model', NULL, model, ${SUMS}, NULL, NULL, NULL FROM g GROUP BY model
 ORDER BY sum(input + output) DESC, model LIMIT ${TOKEN_MODEL_LIMIT})
UNION ALL
(SELECT 'customer', customer_id, NULL, ${SUMS}, NULL, NULL, NULL FROM g
 WHERE customer_id IN (SELECT customer_id FROM top_c) GROUP BY customer_id)
UNION ALL
(SELECT 'pair', customer_id, model, calls::text, estimated::text, input::text, output::text, cached::text,
   cache_write::text, reasoning::text, latency_sum::text, latency_n::text, NULL, NULL, NULL
 FROM g WHERE customer_id IN (SELECT customer_id FROM top_c)
 ORDER BY input + output DESC, customer_id, model LIMIT ${PAIR_LIMIT})`;

function text(v: unknown): string {
  return v === null || v === undefined ? '0' : String(v);
}

function totalsOf(r: Row): TokenTotals {
  const latencyN = Number(text(r.latency_n));
  const input = text(r.input);
  const output = text(r.output);
  return {
    calls: Number(text(r.calls)),
    estimatedCalls: Number(text(r.estimated)),
    inputTokens: input,
    outputTokens: output,
    cachedInputTokens: text(r.cached),
    cacheWriteTokens: text(r.cache_write),
    reasoningTokens: text(r.reasoning),
    totalTokens: addDecimals(input, output),
    latencyMsAvg: latencyN > 0 ? Number(text(r.latency_sum)) / latencyN : null,
  };
}

/** Adds two decimal strings exactly (token sums may pass 2^53, and user data may hold fractions). */
function addDecimals(a: string, b: string): string {
  const scale = Math.max(fractionDigits(a), fractionDigits(b));
  const sum = scaled(a, scale) + scaled(b, scale);
  if (scale === 0) return sum.toString();
  const negative = sum < 0n;
  const digits = (negative ? -sum : sum).toString().padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

function fractionDigits(v: string): number {
  const dot = v.indexOf('.');
  return dot < 0 ? 0 : v.length - dot - 1;
}

function scaled(v: string, scale: number): bigint {
  const [whole = '0', frac = ''] = v.split('.');
  const negative = whole.startsWith('-');
  const magnitude = BigInt((negative ? whole.slice(1) : whole) + frac.padEnd(scale, '0'));
  return negative ? -magnitude : magnitude;
}

function byTokens(a: TokenTotals & { key: string }, b: TokenTotals & { key: string }): number {
  return Number(b.totalTokens) - Number(a.totalTokens) || a.key.localeCompare(b.key);
}

/**
 * Reads the token panel's numbers for one project and mode: the `llm.call` events recorded at or after
 * `nowMs` minus the period, summed per model, per customer and per customer and model.
 *
 * @example
 * ```ts
 * const usage = await loadTokenUsage(db, { projectId: 'proj_1', mode: 'test' }, '24h', Date.now());
 * usage.models.map((m) => `${m.model}: ${m.inputTokens} in, ${m.outputTokens} out`);
 * ```
 */
export async function loadTokenUsage(
  db: DashboardDb,
  scope: DashboardScope,
  period: TokenPeriod,
  nowMs: number,
): Promise<TokenUsage> {
  const ms = TOKEN_PERIODS[period].ms;
  const sinceMs = ms === null ? null : nowMs - ms;
  const rows = await db.query<Row>(TOKENS_SQL, [
    scope.projectId,
    scope.mode,
    sinceMs === null ? '-infinity' : new Date(sinceMs).toISOString(),
  ]);
  const models: Array<ModelTokens & { key: string }> = [];
  const customers = new Map<string, CustomerTokens & { key: string }>();
  const pairs: Row[] = [];
  let total: TokenTotals = totalsOf({});
  let modelCount = 0;
  let customerCount = 0;
  let cutAtMs: number | null = null;
  for (const r of rows) {
    const level = String(r.level);
    if (level === 'total') {
      // No call in the period: the aggregate row has null sums and counts of zero.
      total = totalsOf(r);
      modelCount = Number(text(r.models_n));
      customerCount = Number(text(r.customers_n));
      cutAtMs = r.cut_ms === null || r.cut_ms === undefined ? null : Number(r.cut_ms);
    } else if (level === 'model') {
      const model = r.model === null || r.model === undefined ? null : String(r.model);
      models.push({ ...totalsOf(r), model, key: model ?? '' });
    } else if (level === 'customer') {
      const id = String(r.customer_id);
      customers.set(id, {
        ...totalsOf(r),
        customerId: id,
        customerLabel: id,
        externalCustomerId: null,
        models: [],
        key: id,
      });
    } else {
      pairs.push(r);
    }
  }
  if (customers.size > 0) {
    const labels = await db.query<Row>(
      `SELECT id, name, external_customer_id FROM customers
       WHERE project_id = $1 AND mode = $2 AND id = ANY($3::text[])`,
      [scope.projectId, scope.mode, [...customers.keys()]],
    );
    for (const l of labels) {
      const c = customers.get(String(l.id));
      if (!c) continue;
      c.externalCustomerId =
        l.external_customer_id === null || l.external_customer_id === undefined
          ? null
          : String(l.external_customer_id);
      c.customerLabel = (l.name ? String(l.name) : '') || c.externalCustomerId || c.customerId;
      c.key = c.customerLabel;
    }
  }
  for (const r of pairs) {
    const c = customers.get(String(r.customer_id));
    const model = r.model === null || r.model === undefined ? null : String(r.model);
    c?.models.push({ ...totalsOf(r), model });
  }
  const strip = <T extends { key: string }>({ key: _key, ...rest }: T): Omit<T, 'key'> => rest;
  return {
    period,
    sinceMs,
    cutAtMs,
    total,
    models: models.sort(byTokens).map(strip),
    modelCount,
    customers: [...customers.values()].sort(byTokens).map((c) => {
      const { key: _key, ...rest } = c;
      rest.models.sort(
        (a, b) =>
          Number(b.totalTokens) - Number(a.totalTokens) || (a.model ?? '').localeCompare(b.model ?? ''),
      );
      return rest;
    }),
    customerCount,
  };
}

/** A model name as shown: `null` (an `llm.call` without a string model) as a dash. */
function modelCell(model: string | null): string {
  return model === null ? '<span class="muted">(no model)</span>' : `<code>${h(model)}</code>`;
}

interface Columns {
  cached: boolean;
  cacheWrite: boolean;
  reasoning: boolean;
  estimated: boolean;
}

function isZero(v: string): boolean {
  return /^-?0*(\.0*)?$/.test(v);
}

function heads(cols: Columns): string {
  return [
    '<th class="num">Calls</th>',
    cols.estimated
      ? '<th class="num" title="counts estimated, e.g. from an aborted stream">Estimated</th>'
      : '',
    '<th class="num">Input</th>',
    cols.cached ? '<th class="num">of which cached</th>' : '',
    cols.cacheWrite ? '<th class="num">of which cache write</th>' : '',
    '<th class="num">Output</th>',
    cols.reasoning ? '<th class="num">of which reasoning</th>' : '',
    '<th class="num">Total</th>',
    '<th class="num">Avg latency</th>',
  ].join('');
}

function cells(t: TokenTotals, cols: Columns): string {
  const q = (col: string, v: string) => `<td class="num" data-col="${col}">${h(formatQuantity(v))}</td>`;
  return [
    `<td class="num" data-col="calls">${t.calls.toLocaleString('en-US')}</td>`,
    cols.estimated
      ? `<td class="num" data-col="estimated">${t.estimatedCalls.toLocaleString('en-US')}</td>`
      : '',
    q('input', t.inputTokens),
    cols.cached ? q('cached', t.cachedInputTokens) : '',
    cols.cacheWrite ? q('cache-write', t.cacheWriteTokens) : '',
    q('output', t.outputTokens),
    cols.reasoning ? q('reasoning', t.reasoningTokens) : '',
    q('total', t.totalTokens),
    `<td class="num" data-col="latency">${h(formatDuration(t.latencyMsAvg))}</td>`,
  ].join('');
}

/**
 * The panel's HTML: period links, then tokens per model and per customer (each customer's models below
 * it). Cached, cache-write, reasoning and estimated columns appear only when the period has some.
 *
 * @example
 * ```ts
 * const html = renderTokenUsage(await loadTokenUsage(db, scope, '7d', Date.now()));
 * ```
 */
export function renderTokenUsage(u: TokenUsage): string {
  const links = (Object.keys(TOKEN_PERIODS) as TokenPeriod[])
    .map((p) =>
      p === u.period
        ? `<strong aria-current="true">${h(TOKEN_PERIODS[p].label)}</strong>`
        : `<a href="/?tokens=${h(p)}#tokens" data-period="${h(p)}">${h(TOKEN_PERIODS[p].label)}</a>`,
    )
    .join(' · ');
  const head = `<section class="card" id="tokens" data-testid="tokens" data-period="${h(u.period)}"><h2>Tokens by model and customer <span class="hint">from <code>llm.call</code> run events, ${h(TOKEN_PERIODS[u.period].label)}</span></h2>
<p class="periods">Period: ${links}</p>${
    u.cutAtMs === null
      ? ''
      : `<p class="muted" data-testid="tokens-cut">More than ${TOKEN_CALL_LIMIT.toLocaleString('en-US')} calls in this period: the numbers below cover every call recorded after ${h(formatTime(u.cutAtMs))}.</p>`
  }`;
  if (u.total.calls === 0) {
    return `${head}<p class="empty">No model calls in this period. Calls made through <code>@drip/ai</code> (or any <code>llm.call</code> run event with <code>model</code>, <code>inputTokens</code> and <code>outputTokens</code>) show here.</p></section>`;
  }
  const t = u.total;
  const cols: Columns = {
    cached: !isZero(t.cachedInputTokens),
    cacheWrite: !isZero(t.cacheWriteTokens),
    reasoning: !isZero(t.reasoningTokens),
    estimated: t.estimatedCalls > 0,
  };
  const summary = `<p data-testid="tokens-total">${t.calls.toLocaleString('en-US')} call${t.calls === 1 ? '' : 's'} of ${u.modelCount.toLocaleString('en-US')} model${u.modelCount === 1 ? '' : 's'} for ${u.customerCount.toLocaleString('en-US')} customer${u.customerCount === 1 ? '' : 's'}: <strong>${h(formatQuantity(t.inputTokens))}</strong> input and <strong>${h(formatQuantity(t.outputTokens))}</strong> output tokens${t.estimatedCalls > 0 ? ` <span class="muted">(${t.estimatedCalls.toLocaleString('en-US')} estimated)</span>` : ''}.</p>`;
  const modelRows = u.models
    .map(
      (m) =>
        `<tr data-testid="token-model" data-model="${h(m.model ?? '')}"><td>${modelCell(m.model)}</td>${cells(m, cols)}</tr>`,
    )
    .join('\n');
  const modelsCut =
    u.modelCount > u.models.length
      ? `<p class="muted">The ${u.models.length} models with the most tokens of ${u.modelCount.toLocaleString('en-US')}.</p>`
      : '';
  const customerRows = u.customers
    .map((c) => {
      const attr = h(c.externalCustomerId ?? c.customerId);
      const own = c.models
        .map(
          (m) =>
            `<tr data-testid="token-pair" data-customer="${attr}" data-model="${h(m.model ?? '')}" class="sub"><td></td><td>${modelCell(m.model)}</td>${cells(m, cols)}</tr>`,
        )
        .join('\n');
      return `<tr data-testid="token-customer" data-customer="${attr}" class="group"><td><strong>${h(c.customerLabel)}</strong><br><code class="muted">${h(c.customerId)}</code></td><td class="muted">all models</td>${cells(c, cols)}</tr>\n${own}`;
    })
    .join('\n');
  const customersCut =
    u.customerCount > u.customers.length
      ? `<p class="muted">The ${u.customers.length} customers with the most tokens of ${u.customerCount.toLocaleString('en-US')}.</p>`
      : '';
  return `${head}${summary}
<h3>By model</h3>${modelsCut}
<table class="data tokens"><thead><tr><th>Model</th>${heads(cols)}</tr></thead><tbody>${modelRows}</tbody></table>
<h3>By customer</h3>${customersCut}
<table class="data tokens"><thead><tr><th>Customer</th><th>Model</th>${heads(cols)}</tr></thead><tbody>${customerRows}</tbody></table></section>`;
}
