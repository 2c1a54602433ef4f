import {
  escapeHtml as h,
  formatDuration,
  formatQuantity,
  formatTime,
  formatUsdc,
  formatValue,
  jsonForScript,
} from './format';
import type { Overview, RunEventView, RunView } from './queries';
import type { DashboardScope } from './sessions';

/**
 * Asset paths; they live under `/dashboard/` so they never collide with the API's unprefixed aliases.
 *
 * @example
 * ```ts
 * `<script src="${ASSET_PATHS.chart}"></script>`
 * ```
 */
export const ASSET_PATHS = {
  css: '/dashboard/assets/dashboard.css',
  js: '/dashboard/assets/dashboard.js',
  chart: '/dashboard/vendor/chart.umd.min.js',
} as const;

interface LayoutOptions {
  title: string;
  version: string;
  scope?: DashboardScope;
  projectName?: string;
  body: string;
  scripts?: boolean;
}

function layout(o: LayoutOptions): string {
  const header = o.scope
    ? `<header class="top">
  <a class="brand" href="/">Drip <span>local</span></a>
  <span class="project" data-testid="project">${h(o.projectName ?? o.scope.projectId)}</span>
  <span class="mode mode-${h(o.scope.mode)}">${h(o.scope.mode)} mode</span>
  <form method="post" action="/logout" class="logout"><button type="submit">Log out</button></form>
</header>`
    : `<header class="top"><a class="brand" href="/">Drip <span>local</span></a></header>`;
  const scripts = o.scripts
    ? `<script src="${ASSET_PATHS.chart}"></script><script src="${ASSET_PATHS.js}"></script>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(o.title)} · Drip local</title>
<link rel="stylesheet" href="${ASSET_PATHS.css}">
<link rel="icon" href="data:,">
</head>
<body>
${header}
<main>
${o.body}
</main>
<footer>drip-server ${h(o.version)} · data shown in UTC · money in USDC</footer>
${scripts}
</body>
</html>`;
}

function statusBadge(status: string): string {
  return `<span class="badge status-${h(status.toLowerCase())}">${h(status)}</span>`;
}

/**
 * The login page: a secret-key form. `error` is shown above the form.
 *
 * @example
 * ```ts
 * c.html(renderLogin('1.0.0', 'Unknown key'), 401);
 * ```
 */
export function renderLogin(version: string, error?: string): string {
  return layout({
    title: 'Log in',
    version,
    body: `<section class="card login">
  <h1>Log in to the dashboard</h1>
  <p>Paste the project's <strong>secret key</strong> (<code>sk_test_…</code> or <code>sk_live_…</code>), or open the
  one-time login link the server printed when it started.</p>
  ${error ? `<p class="error" role="alert">${h(error)}</p>` : ''}
  <form method="post" action="/login">
    <label for="key">Secret key</label>
    <input id="key" name="key" type="password" autocomplete="off" spellcheck="false" required>
    <button type="submit">Log in</button>
  </form>
</section>`,
  });
}

/**
 * The page a one-time login link shows when another site sent the visitor to it: the link is only
 * redeemed by a click on this page (a same-origin form post), so no site can log a visitor into a
 * project of its choosing.
 *
 * @example
 * ```ts
 * c.html(renderLoginLinkConfirm('1.0.0', token));
 * ```
 */
export function renderLoginLinkConfirm(version: string, token: string): string {
  return layout({
    title: 'Open the dashboard',
    version,
    body: `<section class="card login">
  <h1>Open the dashboard?</h1>
  <p>Another site sent you to this one-time login link. Continue only if you asked the Drip server for it.</p>
  <form method="post" action="/login/${h(encodeURIComponent(token))}">
    <button type="submit" data-testid="confirm-login">Open the dashboard</button>
  </form>
</section>`,
  });
}

/**
 * A small page for errors (expired link, unknown run).
 *
 * @example
 * ```ts
 * c.html(renderMessage('1.0.0', 'Link expired', 'Ask for a new one.'), 410);
 * ```
 */
export function renderMessage(
  version: string,
  title: string,
  message: string,
  scope?: DashboardScope,
): string {
  return layout({
    title,
    version,
    ...(scope ? { scope } : {}),
    body: `<section class="card"><h1>${h(title)}</h1><p>${h(message)}</p><p><a href="/">Back to the dashboard</a></p></section>`,
  });
}

function customerName(c: Overview['customers'][number]): string {
  return c.name || c.externalCustomerId || c.id;
}

