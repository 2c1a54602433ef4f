/**
 * The dashboard's problems panel (issue 15): requests the API refused over the last 24 hours, grouped by
 * code, key prefix and customer, so usage a client lost is visible. Rows without a project are requests
 * whose key was unknown (401); they are shown to every project.
 */

import { escapeHtml as h, formatTime } from './format';
import type { DashboardDb } from './queries';
import type { DashboardScope } from './sessions';

/**
 * One group of refused requests.
 *
 * @example
 * ```ts
 * const p: Problem = { status: 401, code: 'UNAUTHORIZED', message: 'Unknown API key', keyPrefix: 'sk_test_abcd…',
 *   customer: null, path: '/usage/internal/bulk', count: 3, lastAtMs: Date.now() };
 * ```
 */
export interface Problem {
  status: number;
  code: string;
  message: string | null;
  keyPrefix: string | null;
  customer: string | null;
  path: string;
  count: number;
  lastAtMs: number;
}

/**
 * Loads the refused requests of the last 24 hours for a project and mode (and the unattributed ones).
 *
 * @example
 * ```ts
 * const problems = await loadProblems(db, { projectId: 'proj_1', mode: 'test' });
 * ```
 */
export async function loadProblems(db: DashboardDb, scope: DashboardScope): Promise<Problem[]> {
  const rows = await db.query<Record<string, unknown>>(
    `SELECT status, code, max(message) AS message, key_prefix, customer, path, sum(items) AS n, max(at) AS last_at
       FROM refused_requests
      WHERE at > now() - interval '1 day'
        AND ((project_id = $1 AND mode = $2) OR project_id IS NULL)
      GROUP BY status, code, key_prefix, customer, path
      ORDER BY max(at) DESC
      LIMIT 50`,
    [scope.projectId, scope.mode],
  );
  return rows.map((r) => ({
    status: Number(r.status),
    code: String(r.code),
    message: r.message === null || r.message === undefined ? null : String(r.message),
    keyPrefix: r.key_prefix === null || r.key_prefix === undefined ? null : String(r.key_prefix),
    customer: r.customer === null || r.customer === undefined ? null : String(r.customer),
    path: String(r.path),
    count: Number(r.n),
    lastAtMs: new Date(r.last_at as string | Date).getTime(),
  }));
}

/**
 * The panel's HTML.
 *
 * @example
 * ```ts
 * const html = renderProblems(await loadProblems(db, scope));
 * ```
 */
export function renderProblems(problems: readonly Problem[]): string {
  if (problems.length === 0) {
    return '<section class="card" data-testid="problems"><h2>Refused requests (last 24 hours)</h2><p class="empty">None: every request in the last 24 hours was accepted.</p></section>';
  }
  const total = problems.reduce((n, p) => n + p.count, 0);
  const rows = problems
    .map(
      (
        p,
      ) => `<tr data-testid="problem-row" data-code="${h(p.code)}"><td><strong>${p.status} ${h(p.code)}</strong>${p.message ? `<br><span class="muted">${h(p.message)}</span>` : ''}</td>
  <td><code>${h(p.keyPrefix ?? '(no key)')}</code></td><td>${h(p.customer ?? '—')}</td><td><code>${h(p.path)}</code></td>
  <td class="num">${p.count.toLocaleString('en-US')}</td><td>${h(formatTime(p.lastAtMs))}</td></tr>`,
    )
    .join('\n');
  return `<section class="card" data-testid="problems"><h2>Refused requests (last 24 hours) <span class="hint">${total.toLocaleString('en-US')} refused; usage in them was not recorded</span></h2>
<table class="data"><thead><tr><th>Code</th><th>Key</th><th>Customer</th><th>Route</th><th class="num">Count</th><th>Last</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}