function kpi(label: string, value: string, testId: string, sub = ''): string {
  return `<div class="kpi"><div class="kpi-label">${h(label)}</div><div class="kpi-value" data-testid="${h(testId)}">${h(value)}</div>${sub ? `<div class="kpi-sub">${sub}</div>` : ''}</div>`;
}

function runsTable(runs: RunView[]): string {
  if (runs.length === 0) return '<p class="empty">No runs yet.</p>';
  const rows = runs
    .map(
      (r) => `<tr data-testid="run-row" data-run-id="${h(r.id)}">
  <td><a href="/dashboard/runs/${encodeURIComponent(r.id)}"><code>${h(r.id)}</code></a></td>
  <td>${h(r.customerLabel)}</td>
  <td>${h(r.workflowName)}</td>
  <td>${statusBadge(r.status)}</td>
  <td class="num">${h(formatDuration(r.durationMs))}</td>
  <td class="num">${r.eventCount}</td>
  <td>${h(formatTime(r.startedAtMs ?? r.createdAtMs))}</td>
</tr>`,
    )
    .join('\n');
  return `<table class="data"><thead><tr><th>Run</th><th>Customer</th><th>Workflow</th><th>Status</th><th class="num">Duration</th><th class="num">Events</th><th>Started</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/**
 * The overview page: customers with usage per meter (table and chart), balances and charges, the token
 * panel (`tokens`, HTML from `renderTokenUsage`), recent runs, webhook deliveries.
 *
 * @example
 * ```ts
 * c.html(renderOverview(overview, scope, '1.0.0'));
 * ```
 */
export function renderOverview(
  o: Overview,
  scope: DashboardScope,
  version: string,
  problems = '',
  tokens = '',
): string {
  const statusSummary = Object.entries(o.runsByStatus)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `<span data-testid="runs-${h(s.toLowerCase())}">${statusBadge(s)} ${n}</span>`)
    .join(' ');
  const kpis = `<section class="kpis">
${kpi('Customers', o.customerCount.toLocaleString('en-US'), 'kpi-customers')}
${kpi('Usage events', o.totals.usageEvents.toLocaleString('en-US'), 'kpi-usage-events')}
${kpi('Runs', o.runCount.toLocaleString('en-US'), 'kpi-runs', statusSummary)}
${kpi('Run events', o.totals.runEvents.toLocaleString('en-US'), 'kpi-run-events')}
${kpi('Charged (confirmed)', formatUsdc(o.totals.chargedMicros), 'kpi-charged', o.totals.pendingMicros !== '0' ? `${h(formatUsdc(o.totals.pendingMicros))} pending` : '')}
</section>`;

  const chartData = {
    bucketSeconds: o.usageSeries.bucketSeconds,
    meters: o.meters,
    customers: Object.fromEntries(o.customers.map((c) => [c.id, customerName(c)])),
    points: o.usageSeries.points,
  };
  const meterOptions = o.meters.map((m) => `<option value="${h(m)}">${h(m)}</option>`).join('');
  const chart =
    o.meters.length === 0
      ? '<p class="empty">No usage recorded yet. Send traffic through the API (for example <code>POST /v1/usage/internal</code>) and reload.</p>'
      : `<div class="chart-controls"><label for="meter">Meter</label> <select id="meter">${meterOptions}</select>
  <span class="hint">stacked per customer, by the time the server recorded it, ${h(bucketLabel(o.usageSeries.bucketSeconds))} buckets${o.usageSeries.windowed ? ', the last 24 hours of activity' : ''}</span></div>
<div class="chart-box"><canvas id="usage-chart" aria-label="Usage per customer over time"></canvas></div>
<script type="application/json" id="usage-data">${jsonForScript(chartData)}</script>`;

  const meterHeads = o.meters.map((m) => `<th class="num">${h(m)}</th>`).join('');
  const customerRows = o.customers
    .map((c) => {
      const available = (BigInt(c.balanceMicros) - BigInt(c.pendingMicros)).toString();
      const confirmed = c.charges.CONFIRMED ?? { count: 0, amountMicros: '0' };
      const failed = c.charges.FAILED?.count ?? 0;
      const usageCells = o.meters
        .map((m) => `<td class="num" data-meter="${h(m)}">${h(formatQuantity(c.usage[m] ?? '0'))}</td>`)
        .join('');
      return `<tr data-testid="customer-row" data-customer="${h(c.externalCustomerId ?? c.id)}">
  <td><strong>${h(customerName(c))}</strong>${c.isInternal ? ' <span class="badge">internal</span>' : ''}<br><code class="muted">${h(c.id)}</code></td>
  <td>${statusBadge(c.status)}</td>
  ${usageCells}
  <td class="num" data-col="balance">${h(formatUsdc(c.balanceMicros))}</td>
  <td class="num" data-col="available">${h(formatUsdc(available))}</td>
  <td class="num" data-col="charged">${h(formatUsdc(confirmed.amountMicros))}<br><span class="muted">${confirmed.count} charge${confirmed.count === 1 ? '' : 's'}${failed ? `, ${failed} failed` : ''}</span></td>
</tr>`;
    })
    .join('\n');
  const customers =
    o.customers.length === 0
      ? '<p class="empty">No customers yet.</p>'
      : `${o.customerCount > o.customers.length ? `<p class="muted">The first ${o.customers.length} of ${o.customerCount.toLocaleString('en-US')} customers; <code>GET /v1/customers</code> lists them all.</p>` : ''}<table class="data"><thead><tr><th>Customer</th><th>Status</th>${meterHeads}<th class="num">Balance</th><th class="num">Available</th><th class="num">Charged</th></tr></thead><tbody>${customerRows}</tbody></table>`;

  const charges =
    o.recentCharges.length === 0
      ? '<p class="empty">No charges yet. Usage sent to <code>POST /v1/usage</code> (the official client\'s <code>charge()</code>) is charged against the customer\'s balance.</p>'
      : `<table class="data"><thead><tr><th>Charge</th><th>Customer</th><th>Usage</th><th class="num">Amount</th><th>Status</th><th>At</th></tr></thead><tbody>${o.recentCharges
          .map(
            (
              ch,
            ) => `<tr data-testid="charge-row"><td><code>${h(ch.id)}</code></td><td>${h(ch.customerLabel)}</td>
  <td>${h(formatQuantity(ch.quantity))} ${h(ch.usageType ?? '')}</td><td class="num">${h(formatUsdc(ch.amountMicros))}</td>
  <td>${statusBadge(ch.status)}${ch.failureReason ? ` <span class="muted">${h(ch.failureReason)}</span>` : ''}</td><td>${h(formatTime(ch.createdAtMs))}</td></tr>`,
          )
          .join('\n')}</tbody></table>`;

  const deliveries =
    o.deliveries.length === 0
      ? '<p class="empty">No webhook deliveries yet. Register an endpoint with <code>POST /v1/webhooks</code>.</p>'
      : `<table class="data"><thead><tr><th>Event</th><th>Endpoint</th><th>Status</th><th class="num">Attempts</th><th class="num">Response</th><th>Created</th><th>Next attempt</th></tr></thead><tbody>${o.deliveries
          .map(
            (d) => `<tr data-testid="delivery-row"><td>${h(d.eventType)}</td><td><code>${h(d.url)}</code></td>
  <td>${statusBadge(d.status)}${d.lastError ? `<br><span class="muted">${h(d.lastError)}</span>` : ''}</td><td class="num">${d.attempts}</td>
  <td class="num">${d.responseCode ?? '—'}</td><td>${h(formatTime(d.createdAtMs))}</td><td>${h(d.status === 'PENDING' ? formatTime(d.nextAttemptAtMs) : '—')}</td></tr>`,
          )
          .join('\n')}</tbody></table>`;

  return layout({
    title: o.projectName,
    version,
    scope,
    projectName: o.projectName,
    scripts: o.meters.length > 0,
    body: `${kpis}${problems}
<section class="card"><h2>Usage per meter over time</h2>${chart}</section>
<section class="card"><h2>Customers, usage and balances</h2>${customers}</section>
${tokens}
<section class="card"><h2>Recent runs${o.runCount > o.recentRuns.length ? ` <span class="hint">(the ${o.recentRuns.length} most recent of ${o.runCount.toLocaleString('en-US')})</span>` : ''}</h2>${runsTable(o.recentRuns)}</section>
<section class="card"><h2>Recent charges</h2>${charges}</section>
<section class="card"><h2>Webhook deliveries</h2>${deliveries}</section>`,
  });
}

function bucketLabel(seconds: number): string {
  if (seconds < 60) return `${seconds}-second`;
  if (seconds < 3600) return `${seconds / 60}-minute`;
  if (seconds < 86400) return `${seconds / 3600}-hour`;
  return `${seconds / 86400}-day`;
}

function attributeChips(e: RunEventView): string {
  if (!e.attributes) return '';
  const chips = Object.entries(e.attributes)
    .map(
      ([k, v]) =>
        `<span class="chip" data-attr="${h(k)}"><span class="chip-key">${h(k)}</span> ${h(formatValue(v))}</span>`,
    )
    .join(' ');
  return `<div class="chips">${chips}</div>`;
}

/** A finite JSON number attribute, else `undefined` (event fields are whatever the client sent). */
function numberAttr(attrs: Record<string, unknown> | null, key: string): number | undefined {
  const v = attrs?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function tokens(v: number | undefined): string {
  return v === undefined ? '—' : v.toLocaleString('en-US', { maximumFractionDigits: 6 });
}

/**
 * The readable line of a model or tool call (the conventions of spec §2.4.1 and `@drip/ai`): model,
 * tokens in and out with their cached and reasoning parts, latency, time to first token, finish reason and
 * whether the counts are estimates; for a tool, its name and duration. Other events get none; every field
 * still shows as a chip below.
 */
function callSummary(e: RunEventView): string {
  const a = e.attributes;
  if (e.eventType === 'llm.call') {
    const model = a?.model;
    const provider = a?.provider;
    const cached = numberAttr(a, 'cachedInputTokens');
    const written = numberAttr(a, 'cacheWriteTokens');
    const reasoning = numberAttr(a, 'reasoningTokens');
    const inParts = [
      cached ? `${tokens(cached)} cached` : '',
      written ? `${tokens(written)} cache write` : '',
    ].filter(Boolean);
    const latency = numberAttr(a, 'latencyMs');
    const ttft = numberAttr(a, 'timeToFirstTokenMs');
    const finish = a?.finishReason;
    const parts = [
      `<code data-testid="call-model">${h(model === undefined ? '(no model)' : formatValue(model))}</code>${provider === undefined ? '' : ` <span class="muted">${h(formatValue(provider))}</span>`}`,
      `<span data-testid="call-tokens"><strong>${h(tokens(numberAttr(a, 'inputTokens')))}</strong> in${inParts.length > 0 ? ` <span class="muted">(${h(inParts.join(', '))})</span>` : ''} → <strong>${h(tokens(numberAttr(a, 'outputTokens')))}</strong> out${reasoning ? ` <span class="muted">(${h(tokens(reasoning))} reasoning)</span>` : ''}</span>`,
      latency === undefined ? '' : `<span data-testid="call-latency">${h(formatDuration(latency))}</span>`,
      ttft === undefined
        ? ''
        : `<span data-testid="call-ttft">first token after ${h(formatDuration(ttft))}</span>`,
      finish === undefined ? '' : `<span class="muted">finish: ${h(formatValue(finish))}</span>`,
    ].filter(Boolean);
    const flags = [
      a?.estimated === true
        ? '<span class="badge status-pending" data-testid="call-estimated" title="token counts are estimates">estimated</span>'
        : '',
      a?.aborted === true ? '<span class="badge status-cancelled">aborted</span>' : '',
    ].join(' ');
    return `<div class="call" data-testid="llm-call">${parts.join(' · ')} ${flags}</div>`;
  }
  if (e.eventType === 'tool.call') {
    const name = a?.name;
    const duration = numberAttr(a, 'duration') ?? numberAttr(a, 'durationMs');
    const parts = [
      `<code data-testid="call-tool">${h(name === undefined ? '(no name)' : formatValue(name))}</code>`,
      duration === undefined ? '' : `<span data-testid="call-duration">${h(formatDuration(duration))}</span>`,
    ].filter(Boolean);
    const failed = a?.success === false ? ' <span class="badge status-failed">failed</span>' : '';
    return `<div class="call" data-testid="tool-call">${parts.join(' · ')}${failed}</div>`;
  }
  return '';
}

/** The run's model calls in one line of facts: calls, tokens in and out, summed latency. */
function runTokenFact(events: readonly RunEventView[]): string | undefined {
  let calls = 0;
  let input = 0;
  let output = 0;
  let estimated = 0;
  for (const e of events) {
    if (e.eventType !== 'llm.call') continue;
    calls++;
    input += numberAttr(e.attributes, 'inputTokens') ?? 0;
    output += numberAttr(e.attributes, 'outputTokens') ?? 0;
    if (e.attributes?.estimated === true) estimated++;
  }
  if (calls === 0) return undefined;
  return `<span data-testid="run-tokens">${h(tokens(input))} in → ${h(tokens(output))} out</span> <span class="muted">in ${calls} model call${calls === 1 ? '' : 's'}${estimated > 0 ? `, ${estimated} estimated` : ''}</span>`;
}

/**
 * The run page: the run's facts (with the tokens of its model calls) and its timeline of events: a
 * readable line for each model call (model, tokens, latency) and tool call (name, duration), then every
 * schema-flexible field.
 *
 * @example
 * ```ts
 * c.html(renderRun(detail, scope, '1.0.0'));
 * ```
 */
export function renderRun(
  detail: { run: RunView; events: RunEventView[]; truncated: boolean; projectName: string },
  scope: DashboardScope,
  version: string,
): string {
  const { run, events } = detail;
  const origin = run.startedAtMs ?? events[0]?.createdAtMs ?? run.createdAtMs;
  const facts: Array<[string, string]> = [
    ['Status', statusBadge(run.status)],
    ['Customer', `${h(run.customerLabel)} <code class="muted">${h(run.customerId)}</code>`],
    ['Workflow', `${h(run.workflowName)} <code class="muted">${h(run.workflowSlug)}</code>`],
    ['Duration', h(formatDuration(run.durationMs))],
    ['Started', h(formatTime(run.startedAtMs))],
    ['Ended', h(formatTime(run.endedAtMs))],
    ['Events', String(events.length)],
  ];
  const tokenFact = runTokenFact(events);
  if (tokenFact) facts.push([detail.truncated ? 'Tokens (events shown)' : 'Tokens', tokenFact]);
  if (run.externalRunId) facts.push(['External run id', `<code>${h(run.externalRunId)}</code>`]);
  if (run.correlationId) facts.push(['Correlation id', `<code>${h(run.correlationId)}</code>`]);
  if (run.errorMessage || run.errorCode)
    facts.push([
      'Error',
      `<span class="error">${h([run.errorCode, run.errorMessage].filter(Boolean).join(': '))}</span>`,
    ]);
  const factList = facts.map(([k, v]) => `<div><dt>${h(k)}</dt><dd>${v}</dd></div>`).join('');
  const metadata =
    run.metadata && typeof run.metadata === 'object' && Object.keys(run.metadata).length > 0
      ? `<details><summary>Run metadata</summary><pre>${h(JSON.stringify(run.metadata, null, 2))}</pre></details>`
      : '';
  const items = events
    .map((e) => {
      const offset = Math.max(0, e.createdAtMs - origin);
      const meta =
        e.metadata && typeof e.metadata === 'object' && Object.keys(e.metadata).length > 0
          ? `<details><summary>metadata</summary><pre>${h(JSON.stringify(e.metadata, null, 2))}</pre></details>`
          : '';
      // The API defaults a run event's quantity to 1; only a quantity that says something is shown.
      const qty =
        e.quantity !== null && (e.units || Number(e.quantity) !== 1)
          ? `<span class="muted">qty ${h(formatQuantity(e.quantity))}${e.units ? ` ${h(e.units)}` : ''}</span>`
          : '';
      const cost =
        e.costUnits !== null ? ` <span class="muted">cost ${h(formatQuantity(e.costUnits))}</span>` : '';
      return `<li class="event" data-testid="run-event" data-event-type="${h(e.eventType)}">
  <div class="event-time">+${h(formatDuration(offset))}</div>
  <div class="event-body">
    <div><strong class="event-type">${h(e.eventType)}</strong>${e.actionName ? ` <span class="muted">${h(e.actionName)}</span>` : ''} ${statusBadge(e.outcome)} ${qty}${cost}</div>
    ${e.description ? `<div>${h(e.description)}</div>` : ''}
    ${callSummary(e)}
    ${attributeChips(e)}
    ${meta}
    <div class="muted small"><code>${h(e.id)}</code> · ${h(formatTime(e.createdAtMs))}</div>
  </div>
</li>`;
    })
    .join('\n');
  return layout({
    title: `Run ${run.id}`,
    version,
    scope,
    projectName: detail.projectName,
    body: `<p><a href="/">← Overview</a></p>
<section class="card"><h1>Run <code data-testid="run-id">${h(run.id)}</code></h1><dl class="facts">${factList}</dl>${metadata}</section>
<section class="card"><h2>Timeline</h2>${
      events.length === 0
        ? '<p class="empty">This run has no events.</p>'
        : `<ol class="timeline">${items}</ol>`
    }${detail.truncated ? `<p class="muted">Only the first ${events.length} events are shown; <code>GET /v1/runs/${h(run.id)}/timeline</code> pages through all of them.</p>` : ''}</section>`,
  });
}
